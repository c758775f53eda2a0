//! Discovery runs (SPEC §11, last bullet; §10 "unmanaged accounts found"): `alm discover
//! --import` sends what it found; the accounts alm does not manage are kept per domain and
//! objectGUID for a later import (SPEC §6.2, `services::import`).
//!
//! Who may: the holders of `managed-account:update` with `manage`, the same as for an import.
//! A run is checked in full first (alm-core's rules, then its domain); then the run, its
//! accounts and one audit record (counts only, never the account list) are written in one
//! transaction, or nothing is.

use super::audit::{record, Subject};
use super::{denied, Actor, ServiceResult};
use alm_core::dependencies::{self, Source};
use alm_core::discovery::{self, DiscoveryRun, RunFinding, RunReceipt, ValidRun};
use alm_core::paging::PageRequest;
use alm_core::permissions::{perm, Can};
use alm_core::{Clock, DomainId, FieldError};
use alm_store::dependencies as deps;
use alm_store::discovery::{self as store, DiscoveredRecord, RunRecord};
use alm_store::Db;
use serde_json::json;
use time::OffsetDateTime;

/// A DN compared as administrators write it: case and the spaces around commas do not count.
fn dn_key(dn: &str) -> String {
    dn.split(',')
        .map(|part| part.trim().to_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

/// Receives one run: validates it, finds its domain by base DN, stores the unmanaged accounts
/// (new ones inserted, known ones updated), skips the managed ones, audits the counts.
pub async fn receive(
    db: &Db,
    clock: &dyn Clock,
    can: &Can<perm::AccountUpdate>,
    actor: &Actor,
    run: DiscoveryRun,
) -> ServiceResult<RunReceipt> {
    can.require_manage().map_err(denied(can.actor()))?;
    let now = clock.now();
    let ValidRun(run) = discovery::validate(run, now)?;
    let mut tx = db.begin_write().await?;
    let wanted = dn_key(&run.domain.base_dn);
    let matching: Vec<_> = alm_store::domains::list(&mut tx)
        .await?
        .into_iter()
        .filter(|d| dn_key(&d.base_dn) == wanted)
        .collect();
    let domain = match matching.as_slice() {
        [one] => one.id,
        [] => {
            return Err(FieldError::new(
                "domain.base_dn",
                "exists",
                format!(
                    "no alm domain has the base DN {}: add the domain to alm first (Integrations → Domains), with this base DN",
                    run.domain.base_dn
                ),
            )
            .into())
        }
        several => {
            return Err(FieldError::new(
                "domain.base_dn",
                "ambiguous",
                format!(
                    "{} alm domains have the base DN {} ({}); give each domain its own base DN",
                    several.len(),
                    run.domain.base_dn,
                    several.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
            .into())
        }
    };

    let managed = store::managed_guids(&mut tx, domain).await?;
    let known = store::known_guids(&mut tx, domain).await?;
    let (mut new, mut updated, mut skipped) = (0u64, 0u64, 0u64);
    for a in &run.accounts {
        if managed.contains(&a.object_guid) {
            skipped += 1;
        } else if known.contains(&a.object_guid) {
            updated += 1;
        } else {
            new += 1;
        }
    }
    let run_id = alm_core::ids::uuid_v7_at(now);
    let guids: Vec<String> = run.accounts.iter().map(|a| a.object_guid.clone()).collect();
    let known_services = deps::known_host_scan(&mut tx, domain, &guids).await?;
    let changes = dependencies::plan(&run, &known_services);
    store::insert_run(
        &mut tx,
        &RunRecord {
            id: run_id,
            domain_id: domain,
            sent_by: actor.user_id,
            received_at: now,
            scanned_at: run.scanned_at,
            tool_version: run.tool_version.clone(),
            fqdn: run.domain.fqdn.clone(),
            base_dn: run.domain.base_dn.clone(),
            host_scan_complete: run.host_scan_complete,
            received: run.accounts.len() as u64,
            new_accounts: new,
            updated_accounts: updated,
            skipped_managed: skipped,
        },
    )
    .await?;
    for a in run.accounts {
        if managed.contains(&a.object_guid) {
            continue;
        }
        let top_severity = a
            .findings
            .iter()
            .map(|f| discovery::severity_rank(&f.severity))
            .min()
            .unwrap_or(discovery::SEVERITIES.len() as i64);
        let to_json = |v: serde_json::Value| v.to_string();
        let record = DiscoveredRecord {
            domain_id: domain,
            guid: a.object_guid.clone(),
            sam_account_name: a.sam_account_name,
            dn: a.dn,
            sid: a.sid,
            kind: a.kind,
            reasons: to_json(json!(a.reasons)),
            findings: to_json(json!(a.findings)),
            hosts: to_json(json!(a.hosts)),
            top_severity,
            first_seen_at: now,
            last_seen_at: now,
            first_run_id: run_id,
            last_run_id: run_id,
            sent_by: actor.user_id,
        };
        if known.contains(&a.object_guid) {
            store::update_account(&mut tx, &record).await?;
        } else {
            store::insert_account(&mut tx, &record).await?;
        }
    }
    // Where each account runs, managed or not: the host scan's services (SPEC §2.7).
    for gone in &changes.remove {
        deps::remove(&mut tx, domain, Source::HostScan, gone).await?;
    }
    for found in &changes.write {
        deps::write(
            &mut tx,
            domain,
            Source::HostScan,
            found,
            run.scanned_at,
            &run_id.to_string(),
        )
        .await?;
    }
    for guid in &changes.scanned {
        deps::mark_scanned(&mut tx, domain, guid, run.scanned_at).await?;
    }
    let receipt = RunReceipt {
        run_id: run_id.to_string(),
        domain_id: domain.to_string(),
        received: new + updated + skipped,
        stored: new + updated,
        new,
        updated,
        skipped_managed: skipped,
        services_recorded: changes.write.len() as u64,
        services_removed: changes.remove.len() as u64,
    };
    record(
        &mut tx,
        clock,
        actor,
        "discovery.run-received",
        Subject::new("discovery-run", run_id),
        json!({
            "domain_id": domain.to_string(),
            "scanned_at": run.scanned_at.unix_timestamp(),
            "tool_version": run.tool_version,
            "host_scan_complete": run.host_scan_complete,
            "received": receipt.received,
            "new": new,
            "updated": updated,
            "skipped_managed": skipped,
            "services_recorded": receipt.services_recorded,
            "services_removed": receipt.services_removed,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(receipt)
}

/// An unmanaged account as the latest scan that named it saw it.
#[derive(Debug, Clone)]
pub struct DiscoveredAccount {
    pub record: DiscoveredRecord,
    pub reasons: Vec<String>,
    pub findings: Vec<RunFinding>,
    pub hosts: Vec<String>,
    /// Of the run that last named it.
    pub host_scan_complete: bool,
    pub scanned_at: Option<OffsetDateTime>,
}

/// One page of the unmanaged accounts found (managed ones, such as those imported since, are
/// left out); managers only.
pub async fn list(
    db: &Db,
    can: &Can<perm::AccountRead>,
    domain: Option<DomainId>,
    query: Option<&str>,
    page: &PageRequest,
) -> ServiceResult<(Vec<DiscoveredAccount>, u64)> {
    can.require_manage().map_err(denied(can.actor()))?;
    let mut conn = db.read().await?;
    if let Some(d) = domain {
        if alm_store::domains::get(&mut conn, d).await?.is_none() {
            return Err(super::ServiceError::NotFound { what: "domain" });
        }
    }
    let (records, total) = store::page(&mut conn, domain, query, page).await?;
    let mut out = Vec::with_capacity(records.len());
    let mut runs = std::collections::HashMap::new();
    for r in records {
        let corrupt = |what: &str| {
            alm_store::StoreError::Corrupt(format!("discovered account {}: {what}", r.guid))
        };
        let reasons = serde_json::from_str(&r.reasons).map_err(|_| corrupt("reasons"))?;
        let findings = serde_json::from_str(&r.findings).map_err(|_| corrupt("findings"))?;
        let hosts = serde_json::from_str(&r.hosts).map_err(|_| corrupt("hosts"))?;
        // One read per run named on the page (a page usually names one or two runs).
        if let std::collections::hash_map::Entry::Vacant(slot) = runs.entry(r.last_run_id) {
            slot.insert(store::get_run(&mut conn, r.last_run_id).await?);
        }
        let run = runs.get(&r.last_run_id).and_then(Option::as_ref);
        out.push(DiscoveredAccount {
            host_scan_complete: run.is_some_and(|x| x.host_scan_complete),
            scanned_at: run.map(|x| x.scanned_at),
            reasons,
            findings,
            hosts,
            record: r,
        });
    }
    Ok((out, total))
}

#[cfg(test)]
mod tests {
    use super::dn_key;

    #[test]
    fn base_dns_match_whatever_the_case_and_spaces() {
        assert_eq!(
            dn_key("DC=Corp, dc=Example,DC=test"),
            dn_key("dc=corp,DC=example, DC=TEST")
        );
        assert_ne!(dn_key("DC=corp,DC=test"), dn_key("OU=x,DC=corp,DC=test"));
    }
}
