//! The one integration test binary of alm-discover, against the real Samba AD DC that
//! `scripts/test.sh` starts (`ALMTEST_AD_*`) and, for the host scan, its second DC with smbd
//! (`ALMTEST_SMB_*`); missing variables fail the tests, they are never skipped. Each test
//! seeds its own OU with a unique name and scans only that.

mod analysis;
mod cli;
mod host_scan;
mod host_seed;
mod seed;
