//! The one integration test binary of alm (one binary: link time is dear on 2 cores).
//!
//! Tests start the real server in-process on a free port, with a fresh database, and talk
//! HTTP to it. Storage-touching tests run twice: on SQLite and on PostgreSQL (the PostgreSQL
//! server comes from `scripts/test.sh`, which exports `ALMTEST_PG_URL`; without it those
//! tests fail with a message saying so, they are never skipped).

mod support;

mod acme;
mod api_clients;
mod audit_chain;
mod backup_restore;
mod bad_input;
mod cli;
mod data_files;
mod dc_discovery;
mod denials;
mod dependencies;
mod directory;
mod discovery;
mod domains;
mod email_events;
mod engine_check;
mod engines;
mod failover;
mod http_limits;
mod https;
mod install;
mod lifecycle;
mod lists;
mod login;
mod master_key;
mod model_lifecycle;
mod notifications;
mod oidc;
mod packaging;
mod people;
mod permission_matrix;
mod privacy;
mod provisioning;
mod provisioning_recovery;
mod readme_routes;
mod replicas;
mod requests;
mod reverse_proxy;
mod secret_destinations;
mod siem;
mod smtp_security;
mod storage;
mod storage_health;
mod sync_writes;
mod templates;
mod ui;
mod ui_admin;
mod ui_api_clients;
mod ui_audit;
mod ui_discovery;
mod ui_integrations;
mod ui_personnel;
mod ui_portal;
mod ui_sign_in;
mod ui_templates;
mod ui_vault_kinds;
mod vault;
mod webhooks;
