//! OAuth 2.0 client credentials against a token endpoint on the receiver: one fetch shared and
//! reused, a new one after expiry (the injected clock moved) and after a 401, and the client
//! secret kept out of every error and Debug output.

use crate::receiver::{Receiver, Reply};
use crate::support::{clock, definition, sender, START};
use alm_core::{Clock, Secret};
use alm_webhook::{
    Authorization, DeliveryErrorKind, OAuthClientCredentials, TokenMap, TokenRequestContentType,
    WebhookDefinition,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const CLIENT_SECRET: &str = "cs-9f8e7d6c5b4a";

fn oauth_definition(
    receiver: &Receiver,
    content_type: TokenRequestContentType,
) -> WebhookDefinition {
    let mut def = definition(receiver.url("/hook"));
    def.authorization = Some(Authorization::OauthClientCredentials(
        OAuthClientCredentials {
            token_url: receiver.url("/token"),
            content_type,
            client_id: "alm-hooks".into(),
            client_secret: Secret::new(CLIENT_SECRET),
            extra: BTreeMap::from([("scope".to_owned(), "hooks.write".to_owned())]),
            token_map: TokenMap::default(),
        },
    ));
    def
}

fn params() -> serde_json::Value {
    json!({"request": {"account_name": "svc-web", "reason": "r", "step": 1}})
}

fn bearers(receiver: &Receiver) -> Vec<String> {
    receiver
        .requests("/hook")
        .iter()
        .map(|r| r.header("authorization").unwrap_or("none").to_owned())
        .collect()
}

#[tokio::test]
async fn a_form_token_is_fetched_once_and_reused() {
    let receiver = Receiver::start().await;
    receiver.script(
        "/token",
        vec![Reply::json(
            json!({"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600}),
        )],
    );
    let def = oauth_definition(&receiver, TokenRequestContentType::Form);
    let sender = sender(clock());
    for n in 1..=3 {
        let outcome = sender
            .send(&def, &params(), &format!("dlv-{n}"), 1, START)
            .await;
        assert!(outcome.delivered(), "{outcome:?}");
    }
    assert_eq!(
        bearers(&receiver),
        ["Bearer tok-1", "Bearer tok-1", "Bearer tok-1"]
    );

    let tokens = receiver.requests("/token");
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].method, "POST");
    assert_eq!(
        tokens[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&tokens[0].body)
        .into_owned()
        .collect();
    assert_eq!(
        form,
        BTreeMap::from([
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("client_id".to_owned(), "alm-hooks".to_owned()),
            ("client_secret".to_owned(), CLIENT_SECRET.to_owned()),
            ("scope".to_owned(), "hooks.write".to_owned()),
        ])
    );
}

#[tokio::test]
async fn a_json_token_with_a_custom_map_is_refetched_after_it_expires() {
    let receiver = Receiver::start().await;
    receiver.script(
        "/token",
        vec![
            Reply::json(json!({"data": {"token": "tok-A", "ttl": "120"}})),
            Reply::json(json!({"data": {"token": "tok-B", "ttl": 120}})),
        ],
    );
    let mut def = oauth_definition(&receiver, TokenRequestContentType::Json);
    if let Some(Authorization::OauthClientCredentials(o)) = &mut def.authorization {
        o.token_map = TokenMap {
            token: "/data/token".into(),
            expires_in: "/data/ttl".into(),
        };
    }
    let clock = clock();
    let sender = sender(clock.clone());

    sender.send(&def, &params(), "dlv-1", 1, clock.now()).await;
    // 120 s lifetime minus the 30 s margin: fresh until START + 90 s.
    clock.advance(time::Duration::seconds(89));
    sender.send(&def, &params(), "dlv-2", 1, clock.now()).await;
    assert_eq!(receiver.requests("/token").len(), 1);
    clock.advance(time::Duration::seconds(1));
    let outcome = sender.send(&def, &params(), "dlv-3", 1, clock.now()).await;
    assert!(outcome.delivered(), "{outcome:?}");

    assert_eq!(
        bearers(&receiver),
        ["Bearer tok-A", "Bearer tok-A", "Bearer tok-B"]
    );
    let tokens = receiver.requests("/token");
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0].header("content-type"), Some("application/json"));
    assert_eq!(
        tokens[0].json(),
        json!({
            "grant_type": "client_credentials",
            "client_id": "alm-hooks",
            "client_secret": CLIENT_SECRET,
            "scope": "hooks.write",
        })
    );
}

#[tokio::test]
async fn a_401_gets_one_new_token_and_one_retry() {
    let receiver = Receiver::start().await;
    receiver.script(
        "/token",
        vec![
            Reply::json(json!({"access_token": "tok-1", "expires_in": 3600})),
            Reply::json(json!({"access_token": "tok-2", "expires_in": 3600})),
        ],
    );
    receiver.script("/hook", vec![Reply::status(401, "token revoked")]);
    let def = oauth_definition(&receiver, TokenRequestContentType::Form);
    let outcome = sender(clock())
        .send(&def, &params(), "dlv-401", 1, START)
        .await;

    assert_eq!(outcome.status, Some(200));
    assert!(outcome.delivered(), "{outcome:?}");
    assert_eq!(bearers(&receiver), ["Bearer tok-1", "Bearer tok-2"]);
    assert_eq!(receiver.requests("/token").len(), 2);
}

#[tokio::test]
async fn a_second_401_is_reported_and_not_retried() {
    let receiver = Receiver::start().await;
    receiver.script(
        "/token",
        vec![
            Reply::json(json!({"access_token": "tok-1", "expires_in": 3600})),
            Reply::json(json!({"access_token": "tok-2", "expires_in": 3600})),
        ],
    );
    receiver.set_default("/hook", Reply::status(401, "who are you"));
    let def = oauth_definition(&receiver, TokenRequestContentType::Form);
    let outcome = sender(clock())
        .send(&def, &params(), "dlv-401", 1, START)
        .await;

    assert_eq!(outcome.status, Some(401));
    assert!(!outcome.retryable);
    assert_eq!(outcome.response_excerpt, "who are you");
    assert_eq!(bearers(&receiver), ["Bearer tok-1", "Bearer tok-2"]);
    assert_eq!(receiver.requests("/token").len(), 2);
}

#[tokio::test]
async fn concurrent_sends_share_one_token_fetch() {
    let receiver = Receiver::start().await;
    receiver.script(
        "/token",
        vec![
            Reply::json(json!({"access_token": "tok-1", "expires_in": 3600}))
                .after(Duration::from_millis(300)),
        ],
    );
    receiver.set_default(
        "/token",
        Reply::json(json!({"access_token": "tok-extra", "expires_in": 3600})),
    );
    let def = Arc::new(oauth_definition(&receiver, TokenRequestContentType::Form));
    let sender = sender(clock());
    let calls: Vec<_> = (0..8)
        .map(|n| {
            let (sender, def) = (sender.clone(), def.clone());
            tokio::spawn(async move {
                sender
                    .send(&def, &params(), &format!("dlv-{n}"), 1, START)
                    .await
            })
        })
        .collect();
    for call in calls {
        let outcome = call.await.unwrap();
        assert!(outcome.delivered(), "{outcome:?}");
    }
    assert_eq!(receiver.requests("/token").len(), 1);
    assert_eq!(bearers(&receiver), vec!["Bearer tok-1".to_owned(); 8]);
}

#[tokio::test]
async fn the_client_secret_never_appears_in_errors_or_debug_output() {
    let receiver = Receiver::start().await;
    receiver.script(
        "/token",
        vec![
            Reply::status(
                401,
                &format!(
                    r#"{{"error": "invalid_client", "detail": "secret {CLIENT_SECRET} is wrong"}}"#
                ),
            ),
            Reply::status(503, &format!("overloaded, retry {CLIENT_SECRET}")),
            Reply::json(json!({"token_is_elsewhere": CLIENT_SECRET})),
        ],
    );
    let def = oauth_definition(&receiver, TokenRequestContentType::Form);
    let sender = sender(clock());

    // Refused client: not retryable; the endpoint's echo of the secret is scrubbed.
    let refused = sender.send(&def, &params(), "dlv-s", 1, START).await;
    assert!(!refused.retryable);
    let error = refused.error.clone().unwrap();
    assert_eq!(error.kind, DeliveryErrorKind::Token);
    assert!(error.message.contains("401"), "{}", error.message);
    assert!(error.message.contains("****"), "{}", error.message);

    // Token endpoint overloaded: retryable.
    let overloaded = sender.send(&def, &params(), "dlv-s", 2, START).await;
    assert!(overloaded.retryable);
    assert_eq!(
        overloaded.error.as_ref().unwrap().kind,
        DeliveryErrorKind::Token
    );

    // No token where the map points: not retryable; keys named, values not.
    let unmapped = sender.send(&def, &params(), "dlv-s", 3, START).await;
    assert!(!unmapped.retryable);
    let message = &unmapped.error.as_ref().unwrap().message;
    assert!(
        message.contains("/access_token") && message.contains("token_is_elsewhere"),
        "{message}"
    );

    // Token endpoint down: retryable.
    let mut down = def.clone();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    if let Some(Authorization::OauthClientCredentials(o)) = &mut down.authorization {
        o.token_url = format!("http://127.0.0.1:{port}/token");
    }
    let unreachable = sender.send(&down, &params(), "dlv-s", 4, START).await;
    assert!(unreachable.retryable);

    assert!(
        receiver.requests("/hook").is_empty(),
        "no call without a token"
    );
    let texts = [
        format!("{refused:?}"),
        serde_json::to_string(&refused).unwrap(),
        format!("{overloaded:?}"),
        format!("{unmapped:?}"),
        format!("{unreachable:?}"),
        format!("{def:?}"),
        format!("{sender:?}"),
    ];
    for text in texts {
        assert!(!text.contains(CLIENT_SECRET), "secret leaked: {text}");
    }
}
