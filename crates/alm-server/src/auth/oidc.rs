//! OpenID Connect login: authorization code flow with PKCE (S256), state and nonce.
//!
//! The provider is discovered on first use (and again after a failure), so alm starts even
//! when the provider is briefly unreachable. The HTTP client follows no redirects, which
//! keeps token and discovery requests from being bounced to another host (SSRF).

use crate::config::OidcConfig;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use tokio::sync::Mutex;

type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub struct OidcClient {
    config: OidcConfig,
    redirect_url: String,
    http: openidconnect::reqwest::Client,
    discovered: Mutex<Option<DiscoveredClient>>,
}

/// Where to send the browser, and what to remember until the callback.
pub struct LoginStart {
    pub authorize_url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider could not be reached or answered wrongly: {0}")]
    Provider(String),
    #[error("the identity provider refused the login: {0}")]
    Refused(String),
    #[error("the identity provider's answer failed verification: {0}")]
    Invalid(String),
}

impl OidcClient {
    pub fn new(config: OidcConfig, redirect_url: String) -> anyhow::Result<Self> {
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(15))
            .build()?;
        Ok(Self {
            config,
            redirect_url,
            http,
            discovered: Mutex::new(None),
        })
    }

    async fn client(&self) -> Result<DiscoveredClient, OidcError> {
        let mut slot = self.discovered.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| OidcError::Provider(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                OidcError::Provider(format!("discovery at {} failed: {e}", self.config.issuer))
            })?;
        let redirect = RedirectUrl::new(self.redirect_url.clone())
            .map_err(|e| OidcError::Provider(e.to_string()))?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.clone())),
        )
        .set_redirect_uri(redirect);
        *slot = Some(client.clone());
        Ok(client)
    }

    pub async fn start(&self) -> Result<LoginStart, OidcError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge);
        for s in &self.config.extra_scopes {
            request = request.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(LoginStart {
            authorize_url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code, verifies the ID token (signature, issuer, audience, expiry, nonce)
    /// and returns the email it asserts.
    pub async fn finish(
        &self,
        code: String,
        pkce_verifier: String,
        nonce: String,
    ) -> Result<String, OidcError> {
        let client = self.client().await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| OidcError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Refused(describe_token_error(&e)))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::Invalid("no ID token in the response".into()))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce))
            .map_err(|e| OidcError::Invalid(e.to_string()))?;
        if claims.email_verified() == Some(false) {
            return Err(OidcError::Invalid(
                "the provider says this email address is not verified".into(),
            ));
        }
        let email = claims
            .email()
            .ok_or_else(|| OidcError::Invalid("the ID token carries no email claim".into()))?;
        Ok(email.as_str().to_owned())
    }
}

fn describe_token_error<E: std::error::Error>(e: &E) -> String {
    // The server response may echo the request; keep only the error's own text.
    let mut text = e.to_string();
    if let Some(src) = e.source() {
        text.push_str(": ");
        text.push_str(&src.to_string());
    }
    text.chars().take(300).collect()
}
