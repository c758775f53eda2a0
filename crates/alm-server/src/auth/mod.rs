//! Authentication: who is calling. Passwords, session cookies, API tokens, CSRF, login rate
//! limits and OpenID Connect. Authorisation (what they may do) is the capability check in
//! alm-core, made by handlers before they call a service.

pub mod client_addr;
pub mod cookies;
pub mod csrf;
pub mod oidc;
pub mod password;
pub mod principal;
pub mod rate_limit;
pub mod secret_token;
