//! `alm healthcheck`: asks `/readyz` so scripts wait for readiness instead of sleeping.

use std::process::ExitCode;

pub async fn run(url: &str) -> anyhow::Result<ExitCode> {
    let target = format!("{}/readyz", url.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()?;
    match client.get(&target).send().await {
        Ok(r) if r.status().is_success() => {
            println!("ready");
            Ok(ExitCode::SUCCESS)
        }
        Ok(r) => {
            println!(
                "not ready: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            println!("not reachable: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
