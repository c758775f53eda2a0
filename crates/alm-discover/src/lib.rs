//! alm-discover: `alm discover`, the standalone service account discovery tool (SPEC §11).
//!
//! Pure analysis (`classify`, `builtin_accounts`, `findings`, `analysis`, `usage`,
//! `gmsa_readers`) is kept apart from the I/O: `directory_reader` reads LDAP, `host_scan`
//! drives a `ServiceLister` transport (`scmr_lister` adapts alm-scmr's SMB + MS-SCMR client to it), `report` writes
//! files, `import` sends the findings to an alm server (`--import`), `cli` talks to the
//! administrator. Credentials and the alm API token live in `Secret`s and never reach a log,
//! a report or an error message.

pub mod account;
pub mod analysis;
pub mod builtin_accounts;
pub mod classify;
pub mod cli;
pub mod directory_reader;
pub mod errors;
pub mod findings;
pub mod gmsa_readers;
pub mod host_credentials;
pub mod host_scan;
pub mod import;
pub mod report;
pub mod scmr_lister;
pub mod settings;
pub mod usage;

pub use cli::{run, DiscoverArgs};
pub use errors::DiscoverError;
pub use host_scan::{HostCredentials, HostError, HostErrorKind, ServiceEntry, ServiceLister};
pub use scmr_lister::ScmrLister;
