//! The invariants checked after every step: what the model says against alm's API, its
//! database (EOL audit records, reminder slots, the inbox, owners, orphan alerts) and the Samba
//! directory.

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

/// The ids of the accounts alm lists as orphaned (SPEC §2.7), every page.
async fn orphan_list(fx: &Fixture) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    loop {
        let (st, page) = fx
            .admin
            .get(&format!(
                "/api/v1/accounts?orphaned=true&limit=500&offset={}",
                out.len()
            ))
            .await;
        ensure(st == 200, format!("the orphaned accounts: {st} {page}"))?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        out.extend(
            items
                .iter()
                .filter_map(|a| a["id"].as_str().map(str::to_owned)),
        );
        if items.is_empty() || page["total"].as_u64() <= Some(out.len() as u64) {
            return Ok(out);
        }
    }
}

/// The account names a "users disabled by sync" text lists as left without an enabled owner
/// (the default texts of §7.2: "…without an enabled owner (N): a, b").
fn orphans_named(body: &str) -> Vec<String> {
    body.lines()
        .find(|l| l.starts_with("Managed accounts left without an enabled owner"))
        .and_then(|l| l.split_once("): "))
        .map(|(_, names)| names.split(", ").map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The active accounts without an enabled owner (an enabled user, or an enabled group with an
/// enabled member) that are not both listed in `orphans` and alerted: id → what is wrong.
async fn unalerted_orphans(
    conn: &mut sqlx::AnyConnection,
    orphans: &BTreeSet<String>,
) -> Result<BTreeMap<String, String>, String> {
    use sqlx::Row as _;
    let sql = |e: sqlx::Error| format!("query: {e}");
    let rows = sqlx::query(
        "SELECT a.id, a.name, (SELECT COUNT(*) FROM audit_log l WHERE l.action = 'account.orphaned' \
           AND l.object_type = 'account' AND l.object_id = a.id) \
         FROM managed_accounts a WHERE a.status = 'active' AND NOT EXISTS ( \
           SELECT 1 FROM account_owners o JOIN users u ON u.id = o.owner_id \
           WHERE o.account_id = a.id AND o.owner_type = 'user' AND u.enabled = 1) \
         AND NOT EXISTS ( \
           SELECT 1 FROM account_owners o JOIN alm_groups g ON g.id = o.owner_id \
           JOIN group_members gm ON gm.group_id = g.id JOIN users u ON u.id = gm.user_id \
           WHERE o.account_id = a.id AND o.owner_type = 'group' AND g.enabled = 1 AND u.enabled = 1)",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(sql)?;
    let mut out = BTreeMap::new();
    for row in &rows {
        let id: String = row.try_get(0).map_err(sql)?;
        let name: String = row.try_get(1).map_err(sql)?;
        let alerted: i64 = row.try_get(2).map_err(sql)?;
        if alerted == 0 || !orphans.contains(&id) {
            let what = format!(
                "{name} (alerted {alerted} time(s), listed {})",
                orphans.contains(&id)
            );
            out.insert(id, what);
        }
    }
    Ok(out)
}

/// The ids of the active accounts left unalerted orphans so far (by earlier sequences).
pub(super) async fn known_unalerted(fx: &Fixture) -> Result<BTreeSet<String>, String> {
    let orphans = orphan_list(fx).await?;
    let mut conn = db(fx).await?;
    let out = unalerted_orphans(&mut conn, &orphans).await?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(out.into_keys().collect())
}

/// Everything the model says, checked against alm's API, database and the directory.
pub(super) async fn check(fx: &Fixture, m: &Model) -> Result<(), String> {
    use sqlx::Row as _;
    let now = fx.now();
    let mut conn = db(fx).await?;
    let sql = |e: sqlx::Error| format!("query: {e}");
    let orphans = orphan_list(fx).await?;
    // The system administrator's "users disabled by sync" alerts (§7.1), inbox and email.
    let mut alerts: Vec<(&str, String)> = Vec::new();
    for row in sqlx::query(
        "SELECT body FROM inbox WHERE user_id = $1 AND event = 'domain.users-disabled-by-sync'",
    )
    .bind(&fx.admin_id)
    .fetch_all(&mut conn)
    .await
    .map_err(sql)?
    {
        alerts.push(("inbox", row.try_get(0).map_err(sql)?));
    }
    for row in sqlx::query(
        "SELECT body FROM outbox WHERE recipient = $1 AND event = 'domain.users-disabled-by-sync'",
    )
    .bind(&fx.admin_email)
    .fetch_all(&mut conn)
    .await
    .map_err(sql)?
    {
        alerts.push(("email", row.try_get(0).map_err(sql)?));
    }

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
        // §2.4: the version it was made from, kept when newer ones are published.
        ensure(
            got["template_version"].as_i64() == Some(a.version)
                && got["template_id"] == a.template.as_str()
                && got["eol_action"] == a.eol_action.as_str()
                && got["interval"] == a.interval.as_str(),
            format!(
                "account {}: template {} version {}, EOL action, interval {} expected: {got}",
                a.name,
                a.template,
                a.version,
                a.interval.as_str()
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
            .map(|(_, kind, date, slot, at, _)| {
                (format!("{kind}:{date}"), *slot, at.unix_timestamp())
            })
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
        for r in m.reminders.iter().filter(|r| r.0 == i && r.5 > 0) {
            let event = match r.1 {
                "renewal-open" => "account.requires-renewal",
                "reminder" => "account.reminder",
                _ => "account.urgent-reminder",
            };
            *want.entry(event.to_owned()).or_insert(0i64) += r.5;
        }
        ensure(
            told == want,
            format!(
                "{}: the owners' inboxes have reminders {told:?}; one per slot and enabled owner is {want:?}",
                a.name
            ),
        )?;

        // Owners (§2.7): who they are and whether they are enabled; each told of every owner
        // change once (§7.1).
        let mut owners: Vec<(String, bool)> = got["owners"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| {
                (
                    format!(
                        "{}:{}",
                        o["kind"].as_str().unwrap_or(""),
                        o["id"].as_str().unwrap_or("")
                    ),
                    o["enabled"] == true,
                )
            })
            .collect();
        owners.sort();
        let mut want: Vec<(String, bool)> = a
            .owners
            .iter()
            .map(|p| {
                let kind = if m.people[*p].member.is_some() {
                    "group"
                } else {
                    "user"
                };
                (format!("{kind}:{}", m.people[*p].id), m.people[*p].enabled)
            })
            .collect();
        want.sort();
        ensure(
            owners == want,
            format!(
                "{}: owners (id, enabled) {owners:?}; the model says {want:?}",
                a.name
            ),
        )?;
        let rows = sqlx::query(
            "SELECT user_id, COUNT(*) FROM inbox WHERE subject_type = 'account' AND subject_id = $1 \
             AND event = 'account.ownership-changed' GROUP BY user_id",
        )
        .bind(&a.id)
        .fetch_all(&mut conn)
        .await
        .map_err(sql)?;
        let mut told = BTreeMap::new();
        for row in &rows {
            let user: String = row.try_get(0).map_err(sql)?;
            let n: i64 = row.try_get(1).map_err(sql)?;
            told.insert(user, n);
        }
        let want: BTreeMap<String, i64> = m
            .owner_told
            .iter()
            .filter(|((acc, _), _)| *acc == i)
            .map(|((_, p), n)| (m.people[*p].id.clone(), *n))
            .collect();
        ensure(
            told == want,
            format!(
                "{}: \"ownership changed\" in the inboxes {told:?}; the model says {want:?}",
                a.name
            ),
        )?;

        // Orphans (§2.7): listed while no enabled owner is left; each time a sync left it so,
        // alerted (an audit alert, and the administrators' inbox and email name it).
        ensure(
            orphans.contains(&a.id) == m.orphaned(i),
            format!(
                "{} ({}): alm lists it as orphaned: {}; the model says {}",
                a.name,
                a.status.as_str(),
                orphans.contains(&a.id),
                m.orphaned(i)
            ),
        )?;
        let row = sqlx::query(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'account.orphaned' \
             AND object_type = 'account' AND object_id = $1",
        )
        .bind(&a.id)
        .fetch_one(&mut conn)
        .await
        .map_err(sql)?;
        let audited: i64 = row.try_get(0).map_err(sql)?;
        for channel in ["inbox", "email"] {
            let named = alerts
                .iter()
                .filter(|(c, body)| *c == channel && orphans_named(body).contains(&a.name))
                .count() as i64;
            ensure(
                (audited, named) == (i64::from(a.orphan_alerts), i64::from(a.orphan_alerts)),
                format!(
                    "{}: orphan alerts in the audit log {audited}, naming it in the administrator's {channel} {named}; the model says {}",
                    a.name, a.orphan_alerts
                ),
            )?;
        }

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
    // No active account without an enabled owner (§2.7 orphan protection), unless it is
    // listed as orphaned and was alerted — in the whole database (but for those an earlier,
    // failed sequence left: the shrunk sequence must be the one that breaks it).
    let unlisted: Vec<String> = unalerted_orphans(&mut conn, &orphans)
        .await?
        .into_iter()
        .filter(|(id, _)| !m.known_unalerted.contains(id))
        .map(|(_, what)| what)
        .collect();
    ensure(
        unlisted.is_empty(),
        format!("active accounts without an enabled owner, not listed as orphaned and alerted: {unlisted:?}"),
    )?;
    ensure(m.people[0].enabled, "the owner is left disabled")?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(())
}
