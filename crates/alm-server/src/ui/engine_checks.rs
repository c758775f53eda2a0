//! What each engine of a pool found when it last tried to reach a domain or a vault: the
//! answer of a check just run, or else each engine's latest calibration. One table for the
//! domain and vault pages (`templates/engine_checks.html`).

use super::{iso, utc};
use crate::services::calibration::CheckOutcome;
use alm_store::engines::Calibration;

/// One engine's line.
pub struct EngineLine {
    pub name: String,
    pub ok: bool,
    /// `unreachable`, `tls`, `bad-credentials`, … (empty when it reached the target).
    pub problem: String,
    pub message: String,
    /// When it checked; `None` for a check just run.
    pub at: Option<(String, String)>,
}

/// The lines of a check just run.
pub fn of_check(check: &CheckOutcome) -> Vec<EngineLine> {
    check
        .engines
        .iter()
        .map(|e| EngineLine {
            name: e.engine_name.clone(),
            ok: e.ok,
            problem: e.problem.clone().unwrap_or_default(),
            message: e.message.clone(),
            at: None,
        })
        .collect()
}

/// The lines of the engines' latest calibrations.
pub fn of_calibrations(found: Vec<Calibration>) -> Vec<EngineLine> {
    found
        .into_iter()
        .map(|c| EngineLine {
            name: c.engine_name,
            ok: c.ok,
            problem: c.problem.unwrap_or_default(),
            message: c.message,
            at: Some((iso(c.checked_at), utc(c.checked_at))),
        })
        .collect()
}
