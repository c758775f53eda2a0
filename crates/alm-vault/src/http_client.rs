//! The HTTPS client vaults use: alm's one TLS configuration (rustls with ring, TLS 1.2+, the
//! configured CA or the system's store), and no redirects (a vault answer that redirects
//! elsewhere is refused, not followed).

use crate::error::VaultError;
use std::time::Duration;

pub fn build(ca_pem: Option<&str>, timeout: Duration) -> Result<reqwest::Client, VaultError> {
    let tls = alm_tls::client_config(ca_pem).map_err(|e| VaultError::Config(e.to_string()))?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|e| VaultError::Config(e.to_string()))
}
