//! The engines' abbreviated logs (SPEC §5): lines sent with heartbeats, bounded per batch and
//! per line, the newest kept.

use super::*;

/// Stores a batch of an engine's log lines, shortened to what a summary needs.
pub async fn append_logs(
    db: &Db,
    engine: &EngineRecord,
    lines: Vec<WireLogLine>,
) -> ServiceResult<()> {
    if lines.len() > MAX_LINES_PER_BATCH {
        return Err(FieldError::new(
            "lines",
            "max-items",
            format!("at most {MAX_LINES_PER_BATCH} lines per batch"),
        )
        .into());
    }
    let lines: Vec<LogLine> = lines
        .into_iter()
        .map(|l| LogLine {
            engine_id: engine.id,
            at: l.at,
            level: match l.level.as_str() {
                "error" | "warn" => l.level,
                _ => "info".into(),
            },
            message: l
                .message
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_LOG_MESSAGE)
                .collect(),
        })
        .collect();
    let mut tx = db.begin_write().await?;
    engines::append_logs(&mut tx, &lines, LOG_LINES_KEPT).await?;
    tx.commit().await?;
    Ok(())
}

/// One page of the engine's log lines (with `query` in the message), and how many match.
pub async fn logs(
    db: &Db,
    can: &Can<perm::EngineRead>,
    id: EngineId,
    query: Option<&str>,
    page: &alm_core::paging::PageRequest,
) -> ServiceResult<(Vec<LogLine>, u64)> {
    let _ = can;
    // A removed engine's lines stay readable (the audit trail of what it did).
    let mut conn = db.read().await?;
    Ok(engines::logs(&mut conn, id, query, page).await?)
}
