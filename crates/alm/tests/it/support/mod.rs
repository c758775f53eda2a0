//! Test fixtures: fresh databases on both backends, an in-process server, an HTTP client.

pub mod ad;
pub mod api;
pub mod browser;
pub mod db;
pub mod dns;
pub mod process;
pub mod receiver;
pub mod relay;
pub mod server;
pub mod smtp;
pub mod world;

pub use api::Api;
pub use db::{Backend, TestDb};
pub use server::TestServer;

/// Declares one async test per backend: `name::sqlite` and `name::postgres`.
macro_rules! on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident: Backend) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($backend: $crate::support::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::support::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::support::Backend::Postgres).await
            }
        }
    };
}
pub(crate) use on_both_backends;
