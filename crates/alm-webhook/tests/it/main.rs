//! alm-webhook against a real HTTP receiver (`receiver.rs`, real TCP on 127.0.0.1): what
//! arrives (headers, authorization, body, signature), how failures are classified, OAuth
//! client-credentials tokens, and validation.

mod delivery;
mod oauth;
mod receiver;
mod support;
mod tls;
mod validation;
