//! `alm discover`: hands over to alm-discover. No host scanner is plugged in yet (the SMB +
//! MS-SCMR transport is its own crate); until then the run needs `--no-host-scan`.

use std::process::ExitCode;
use std::sync::Arc;

/// Exit 130 (as after SIGINT) when Ctrl-C stopped the host scan; the reports are written.
pub async fn run(args: alm_discover::DiscoverArgs) -> anyhow::Result<ExitCode> {
    let outcome = alm_discover::run(args, None, Arc::new(alm_core::SystemClock)).await?;
    Ok(if outcome.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}
