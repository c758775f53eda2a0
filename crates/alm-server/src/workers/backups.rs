//! Timed online backups of a SQLite database (`backup.*`): every `backup.interval_hours` the
//! server writes `alm-<UTC time>.db` into `backup.dir` with SQLite's `VACUUM INTO` (readers and
//! writers go on meanwhile) and keeps the newest `backup.keep`. The time comes from the
//! injected clock and is read from the file names, not their modification times, so a copied
//! or touched file does not change the schedule.
//!
//! A copy is written under a `.partial` name and renamed when whole: a crash mid-copy never
//! leaves a file that looks like a backup. PostgreSQL is backed up by its own tools (README).

use crate::state::AppState;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

const PREFIX: &str = "alm-";
const SUFFIX: &str = ".db";

fn name_format() -> &'static [time::format_description::FormatItem<'static>] {
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z")
}

/// The file name of a backup taken at `at`.
pub fn file_name(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{PREFIX}{}{SUFFIX}",
        at.format(name_format()).expect("a fixed format")
    )
}

/// The time a backup's file name records; None for any other file.
pub fn taken_at(name: &str) -> Option<OffsetDateTime> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    PrimitiveDateTime::parse(stamp, name_format())
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

/// Whether a backup is due at `now`, given the times of those kept.
pub fn due(taken: &[OffsetDateTime], now: OffsetDateTime, interval: Duration) -> bool {
    taken
        .iter()
        .max()
        .is_none_or(|newest| now - *newest >= interval)
}

/// Which of the backups (by time) to remove so that the newest `keep` remain.
pub fn to_remove(mut taken: Vec<OffsetDateTime>, keep: usize) -> Vec<OffsetDateTime> {
    taken.sort_unstable_by(|a, b| b.cmp(a));
    taken.split_off(keep.min(taken.len()))
}

/// The backups in `dir`, by time.
fn kept(dir: &Path) -> std::io::Result<Vec<(OffsetDateTime, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(at) = entry.file_name().to_str().and_then(taken_at) {
            found.push((at, entry.path()));
        }
    }
    Ok(found)
}

/// One look: writes a backup when one is due and removes the oldest beyond `keep`. Returns
/// the file written, if any.
pub async fn run_once(state: &AppState) -> anyhow::Result<Option<PathBuf>> {
    use anyhow::Context;
    let settings = &state.config.backup;
    let Some(interval) = state.config.backup_interval() else {
        return Ok(None);
    };
    let dir = state.config.backup_dir();
    alm_store::files::create_private_dir_all(&dir)
        .with_context(|| format!("backup.dir: cannot create {}", dir.display()))?;
    let existing =
        kept(&dir).with_context(|| format!("backup.dir: cannot list {}", dir.display()))?;
    let now = state.clock.now();
    let times: Vec<OffsetDateTime> = existing.iter().map(|(at, _)| *at).collect();
    if !due(&times, now, interval) {
        return Ok(None);
    }
    let target = dir.join(file_name(now));
    let partial = target.with_extension("db.partial");
    let _ = std::fs::remove_file(&partial);
    alm_store::files::create_private_file(&partial)
        .with_context(|| format!("backup.dir: cannot create {}", partial.display()))?;
    if let Err(e) = alm_store::backup::sqlite_copy(&state.db, &partial).await {
        let _ = std::fs::remove_file(&partial);
        return Err(anyhow::anyhow!("the timed backup failed: {e}"));
    }
    std::fs::rename(&partial, &target)
        .with_context(|| format!("cannot move {} to {}", partial.display(), target.display()))?;
    let mut all = times;
    all.push(now);
    for old in to_remove(all, settings.keep as usize) {
        if let Some((_, path)) = existing.iter().find(|(at, _)| *at == old) {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::warn!(file = %path.display(), error = %e, "an old backup could not be removed");
            }
        }
    }
    Ok(Some(target))
}

/// Looks every `backup.check_seconds` for the life of the process.
pub(crate) fn spawn(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    state.config.backup_interval()?;
    let state = state.clone();
    let every = std::time::Duration::from_secs(u64::from(state.config.backup.check_seconds));
    Some(tokio::spawn(async move {
        loop {
            match run_once(&state).await {
                Ok(Some(file)) => tracing::info!(file = %file.display(), "database backed up"),
                Ok(None) => {}
                Err(e) => tracing::error!(error = %format!("{e:#}"), "the timed backup failed"),
            }
            tokio::time::sleep(every).await;
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn names_carry_the_time_and_nothing_else_is_taken_for_a_backup() {
        let at = datetime!(2026-12-04 08:30:05 UTC);
        assert_eq!(file_name(at), "alm-20261204T083005Z.db");
        assert_eq!(taken_at("alm-20261204T083005Z.db"), Some(at));
        for other in [
            "alm.db",
            "alm-20261204T083005Z.db.partial",
            "alm-2026.db",
            "x-20261204T083005Z.db",
        ] {
            assert_eq!(taken_at(other), None, "{other}");
        }
    }

    #[test]
    fn a_backup_is_due_after_the_interval_and_the_newest_are_kept() {
        let t0 = datetime!(2026-12-04 00:00 UTC);
        let day = Duration::hours(24);
        assert!(due(&[], t0, day));
        assert!(!due(&[t0], t0 + Duration::hours(23), day));
        assert!(due(&[t0 - day, t0], t0 + day, day));
        let times = vec![t0, t0 + day, t0 - day, t0 + day * 2];
        assert_eq!(to_remove(times.clone(), 2), vec![t0, t0 - day]);
        assert_eq!(to_remove(times, 7), Vec::<OffsetDateTime>::new());
    }
}
