//! `validate()`: every broken rule is reported with its field, in one answer.

use crate::support::{definition, request_params};
use alm_core::Secret;
use alm_webhook::{
    Authorization, CustomHeader, OAuthClientCredentials, TokenMap, TokenRequestContentType,
    WebhookDefinition,
};
use std::collections::{BTreeMap, BTreeSet};

fn broken(def: &WebhookDefinition) -> BTreeSet<(String, String)> {
    def.validate(&request_params())
        .expect_err("the definition breaks rules")
        .0
        .into_iter()
        .map(|e| (e.field, e.rule))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(f, r)| ((*f).to_owned(), (*r).to_owned()))
        .collect()
}

fn header(name: &str, value: &str) -> CustomHeader {
    CustomHeader {
        name: name.into(),
        value: value.into(),
    }
}

#[test]
fn a_good_definition_passes() {
    let mut def = definition("https://hooks.example.com/alm".into());
    assert_eq!(def.validate(&request_params()), Ok(()));
    def.url = "http://127.0.0.1:8080/alm".into();
    def.headers = vec![header("X-Api-Version", "2")];
    def.authorization = Some(Authorization::Basic {
        username: "svc".into(),
        password: Secret::new("pw"),
    });
    assert_eq!(def.validate(&request_params()), Ok(()));
}

#[test]
fn every_bad_field_is_named_with_its_rule() {
    let mut def = definition("http://hooks.example.com/alm".into());
    def.description = "d".repeat(501);
    def.event = " ".into();
    def.body_template = r#"{"a": "{{request.account_name}}", "b": "{{request.nope}}"}"#.into();
    def.content_type = "json".into();
    def.headers = vec![
        header("bad header", "x"),
        header("Authorization", "Bearer x"),
        header("X-Alm-Signature", "t=1,v1=00"),
        header("Content-Length", "5"),
        header("Host", "other.example.com"),
        header("X-Ok", "line\nbreak"),
        header("X-Dup", "1"),
        header("x-dup", "2"),
    ];
    def.signing_secret = Secret::new("short");
    def.authorization = Some(Authorization::OauthClientCredentials(
        OAuthClientCredentials {
            token_url: "".into(),
            content_type: TokenRequestContentType::Form,
            client_id: "".into(),
            client_secret: Secret::new(""),
            extra: BTreeMap::from([("grant_type".to_owned(), "password".to_owned())]),
            token_map: TokenMap {
                token: "access_token".into(),
                expires_in: "".into(),
            },
        },
    ));
    assert_eq!(
        broken(&def),
        pairs(&[
            ("description", "max-length"),
            ("event", "required"),
            ("url", "https-required"),
            ("body_template", "unknown-parameter"),
            ("content_type", "format"),
            ("headers[0].name", "format"),
            ("headers[1].name", "reserved"),
            ("headers[2].name", "reserved"),
            ("headers[3].name", "reserved"),
            ("headers[4].name", "reserved"),
            ("headers[5].value", "format"),
            ("headers[7].name", "unique"),
            ("signing_secret", "min-length"),
            ("authorization.token_url", "required"),
            ("authorization.client_id", "required"),
            ("authorization.client_secret", "required"),
            ("authorization.extra.grant_type", "reserved"),
            ("authorization.token_map.token", "format"),
        ])
    );
    let message = def.validate(&request_params()).unwrap_err().to_string();
    assert!(message.contains("request.nope"), "{message}");
}

#[test]
fn more_broken_rules_are_named() {
    let mut def = definition("ftp://hooks.example.com/alm".into());
    def.body_template = r#"{"a": {{request.account_name}"#.into();
    def.authorization = Some(Authorization::Basic {
        username: "svc:hooks".into(),
        password: Secret::new(""),
    });
    assert_eq!(
        broken(&def),
        pairs(&[
            ("url", "format"),
            ("body_template", "json"),
            ("authorization.username", "format"),
            ("authorization.password", "required"),
        ])
    );

    let mut def = definition("https://user:pw@hooks.example.com/alm".into());
    def.authorization = Some(Authorization::OauthClientCredentials(
        OAuthClientCredentials {
            token_url: "http://idp.example.com/token".into(),
            content_type: TokenRequestContentType::Json,
            client_id: "alm".into(),
            client_secret: Secret::new("s"),
            extra: BTreeMap::new(),
            token_map: TokenMap::default(),
        },
    ));
    assert_eq!(
        broken(&def),
        pairs(&[
            ("url", "no-credentials"),
            ("authorization.token_url", "https-required"),
        ])
    );
}

#[test]
fn the_stored_form_round_trips_and_the_redacted_form_hides_secrets() {
    let text = r#"{
        "event": "request.approved",
        "url": "https://hooks.example.com/alm",
        "body_template": "{\"a\": \"{{request.account_name}}\"}",
        "signing_secret": "whsec_0123456789abcdef",
        "authorization": {
            "type": "oauth_client_credentials",
            "token_url": "https://idp.example.com/token",
            "client_id": "alm",
            "client_secret": "cs-secret-value"
        }
    }"#;
    let def: WebhookDefinition = serde_json::from_str(text).unwrap();
    // Defaults: JSON body, enabled, no headers, form token request, the standard token map.
    assert_eq!(def.content_type, "application/json");
    assert!(def.enabled);
    assert!(def.headers.is_empty());
    let Some(Authorization::OauthClientCredentials(o)) = &def.authorization else {
        panic!("oauth expected");
    };
    assert_eq!(o.content_type, TokenRequestContentType::Form);
    assert_eq!(o.token_map.token, "/access_token");
    assert_eq!(o.token_map.expires_in, "/expires_in");
    assert_eq!(def.validate(&request_params()), Ok(()));

    let stored = serde_json::to_string(&def).unwrap();
    let again: WebhookDefinition = serde_json::from_str(&stored).unwrap();
    assert_eq!(again.signing_secret.expose(), "whsec_0123456789abcdef");

    let shown = serde_json::to_string(&def.redacted()).unwrap();
    assert!(
        !shown.contains("cs-secret-value") && !shown.contains("whsec_0123456789abcdef"),
        "{shown}"
    );
    assert!(!format!("{def:?}").contains("cs-secret-value"));
}
