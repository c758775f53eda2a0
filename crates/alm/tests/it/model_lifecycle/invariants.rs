//! The invariants checked after every step: what the model says against alm's API, its
//! database (EOL audit records, reminder slots, the inbox, owners) and the Samba directory.

use super::*;

async fn db(fx: &Fixture) -> Result<sqlx::AnyConnection, String> {
    sqlx::any::install_default_drivers();
    <sqlx::AnyConnection as sqlx::Connection>::connect(&fx.s.db.url)
        .await
        .map_err(|e| format!("the database: {e}"))
}

fn parse_instant(v: &Value) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(v.as_str()?, &Rfc3339).ok()
}

/// Everything the model says, checked against alm's API, database and the directory.
pub(super) async fn check(fx: &Fixture, m: &Model) -> Result<(), String> {
    use sqlx::Row as _;
    let now = fx.now();
    let mut conn = db(fx).await?;
    let sql = |e: sqlx::Error| format!("query: {e}");

    // Requests: the state the model expects.
    for r in &m.requests {
        let (st, got) = fx.admin.get(&format!("/api/v1/requests/{}", r.id)).await;
        ensure(
            st == 200 && got["state"] == r.state.as_str(),
            format!(
                "request {} of {}: the model says {}, alm {st} {}",
                r.id,
                r.name,
                r.state.as_str(),
                got["state"]
            ),
        )?;
    }
    // A rejected request made no account (unless its name was used again since).
    for r in m
        .requests
        .iter()
        .filter(|r| r.state == RequestState::Rejected)
    {
        let base = r.name.trim_start_matches("svc-");
        let (_, list) = fx.admin.get(&format!("/api/v1/accounts?q={base}")).await;
        for a in list["items"].as_array().into_iter().flatten() {
            ensure(
                a["name"] != r.name.as_str() || m.accounts.iter().any(|x| a["id"] == x.id.as_str()),
                format!("the rejected request {} made an account: {a}", r.name),
            )?;
        }
    }

    for (i, a) in m.accounts.iter().enumerate() {
        // Status, EOL, lifecycle start, renewal date, template version, actions.
        let (st, got) = fx.admin.get(&format!("/api/v1/accounts/{}", a.id)).await;
        ensure(st == 200, format!("account {}: {st} {got}", a.name))?;
        let eol = parse_instant(&got["eol_at"]);
        ensure(
            got["status"] == a.status.as_str() && eol == Some(a.eol),
            format!(
                "account {} ({}, {}): the model says {} with EOL {}, alm {} with EOL {}",
                a.name,
                a.eol_action.as_str(),
                a.interval.as_str(),
                a.status.as_str(),
                rfc(a.eol),
                got["status"],
                got["eol_at"]
            ),
        )?;
        ensure(
            got["template_version"].as_i64().is_some_and(|v| v >= 1)
                && got["template_id"] == a.template.as_str()
                && got["eol_action"] == a.eol_action.as_str()
                && got["interval"] == a.interval.as_str(),
            format!(
                "account {}: template {} version, EOL action, interval: {got}",
                a.name, a.template
            ),
        )?;
        ensure(
            parse_instant(&got["lifecycle_start"]) == Some(a.start)
                && parse_instant(&got["renewal_at"]) == Some(a.renewal_at()),
            format!(
                "account {}: lifecycle start {} and renewal date {} expected: {got}",
                a.name,
                rfc(a.start),
                rfc(a.renewal_at())
            ),
        )?;
        let actions: Vec<&str> = got["available_actions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        ensure(
            actions == a.available(now),
            format!(
                "account {} ({} {}, {} EOL {}): §4.1 offers {:?}, alm {:?}",
                a.name,
                a.status.as_str(),
                a.eol_action.as_str(),
                if now >= a.eol { "at/after" } else { "before" },
                rfc(a.eol),
                a.available(now),
                actions
            ),
        )?;

        // The EOL action: once per EOL instant, never before it (audit account.eol-reached).
        let rows = sqlx::query(
            "SELECT at, summary FROM audit_log WHERE action = 'account.eol-reached' \
             AND object_type = 'account' AND object_id = $1 ORDER BY seq",
        )
        .bind(&a.id)
        .fetch_all(&mut conn)
        .await
        .map_err(sql)?;
        let mut runs = Vec::new();
        for row in &rows {
            let at: i64 = row.try_get(0).map_err(sql)?;
            let summary: String = row.try_get(1).map_err(sql)?;
            let summary: Value = serde_json::from_str(&summary).unwrap_or_default();
            let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1000)
                .map_err(|e| e.to_string())?;
            let for_eol = summary["eol_at"]
                .as_i64()
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                .ok_or_else(|| format!("an eol-reached record without eol_at: {summary}"))?;
            ensure(
                at >= for_eol,
                format!(
                    "{}: the EOL action ran at {} before its instant {}",
                    a.name,
                    rfc(at),
                    rfc(for_eol)
                ),
            )?;
            runs.push((for_eol, at));
        }
        ensure(
            runs == a.eol_runs,
            format!(
                "{} ({}): the EOL action ran (for EOL, at) {:?}; the model says {:?}",
                a.name,
                a.eol_action.as_str(),
                runs.iter()
                    .map(|(e, t)| (rfc(*e), rfc(*t)))
                    .collect::<Vec<_>>(),
                a.eol_runs
                    .iter()
                    .map(|(e, t)| (rfc(*e), rfc(*t)))
                    .collect::<Vec<_>>()
            ),
        )?;

        // Reminders (§4.4): the slots the model expects, each once, each told once.
        let rows =
            sqlx::query("SELECT kind, slot, sent_at FROM account_reminders WHERE account_id = $1")
                .bind(&a.id)
                .fetch_all(&mut conn)
                .await
                .map_err(sql)?;
        let mut sent = BTreeSet::new();
        for row in &rows {
            let key: String = row.try_get(0).map_err(sql)?;
            let slot: i64 = row.try_get(1).map_err(sql)?;
            let at: i64 = row.try_get(2).map_err(sql)?;
            sent.insert((key, slot, at / 1_000_000));
        }
        let expected: BTreeSet<(String, i64, i64)> = m
            .reminders
            .iter()
            .filter(|r| r.0 == i)
            .map(|(_, kind, date, slot, at)| (format!("{kind}:{date}"), *slot, at.unix_timestamp()))
            .collect();
        ensure(
            sent == expected,
            format!(
                "{} ({}): reminders (kind:EOL date, slot, sent at) {:?}; the model says {:?}",
                a.name,
                a.eol_action.as_str(),
                sent,
                expected
            ),
        )?;
        let rows = sqlx::query(
            "SELECT event, COUNT(*) FROM inbox WHERE subject_type = 'account' AND subject_id = $1 \
             AND event IN ('account.requires-renewal', 'account.reminder', 'account.urgent-reminder') \
             GROUP BY event",
        )
        .bind(&a.id)
        .fetch_all(&mut conn)
        .await
        .map_err(sql)?;
        let mut told = BTreeMap::new();
        for row in &rows {
            let event: String = row.try_get(0).map_err(sql)?;
            let n: i64 = row.try_get(1).map_err(sql)?;
            told.insert(event, n);
        }
        let mut want = BTreeMap::new();
        for (kind, ..) in expected.iter() {
            let event = match kind.split(':').next() {
                Some("renewal-open") => "account.requires-renewal",
                Some("reminder") => "account.reminder",
                _ => "account.urgent-reminder",
            };
            *want.entry(event.to_owned()).or_insert(0i64) += 1;
        }
        ensure(
            told == want,
            format!(
                "{}: the owner's inbox has reminders {told:?}, one per slot is {want:?}",
                a.name
            ),
        )?;

        // The directory.
        let entry = fx
            .dir
            .find(&Lookup::SamAccountName(a.name.clone()))
            .await
            .map_err(|e| format!("looking {} up in Samba: {e}", a.name))?;
        match entry {
            None => ensure(
                !a.dir.present,
                format!("{} is missing from the directory", a.name),
            )?,
            Some(e) => {
                ensure(
                    a.dir.present,
                    format!("{} is still in the directory: {}", a.name, e.dn),
                )?;
                let expires = match e.account_expires {
                    alm_core::filetime::AccountExpires::Never => None,
                    alm_core::filetime::AccountExpires::At(t) => Some(t),
                };
                let retired =
                    e.dn.to_lowercase()
                        .ends_with(&format!(",{}", fx.retired.to_lowercase()));
                ensure(
                    (e.enabled(), expires, retired) == (a.dir.enabled, a.dir.expires, a.dir.retired),
                    format!(
                        "{} in Samba (enabled, accountExpires, in the retirement OU) = ({}, {:?}, {retired}); the model says ({}, {:?}, {})",
                        a.name,
                        e.enabled(),
                        expires.map(rfc),
                        a.dir.enabled,
                        a.dir.expires.map(rfc),
                        a.dir.retired
                    ),
                )?;
                ensure(
                    got["dn"] == e.dn.as_str(),
                    format!("alm knows {} at {}, Samba has {}", a.name, got["dn"], e.dn),
                )?;
            }
        }
    }

    // Each (account, kind, slot) once — in the whole database.
    let rows = sqlx::query(
        "SELECT account_id, kind, slot FROM account_reminders GROUP BY account_id, kind, slot \
         HAVING COUNT(*) > 1",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(sql)?;
    ensure(
        rows.is_empty(),
        format!("{} reminder(s) recorded twice", rows.len()),
    )?;
    // No active account without an enabled owner (§2.7 orphan protection) — in the whole
    // database.
    let rows = sqlx::query(
        "SELECT a.name FROM managed_accounts a WHERE a.status = 'active' AND NOT EXISTS ( \
           SELECT 1 FROM account_owners o JOIN users u ON u.id = o.owner_id \
           WHERE o.account_id = a.id AND o.owner_type = 'user' AND u.enabled = 1) \
         AND NOT EXISTS ( \
           SELECT 1 FROM account_owners o JOIN group_members gm ON gm.group_id = o.owner_id \
           JOIN users u ON u.id = gm.user_id \
           WHERE o.account_id = a.id AND o.owner_type = 'group' AND u.enabled = 1)",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(sql)?;
    let orphans: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>(0).ok())
        .collect();
    ensure(
        orphans.is_empty(),
        format!("active accounts without an enabled owner: {orphans:?}"),
    )?;
    ensure(m.owner_enabled, "the owner is left disabled")?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(())
}
