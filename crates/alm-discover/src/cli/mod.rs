//! `alm discover` for people: the options, the questions asked at a terminal, the run from
//! bind to reports, and the run's log file.

pub mod args;
pub mod prompt;
pub mod run;
pub mod run_log;

pub use args::DiscoverArgs;
pub use run::run;
