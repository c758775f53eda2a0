//! alm-notify: what alm tells people (SPEC §7.1–§7.2) and how it reaches them. The event
//! catalogue with each event's parameters, default texts and recipients; rendering of
//! `{{name}}` placeholders; and the SMTP sender. The outbox that makes delivery reliable lives
//! with the server (it owns the database).

pub mod events;
pub mod render;
pub mod smtp;
