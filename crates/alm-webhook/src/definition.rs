//! What a webhook is (SPEC §7.4): the plain data the server stores and edits. No I/O here;
//! rules live in `validation.rs`, sending in `sender.rs`.
//!
//! The serde form carries the secrets (signing secret, basic password, OAuth client secret) in
//! clear, because it is what the server seals at rest and what the API accepts on input. It is
//! never to be logged or returned as is: [`WebhookDefinition::redacted`] gives the form an API
//! may show. `Debug` hides every secret (they are [`alm_core::Secret`]).

use alm_core::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One webhook: which event, where to, what to send and how to authenticate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookDefinition {
    /// Free text for people.
    #[serde(default)]
    pub description: String,
    /// The event key (e.g. `request.approved`); sent as `X-Alm-Event`.
    pub event: String,
    /// `https://…`, or `http://` to a loopback address only.
    pub url: String,
    /// The message body with `{{a.b}}` placeholders (the event's parameters).
    pub body_template: String,
    /// The body's media type; a JSON type (`application/json`, `…+json`) switches on JSON
    /// escaping of the values (see `body.rs`).
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// Extra request headers, in order.
    #[serde(default)]
    pub headers: Vec<CustomHeader>,
    /// The server enqueues calls only for enabled webhooks; `send` itself does not look.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// The key of the `X-Alm-Signature` HMAC; see `signature.rs`.
    #[serde(with = "secret_serde")]
    pub signing_secret: Secret,
    #[serde(default)]
    pub authorization: Option<Authorization>,
}

pub fn default_content_type() -> String {
    "application/json".to_owned()
}

fn enabled_by_default() -> bool {
    true
}

/// One extra header. Values are not secrets in alm's model: an API key belongs in an
/// authorization, where it is sealed and hidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomHeader {
    pub name: String,
    pub value: String,
}

/// How the callback is told who calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Authorization {
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        username: String,
        #[serde(with = "secret_serde")]
        password: Secret,
    },
    /// `Authorization: Bearer <token>`, the token fetched with the OAuth 2.0 client-credentials
    /// grant and cached (see `token_cache.rs`).
    OauthClientCredentials(OAuthClientCredentials),
}

/// The OAuth 2.0 client-credentials grant (RFC 6749 §4.4) as alm sends it: one POST to the
/// token URL with `grant_type=client_credentials`, `client_id`, `client_secret` and the extra
/// values in the body, encoded as the content type says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthClientCredentials {
    pub token_url: String,
    #[serde(default)]
    pub content_type: TokenRequestContentType,
    pub client_id: String,
    #[serde(with = "secret_serde")]
    pub client_secret: Secret,
    /// Extra body values (`scope`, `audience`, `resource`, …).
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    #[serde(default)]
    pub token_map: TokenMap,
}

/// How the token request body is encoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRequestContentType {
    /// `application/x-www-form-urlencoded`, what RFC 6749 prescribes.
    #[default]
    Form,
    /// `application/json`, what some providers want instead.
    Json,
}

/// Where the token and its lifetime are in the (JSON) token response, as JSON pointers
/// (RFC 6901).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMap {
    #[serde(default = "default_token_pointer")]
    pub token: String,
    /// Seconds, a number or a numeric string. An empty pointer, or a response without the
    /// value, means the token is kept for [`crate::token_cache::LIFETIME_WHEN_UNKNOWN`].
    #[serde(default = "default_expires_in_pointer")]
    pub expires_in: String,
}

impl Default for TokenMap {
    fn default() -> Self {
        Self {
            token: default_token_pointer(),
            expires_in: default_expires_in_pointer(),
        }
    }
}

fn default_token_pointer() -> String {
    "/access_token".to_owned()
}

fn default_expires_in_pointer() -> String {
    "/expires_in".to_owned()
}

impl WebhookDefinition {
    /// The secrets this definition holds, to scrub from anything that leaves the sender.
    pub(crate) fn secrets(&self) -> Vec<&Secret> {
        let mut out = vec![&self.signing_secret];
        match &self.authorization {
            Some(Authorization::Basic { password, .. }) => out.push(password),
            Some(Authorization::OauthClientCredentials(o)) => out.push(&o.client_secret),
            None => {}
        }
        out
    }

    /// A copy whose secrets are empty, for showing a definition (API answers, audit
    /// details); the empty values do not pass validation, so it cannot be saved back by mistake.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        copy.signing_secret = Secret::new("");
        match &mut copy.authorization {
            Some(Authorization::Basic { password, .. }) => *password = Secret::new(""),
            Some(Authorization::OauthClientCredentials(o)) => o.client_secret = Secret::new(""),
            None => {}
        }
        copy
    }
}

/// `Secret` as a plain string in the serde form (`Secret` itself has no serde, on purpose).
mod secret_serde {
    use alm_core::Secret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(secret.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}
