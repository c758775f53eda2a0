//! One step of a sequence against the real system: runs an operation through alm's API (and
//! the test clock), applies it to the model, and says what alm answered when the two disagree.

use super::*;

/// Waits until no job is queued or leased; fails on a failed job.
pub(super) async fn settle(admin: &Api) -> Result<(), String> {
    let deadline = Instant::now() + BOUND;
    loop {
        let (_, queued) = admin.get("/api/v1/jobs?status=queued&limit=500").await;
        let (_, leased) = admin.get("/api/v1/jobs?status=leased&limit=500").await;
        let empty = |v: &Value| v["items"].as_array().is_some_and(|i| i.is_empty());
        if empty(&queued) && empty(&leased) {
            let (_, failed) = admin.get("/api/v1/jobs?status=failed&limit=500").await;
            ensure(empty(&failed), format!("a job failed: {failed}"))?;
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "jobs did not settle within {BOUND:?}: queued {queued}, leased {leased}"
            ));
        }
        tokio::time::sleep(Wait::from_millis(20)).await;
    }
}

/// Approves request `id` through both steps (two of the group, then the final approver);
/// returns the last answer.
async fn approve_all(w: &World, id: &str) -> Result<Value, String> {
    let mut last = Value::Null;
    for api in [&w.approver_apis[0], &w.approver_apis[1], &w.final_api] {
        let (st, r) = api
            .post(&format!("/api/v1/approvals/{id}/approve"), json!({}))
            .await;
        ensure(st == 200, format!("approving {id}: {st} {r}"))?;
        last = r;
    }
    Ok(last)
}

async fn deny(w: &World, id: &str) -> Result<Value, String> {
    let (st, r) = w.approver_apis[0]
        .post(
            &format!("/api/v1/approvals/{id}/deny"),
            json!({"reason": "the model says no"}),
        )
        .await;
    ensure(st == 200, format!("denying {id}: {st} {r}"))?;
    Ok(r)
}

/// Creates and submits a request of `owner` for `name` from the template of `eol`.
async fn submit_request(
    fx: &Fixture,
    owner: &Api,
    eol: Eol,
    interval: Interval,
    name: &str,
) -> Result<Value, String> {
    let (st, r) = owner
        .post(
            "/api/v1/requests",
            json!({"template_id": fx.templates[&eol].id, "account_name": name, "interval": interval.as_str(),
                   "justification": "model-based test", "description": "model-based test",
                   "attributes": {"department": "IT"}, "terms_accepted": true}),
        )
        .await;
    ensure(st == 201, format!("requesting {name}: {st} {r}"))?;
    let id = r["id"].as_str().unwrap_or_default().to_owned();
    let (st, r) = owner
        .post_empty(&format!("/api/v1/requests/{id}/submit"))
        .await;
    ensure(
        st == 200 && r["state"] == "pending-approval",
        format!("submitting {name}: {st} {r}"),
    )?;
    Ok(r)
}

/// Runs one operation against alm and the model.
pub(super) async fn apply(fx: &mut Fixture, m: &mut Model, op: &Op) -> Result<(), String> {
    let now = fx.now();
    let owner_id = m.people[0].id.clone();
    let owner_api = m.people[0].api.clone().expect("the owner has a token");
    let owner_api = &owner_api;
    match op {
        Op::Request {
            eol,
            yearly,
            reuse_name,
        } => {
            // New requests get the published version (§2.4) and its periods.
            let t = &fx.templates[eol];
            let (template, version, window) = (t.id.clone(), t.version, t.window());
            let interval = if *yearly { Interval::Year1 } else { t.short() };
            let base = match (*reuse_name, m.free_names.pop()) {
                (true, Some(n)) => n,
                (_, popped) => {
                    m.free_names.extend(popped);
                    fx.next_name()
                }
            };
            let r = submit_request(fx, owner_api, *eol, interval, &base).await?;
            let id = r["id"].as_str().unwrap_or_default().to_owned();
            let name = r["account_name"].as_str().unwrap_or_default().to_owned();
            ensure(
                name == format!("svc-{base}"),
                format!("the prefix is applied: {r}"),
            )?;
            let last = approve_all(&fx.w, &id).await?;
            ensure(
                last["state"] == "queued-for-provisioning",
                format!("approved at the last step: {last}"),
            )?;
            let deadline = Instant::now() + BOUND;
            loop {
                let (_, r) = fx.admin.get(&format!("/api/v1/requests/{id}")).await;
                match r["state"].as_str() {
                    Some("provisioned") => break,
                    Some("provisioning-failed" | "retrying") => {
                        return Err(format!("provisioning {name} failed: {r}"))
                    }
                    _ if Instant::now() > deadline => {
                        return Err(format!("{name} not provisioned within {BOUND:?}: {r}"))
                    }
                    _ => tokio::time::sleep(Wait::from_millis(20)).await,
                }
            }
            let (_, list) = fx.admin.get(&format!("/api/v1/accounts?q={base}")).await;
            let account = list["items"]
                .as_array()
                .and_then(|i| i.iter().find(|a| a["name"] == name.as_str()))
                .ok_or_else(|| format!("no account {name} after provisioning: {list}"))?;
            // §3 step 4: the lifecycle starts at 00:00 UTC of the provisioning day.
            let start = midnight(now.date());
            let eol_at = midnight(interval.end(start.date()));
            m.requests.push(Request {
                id,
                renewal: false,
                name: name.clone(),
                state: RequestState::Provisioned,
            });
            m.accounts.push(Account {
                id: account["id"].as_str().unwrap_or_default().to_owned(),
                name,
                template,
                version,
                window,
                eol_action: *eol,
                interval,
                start,
                eol: eol_at,
                status: Status::Active,
                status_before: None,
                dir: DirState {
                    present: true,
                    enabled: true,
                    retired: false,
                    expires: (*eol == Eol::Expire).then_some(eol_at),
                },
                eol_runs: Vec::new(),
                renewal: None,
                owners: vec![0],
                orphan_alerts: 0,
            });
            fx.count(op, false);
        }
        Op::RequestDenied { eol } => {
            let base = fx.next_name();
            let short = fx.templates[eol].short();
            let r = submit_request(fx, owner_api, *eol, short, &base).await?;
            let id = r["id"].as_str().unwrap_or_default().to_owned();
            let r = deny(&fx.w, &id).await?;
            ensure(r["state"] == "rejected", format!("denied at step 1: {r}"))?;
            m.requests.push(Request {
                id,
                renewal: false,
                name: format!("svc-{base}"),
                state: RequestState::Rejected,
            });
            m.free_names.push(base);
            fx.count(op, false);
        }
        Op::Renew { account, .. }
        | Op::Disable { account }
        | Op::Enable { account }
        | Op::Delete { account, .. } => {
            let (act, path) = match op {
                Op::Renew { .. } => (Act::Renew, "renew"),
                Op::Disable { .. } => (Act::Disable, "disable"),
                Op::Enable { .. } => (Act::Enable, "enable"),
                _ => (Act::Delete, "delete"),
            };
            let Some(i) = m.pick_for(*account, act) else {
                return Ok(());
            };
            if let Op::Renew {
                at_renewal: true, ..
            } = op
            {
                to_renewal_date(fx, m, i).await?;
            }
            let now = fx.now();
            let (actor, has_actor) = m.actor_api(i);
            let actor = actor.clone();
            let a = &mut m.accounts[i];
            let body = match op {
                Op::Delete { confirm: true, .. } => json!({"confirm": a.name}),
                Op::Delete { confirm: false, .. } => json!({"confirm": "not-its-name"}),
                _ => json!({}),
            };
            let (st, r) = actor
                .post(&format!("/api/v1/accounts/{}/actions/{path}", a.id), body)
                .await;
            if !has_actor {
                // No enabled owner to act: the case's owner, not an owner, may not see it.
                ensure(
                    st == 404,
                    format!(
                        "{path} {} by someone who does not own it: expected 404, got {st} {r}",
                        a.name
                    ),
                )?;
                fx.refused(op, &r);
                return Ok(());
            }
            let allowed = a.allows(act, now);
            if !allowed {
                ensure(
                    st == 409 || st == 422,
                    format!(
                        "{path} {} is not in the table for a {} {} account {} EOL: expected a refusal, got {st} {r}",
                        a.name,
                        a.status.as_str(),
                        a.eol_action.as_str(),
                        if now >= a.eol { "at/after" } else { "before" }
                    ),
                )?;
                fx.refused(op, &r);
                return Ok(());
            }
            if matches!(op, Op::Delete { confirm: false, .. }) {
                ensure(
                    st == 422 && r["errors"][0]["field"] == "confirm",
                    format!("delete with a wrong name: {st} {r}"),
                )?;
                fx.refused(op, &r);
                return Ok(());
            }
            ensure(st == 200, format!("{path} {}: {st} {r}", a.name))?;
            match act {
                Act::Renew => {
                    a.eol = a.renewed_eol();
                    // An account disabled (by its EOL, or its owner) becomes active again.
                    a.dir.enabled = true;
                    a.status = Status::Active;
                }
                Act::Disable => {
                    a.status = Status::Disabled;
                    a.dir.enabled = false;
                }
                Act::Enable => {
                    // An expire account past its EOL is expired once enabled: the directory
                    // refuses it anyway (§4.2 expire).
                    a.status = if a.eol_action == Eol::Expire && now >= a.eol {
                        Status::Expired
                    } else {
                        Status::Active
                    };
                    a.dir.enabled = true;
                }
                Act::Delete => {
                    a.status = Status::Deleted;
                    a.dir.present = false;
                }
                Act::SubmitRenewal | Act::Clone => unreachable!("not these ops"),
            }
            ensure(
                r["status"] == a.status.as_str(),
                format!("{path} {} answers the new status: {r}", a.name),
            )?;
            fx.count(op, false);
        }
        Op::SubmitRenewal {
            account,
            decision,
            at_renewal,
        } => {
            let Some(i) = m.pick_for(*account, Act::SubmitRenewal) else {
                return Ok(());
            };
            if *at_renewal {
                to_renewal_date(fx, m, i).await?;
            }
            let now = fx.now();
            let (actor, has_actor) = m.actor_api(i);
            let actor = actor.clone();
            let a = &m.accounts[i];
            let (st, r) = actor
                .post(
                    &format!("/api/v1/accounts/{}/actions/submit-renewal", a.id),
                    json!({"reason": "the model still needs it"}),
                )
                .await;
            if !has_actor {
                ensure(
                    st == 404,
                    format!("submit-renewal {} by someone who does not own it: expected 404, got {st} {r}", a.name),
                )?;
                fx.refused(op, &r);
                return Ok(());
            }
            if !a.allows(Act::SubmitRenewal, now) {
                ensure(
                    st == 409 || st == 422,
                    format!(
                        "submit-renewal {} ({} {}): expected a refusal, got {st} {r}",
                        a.name,
                        a.status.as_str(),
                        a.eol_action.as_str()
                    ),
                )?;
                fx.refused(op, &r);
                return Ok(());
            }
            ensure(
                st == 200 && r["status"] == "renewing",
                format!("submit-renewal {}: {st} {r}", a.name),
            )?;
            // Looked up by the administrator: an owner who is no requester (a co-owner, a new
            // owner) may submit a renewal (§4.1) but not read requests (§2.3, Account Owner
            // role).
            let (_, waiting) = fx
                .admin
                .get(&format!(
                    "/api/v1/requests?state=pending-approval&limit=100&q={}",
                    a.name
                ))
                .await;
            let rid = waiting["items"]
                .as_array()
                .and_then(|items| items.iter().find(|x| x["account_name"] == a.name.as_str()))
                .and_then(|x| x["id"].as_str())
                .ok_or_else(|| format!("no renewal request of {} waits: {waiting}", a.name))?
                .to_owned();
            let a = &mut m.accounts[i];
            a.status_before = Some(a.status);
            a.status = Status::Renewing;
            a.renewal = Some(m.requests.len());
            m.requests.push(Request {
                id: rid,
                renewal: true,
                name: a.name.clone(),
                state: RequestState::PendingApproval,
            });
            match decision {
                Decision::Approve => decide(fx, m, i, true).await?,
                Decision::Deny => decide(fx, m, i, false).await?,
                Decision::Later => {}
            }
            fx.count(op, false);
        }
        Op::DecideRenewal { approve } => {
            let Some(i) = m.accounts.iter().position(|a| a.renewal.is_some()) else {
                return Ok(());
            };
            decide(fx, m, i, *approve).await?;
            fx.count(op, false);
        }
        Op::DisableOwner => {
            let owns = m.would_orphan(0);
            let (st, r) = fx
                .admin
                .post_empty(&format!("/api/v1/users/{owner_id}/disable"))
                .await;
            if owns {
                ensure(
                    st == 409,
                    format!("disabling the last enabled owner of live accounts must be refused (orphan protection): {st} {r}"),
                )?;
                let (_, u) = fx.admin.get(&format!("/api/v1/users/{owner_id}")).await;
                ensure(
                    u["enabled"] == true,
                    format!("the refused disable changed nothing: {u}"),
                )?;
                fx.refused(op, &r);
            } else {
                ensure(
                    st == 200,
                    format!("disabling an owner of nothing live: {st} {r}"),
                )?;
                m.people[0].enabled = false;
                let (st, me) = owner_api.get("/api/v1/me").await;
                ensure(
                    st == 401 || st == 403,
                    format!("a disabled user's token stops working: {st} {me}"),
                )?;
                let (st, r) = fx
                    .admin
                    .post_empty(&format!("/api/v1/users/{owner_id}/enable"))
                    .await;
                ensure(st == 200, format!("enabling the owner again: {st} {r}"))?;
                m.people[0].enabled = true;
                fx.count(op, false);
            }
        }
        Op::Jump { days, hours } => {
            fx.s.clock
                .advance(Duration::days(i64::from(*days)) + Duration::hours(i64::from(*hours)));
            sweep(fx, m).await?;
            fx.count(op, false);
        }
        Op::JumpTo { account, edge } => {
            let Some(i) = m.pick(*account) else {
                return Ok(());
            };
            let a = &m.accounts[i];
            let target = match edge {
                Edge::RenewalOpens => a.renewal_at(),
                Edge::FirstReminder => a.renewal_at() + Duration::days(REMINDER_EVERY_DAYS),
                Edge::UrgentStarts => a.eol - Duration::days(URGENT_FROM_DAYS),
                Edge::BeforeEol => a.eol - Duration::hours(1),
                Edge::Eol => a.eol,
            };
            if target > now {
                fx.s.clock.set(target);
            }
            sweep(fx, m).await?;
            fx.count(op, false);
        }
        Op::Restart => {
            fx.restart().await;
            fx.count(op, false);
        }
        Op::AddCoOwner { .. } | Op::HandOver { .. } => owners::change(fx, m, op).await?,
        Op::DisableCoOwner { .. }
        | Op::SyncDisablesOwner { .. }
        | Op::Adopt
        | Op::AddGroupOwner { .. }
        | Op::DisableGroup { .. } => owners::disable(fx, m, op).await?,
        Op::NewVersion { eol, variant } => {
            new_version(fx, *eol, usize::from(*variant)).await?;
            fx.count(op, false);
        }
    }
    Ok(())
}

/// Publishes a new version of the template of `eol` whose lifecycle has
/// `VERSION_VARIANTS[variant]` (§2.4: create new version, change the draft, publish).
async fn new_version(fx: &mut Fixture, eol: Eol, variant: usize) -> Result<(), String> {
    let t = &fx.templates[&eol];
    let id = t.id.clone();
    let (st, v) = fx
        .admin
        .post_empty(&format!("/api/v1/templates/{id}/versions"))
        .await;
    ensure(
        st == 201 && v["version"]["number"] == t.version + 1 && v["version"]["state"] == "draft",
        format!(
            "a new version of {} as a draft numbered {}: {st} {v}",
            eol.as_str(),
            t.version + 1
        ),
    )?;
    let mut d = t.definition.clone();
    d["lifecycle"] = lifecycle(variant);
    let (st, v) = fx
        .admin
        .patch(&format!("/api/v1/templates/{id}"), json!({"definition": d}))
        .await;
    ensure(st == 200, format!("changing the draft: {st} {v}"))?;
    let (st, p) = fx
        .admin
        .post_empty(&format!("/api/v1/templates/{id}/publish"))
        .await;
    ensure(
        st == 200 && p["published_version"] == t.version + 1,
        format!("publishing version {}: {st} {p}", t.version + 1),
    )?;
    let t = fx
        .templates
        .get_mut(&eol)
        .expect("a template per EOL action");
    t.version += 1;
    t.variant = variant;
    Ok(())
}

/// Approves or denies the waiting renewal of account `i` (§4.2 submit for approval to renew).
async fn decide(fx: &Fixture, m: &mut Model, i: usize, approve: bool) -> Result<(), String> {
    let a = &mut m.accounts[i];
    let r = a.renewal.take().expect("a renewal waits");
    let id = m.requests[r].id.clone();
    if approve {
        let last = approve_all(&fx.w, &id).await?;
        ensure(
            last["state"] == "approved",
            format!("the renewal of {} approved: {last}", a.name),
        )?;
        // accountExpires and EOL extended by the interval, status active.
        a.eol = a.renewed_eol();
        a.dir.expires = Some(a.eol);
        a.status = Status::Active;
        a.status_before = None;
        m.requests[r].state = RequestState::Approved;
    } else {
        let last = deny(&fx.w, &id).await?;
        ensure(
            last["state"] == "rejected",
            format!("the renewal of {} denied: {last}", a.name),
        )?;
        // Back to the previous status, the option offered again.
        a.status = a.status_before.take().expect("a status before the renewal");
        m.requests[r].state = RequestState::Rejected;
    }
    Ok(())
}

/// Moves the clock to account `i`'s renewal date, if it is ahead, and sweeps.
async fn to_renewal_date(fx: &Fixture, m: &mut Model, i: usize) -> Result<(), String> {
    let at = m.accounts[i].renewal_at();
    if at > fx.now() {
        fx.s.clock.set(at);
        sweep(fx, m).await?;
    }
    Ok(())
}

async fn sweep(fx: &Fixture, m: &mut Model) -> Result<(), String> {
    let (st, report) = fx.admin.post_empty("/api/v1/scheduler/sweep").await;
    ensure(
        st == 200 && report["failed"] == 0,
        format!("sweep at {}: {st} {report}", rfc(fx.now())),
    )?;
    // (The report counts other cases' accounts too: the model's count is not compared.)
    m.sweep(fx.now());
    Ok(())
}
