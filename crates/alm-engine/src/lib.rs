//! alm-engine: the worker that does all directory and vault work (SPEC §5), and the protocol
//! it shares with the server. The same runner serves the engine inside `alm serve` (through a
//! direct transport) and a remote `alm engine` process (over HTTPS).

pub mod account_change;
pub mod check;
pub mod executor;
pub mod http;
pub mod protocol;
pub mod provision;
pub mod runner;
pub mod state_file;
pub mod transport;
pub mod vault_dependencies;

pub use executor::Executor;
pub use transport::{Transport, TransportError};

/// This machine's host name (names the in-process engine and a remote engine by default).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
