//! The one integration test binary of alm-discover, against the real Samba AD DC that
//! `scripts/test.sh` starts (`ALMTEST_AD_*`) and, for the host scan, its second DC with smbd
//! (`ALMTEST_SMB_*`); missing variables fail the tests, they are never skipped. Each test
//! seeds its own OU with a unique name and scans only that (the built-in accounts' test reads
//! CN=Users, where the domain keeps them, and changes nothing). `pdf_summary` needs no peer:
//! it reads the summary back with poppler's tools.

mod analysis;
mod builtin_accounts;
mod cli;
mod host_scan;
mod host_seed;
mod pdf_summary;
mod seed;
