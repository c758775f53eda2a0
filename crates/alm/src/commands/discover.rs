//! `alm discover`: hands over to alm-discover with the real host scanner (alm-scmr's SMB +
//! MS-SCMR client behind `ScmrLister`).

use std::process::ExitCode;
use std::sync::Arc;

/// Exit 130 (as after SIGINT) when Ctrl-C stopped the host scan; the reports are written.
pub async fn run(args: alm_discover::DiscoverArgs) -> anyhow::Result<ExitCode> {
    let outcome = alm_discover::run(
        args,
        Arc::new(alm_discover::ScmrLister),
        Arc::new(alm_core::SystemClock),
    )
    .await?;
    Ok(if outcome.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}
