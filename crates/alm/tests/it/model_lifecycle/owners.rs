//! The owner steps of a sequence (SPEC §2.7): co-owners and owner groups added, accounts
//! handed over, owners and owner groups disabled by an administrator (orphan protection) or
//! by the directory sync of a user-sync group (orphans listed and alerted), orphans adopted.
//!
//! Decisions where the SPEC is silent: owner changes on deleted accounts are not tried (§4.2
//! leaves only *clone* to a deleted account and says nothing of its owners); someone who does
//! not own an account gets 404 for it (§2.3: it is not among the accounts they can see); an
//! owner group counts as an enabled owner only while it is enabled and has an enabled member
//! (§2.2: a disabled group gives its members nothing), so disabling a group's last enabled
//! member can orphan an account and is refused like disabling a direct owner.

use super::*;

/// Adds `person` as owner of account `i` through `api`; the answer.
async fn add_owner(api: &Api, m: &Model, i: usize, person: &str) -> (u16, Value) {
    api.post(
        &format!("/api/v1/accounts/{}/owners", m.accounts[i].id),
        json!({"user_id": person}),
    )
    .await
}

/// Removes person or group `p` from account `i`'s owners through `api`; the answer.
async fn remove_owner(api: &Api, m: &Model, i: usize, p: usize) -> (u16, Value) {
    let kind = if m.people[p].member.is_some() {
        "group"
    } else {
        "user"
    };
    api.delete(&format!(
        "/api/v1/accounts/{}/owners/{kind}/{}",
        m.accounts[i].id, m.people[p].id
    ))
    .await
}

/// Makes an alm group whose one member is person `member`, adds it as owner of account `i`
/// through `api` (the template allows group owners), and returns its index in the model.
async fn add_group_owner(
    fx: &mut Fixture,
    m: &mut Model,
    api: &Api,
    i: usize,
    member: usize,
) -> Result<usize, String> {
    fx.owners += 1;
    let (st, g) = fx
        .admin
        .post(
            "/api/v1/groups",
            json!({"name": format!("Owners {} {}", fx.tag, fx.owners)}),
        )
        .await;
    ensure(st == 201, format!("an owner group: {st} {g}"))?;
    let gid = g["id"].as_str().unwrap_or_default().to_owned();
    let (st, r) = fx
        .admin
        .post(
            &format!("/api/v1/groups/{gid}/members"),
            json!({"user_id": m.people[member].id}),
        )
        .await;
    ensure(st == 200, format!("the owner group's member: {st} {r}"))?;
    let (st, r) = api
        .post(
            &format!("/api/v1/accounts/{}/owners", m.accounts[i].id),
            json!({"group_id": gid}),
        )
        .await;
    ensure(
        st == 200,
        format!("a group as owner of {}: {st} {r}", m.accounts[i].name),
    )?;
    m.people.push(Person {
        id: gid,
        api: None,
        enabled: true,
        member: Some(member),
    });
    let g = m.people.len() - 1;
    m.accounts[i].owners.push(g);
    m.tell_owner_change(i, g);
    Ok(g)
}

/// Removes every owner of account `i` but `keep` (as an administrator): allowed while `keep`
/// counts as an enabled owner.
async fn leave_only(fx: &Fixture, m: &mut Model, i: usize, keep: usize) -> Result<(), String> {
    for o in m.accounts[i].owners.clone() {
        if o == keep {
            continue;
        }
        let (st, r) = remove_owner(&fx.admin, m, i, o).await;
        ensure(
            st == 200,
            format!(
                "removing an owner of {} while another one is enabled: {st} {r}",
                m.accounts[i].name
            ),
        )?;
        m.accounts[i].owners.retain(|p| *p != o);
        m.tell_owner_change(i, o);
    }
    Ok(())
}

/// [`Op::AddCoOwner`] and [`Op::HandOver`].
pub(super) async fn change(fx: &mut Fixture, m: &mut Model, op: &Op) -> Result<(), String> {
    match op {
        Op::AddCoOwner { account, person } => {
            let Some(i) = m.pick_live(*account, |_| true) else {
                return Ok(());
            };
            let p = match m.co_owners.get(person) {
                Some(p) => *p,
                None => {
                    let (id, api) = fx.new_person().await;
                    m.people.push(Person {
                        id,
                        api: Some(api),
                        enabled: true,
                        member: None,
                    });
                    m.co_owners.insert(*person, m.people.len() - 1);
                    m.people.len() - 1
                }
            };
            let (actor, has_actor) = m.actor_api(i);
            let actor = actor.clone();
            let (st, r) = add_owner(&actor, m, i, &m.people[p].id).await;
            let name = m.accounts[i].name.clone();
            if !has_actor {
                ensure(
                    st == 404,
                    format!("adding an owner to {name} by someone who does not own it: expected 404, got {st} {r}"),
                )?;
                fx.refused(op, &r);
                return Ok(());
            }
            // Within the template's rules (§2.7): an enabled user (§2.1: a disabled one has
            // no access to use), not twice, at most MAX_OWNERS.
            let owners = &m.accounts[i].owners;
            if !m.people[p].enabled || owners.contains(&p) || owners.len() >= MAX_OWNERS {
                ensure(
                    st == 409 || st == 422,
                    format!(
                        "adding {} (enabled {}) to {name}'s {} owner(s) (it owns it: {}): expected a refusal, got {st} {r}",
                        m.people[p].id,
                        m.people[p].enabled,
                        owners.len(),
                        owners.contains(&p)
                    ),
                )?;
                fx.refused(op, &r);
                return Ok(());
            }
            ensure(st == 200, format!("adding a co-owner to {name}: {st} {r}"))?;
            m.accounts[i].owners.push(p);
            m.tell_owner_change(i, p);
            // The co-owner now sees it (§2.3: own accounts).
            let api = m.people[p].api.as_ref().expect("a local person");
            let (st, got) = api
                .get(&format!("/api/v1/accounts/{}", m.accounts[i].id))
                .await;
            ensure(
                st == 200,
                format!("the new co-owner reads {name}: {st} {got}"),
            )?;
            fx.count(op, false);
        }
        Op::HandOver { account } => {
            let Some(i) = m.pick_live(*account, |_| true) else {
                return Ok(());
            };
            let name = m.accounts[i].name.clone();
            let Some((old_owner, old)) = m.actor(i) else {
                // Nobody to hand it over: the case's owner, not an owner, may not.
                let api = m.people[0].api.clone().expect("the owner has a token");
                let (st, r) = add_owner(&api, m, i, &m.people[0].id).await;
                ensure(
                    st == 404,
                    format!("adding an owner to {name} by someone who does not own it: expected 404, got {st} {r}"),
                )?;
                fx.refused(op, &r);
                return Ok(());
            };
            let old_api = m.people[old].api.clone().expect("an actor has a token");
            let (new_id, new_api) = fx.new_person().await;
            let (st, r) = add_owner(&old_api, m, i, &new_id).await;
            if m.accounts[i].owners.len() >= MAX_OWNERS {
                ensure(
                    st == 409,
                    format!("a fourth owner of {name}: expected a refusal, got {st} {r}"),
                )?;
                fx.refused(op, &r);
                return Ok(());
            }
            ensure(
                st == 200,
                format!("handing {name} over: adding the new owner: {st} {r}"),
            )?;
            m.people.push(Person {
                id: new_id,
                api: Some(new_api.clone()),
                enabled: true,
                member: None,
            });
            let new = m.people.len() - 1;
            m.accounts[i].owners.push(new);
            m.tell_owner_change(i, new);
            // The old owner (the person, or the group they act through) leaves: allowed, the
            // new one is enabled (§2.7).
            let (st, r) = remove_owner(&old_api, m, i, old_owner).await;
            ensure(
                st == 200,
                format!("handing {name} over: the old owner leaves: {st} {r}"),
            )?;
            m.accounts[i].owners.retain(|p| *p != old_owner);
            m.tell_owner_change(i, old_owner);
            // The new owner reads it; the old one may no longer see it or act on it (§2.3:
            // an account that is not theirs does not exist for them).
            let id = m.accounts[i].id.clone();
            let (st, got) = new_api.get(&format!("/api/v1/accounts/{id}")).await;
            ensure(st == 200, format!("the new owner reads {name}: {st} {got}"))?;
            let (st, got) = old_api.get(&format!("/api/v1/accounts/{id}")).await;
            ensure(
                st == 404,
                format!("the old owner reads {name} after handing it over: {st} {got}"),
            )?;
            let (st, got) = old_api
                .post(&format!("/api/v1/accounts/{id}/actions/disable"), json!({}))
                .await;
            ensure(
                st == 404,
                format!("the old owner disables {name} after handing it over: expected 404, got {st} {got}"),
            )?;
            fx.count(op, false);
        }
        _ => unreachable!("not an owner change"),
    }
    Ok(())
}

/// [`Op::DisableCoOwner`], [`Op::SyncDisablesOwner`] and [`Op::Adopt`].
pub(super) async fn disable(fx: &mut Fixture, m: &mut Model, op: &Op) -> Result<(), String> {
    match op {
        Op::DisableCoOwner {
            account,
            enable_again,
        } => {
            // An enabled person with a token who owns it, directly or through an owner group
            // (the case's owner aside: `DisableOwner` is theirs).
            let target = |m: &Model, i: usize| {
                m.accounts[i].owners.iter().find_map(|o| {
                    let p = m.people[*o].member.unwrap_or(*o);
                    (p != 0 && m.people[p].enabled && m.people[p].api.is_some()).then_some(p)
                })
            };
            // Mostly an account that has a co-owner to disable already (the refusal needs
            // one whose last enabled owner is not the case's owner: a handed-over account).
            let has_target = m.pick_live(*account, |i| target(m, i).is_some());
            let Some(i) = has_target.filter(|_| *account < 6).or_else(|| {
                m.pick_live(*account, |i| {
                    target(m, i).is_some()
                        || (m.actor(i).is_some() && m.accounts[i].owners.len() < MAX_OWNERS)
                })
            }) else {
                return Ok(());
            };
            let p = match target(m, i) {
                Some(p) => p,
                None => {
                    // No co-owner to disable yet: the acting owner adds one first.
                    let (id, api) = fx.new_person().await;
                    let actor = m.actor_api(i).0.clone();
                    let (st, r) = add_owner(&actor, m, i, &id).await;
                    ensure(
                        st == 200,
                        format!("adding a co-owner to {}: {st} {r}", m.accounts[i].name),
                    )?;
                    m.people.push(Person {
                        id,
                        api: Some(api),
                        enabled: true,
                        member: None,
                    });
                    let p = m.people.len() - 1;
                    m.accounts[i].owners.push(p);
                    m.tell_owner_change(i, p);
                    p
                }
            };
            let allowed = !m.would_orphan(p);
            let pid = m.people[p].id.clone();
            let (st, r) = fx
                .admin
                .post_empty(&format!("/api/v1/users/{pid}/disable"))
                .await;
            if !allowed {
                ensure(
                    st == 409,
                    format!("disabling the last enabled owner of {} must be refused (orphan protection): {st} {r}", m.accounts[i].name),
                )?;
                let (_, u) = fx.admin.get(&format!("/api/v1/users/{pid}")).await;
                ensure(
                    u["enabled"] == true,
                    format!("the refused disable changed nothing: {u}"),
                )?;
                fx.refused(op, &r);
                return Ok(());
            }
            ensure(
                st == 200,
                format!(
                    "disabling a co-owner of {} while another owner is enabled: {st} {r}",
                    m.accounts[i].name
                ),
            )?;
            m.people[p].enabled = false;
            let api = m.people[p].api.as_ref().expect("a local person");
            let (st, me) = api.get("/api/v1/me").await;
            ensure(
                st == 401 || st == 403,
                format!("a disabled user's token stops working: {st} {me}"),
            )?;
            if *enable_again {
                let (st, r) = fx
                    .admin
                    .post_empty(&format!("/api/v1/users/{pid}/enable"))
                    .await;
                ensure(st == 200, format!("enabling the co-owner again: {st} {r}"))?;
                m.people[p].enabled = true;
            }
            fx.count(op, false);
        }
        Op::SyncDisablesOwner {
            account,
            alone,
            deleted,
            via_group,
        } => {
            let Some(i) = m.pick_live(*account, |i| {
                m.actor(i).is_some() && m.accounts[i].owners.len() < MAX_OWNERS
            }) else {
                return Ok(());
            };
            let name = m.accounts[i].name.clone();
            let (sid, dn) = fx.synced_person().await?;
            m.people.push(Person {
                id: sid.clone(),
                api: None,
                enabled: true,
                member: None,
            });
            let s = m.people.len() - 1;
            let actor = m.actor_api(i).0.clone();
            let owner = if *via_group {
                add_group_owner(fx, m, &actor, i, s).await?
            } else {
                let (st, r) = add_owner(&actor, m, i, &sid).await;
                ensure(
                    st == 200,
                    format!("a synced person as co-owner of {name}: {st} {r}"),
                )?;
                m.accounts[i].owners.push(s);
                m.tell_owner_change(i, s);
                s
            };
            if *alone {
                leave_only(fx, m, i, owner).await?;
            }
            // The person leaves the directory (SPEC §6.3: removed or disabled there), and
            // the next sync disables them in alm.
            if *deleted {
                fx.dir
                    .delete(&dn)
                    .await
                    .map_err(|e| format!("deleting {dn} in Samba: {e}"))?;
            } else {
                fx.dir
                    .set_enabled(&dn, false)
                    .await
                    .map_err(|e| format!("disabling {dn} in Samba: {e}"))?;
            }
            let run = fx.sync_domain().await?;
            ensure(
                run["users_disabled"] == 1,
                format!(
                    "the sync after {} left the directory disables them in alm: {run}",
                    if *deleted {
                        "a deleted person"
                    } else {
                        "a disabled person"
                    }
                ),
            )?;
            let (_, u) = fx.admin.get(&format!("/api/v1/users/{sid}")).await;
            ensure(
                u["enabled"] == false,
                format!("the synced person is disabled in alm: {u}"),
            )?;
            m.people[s].enabled = false;
            for j in 0..m.accounts.len() {
                if m.involves(j, s) && m.orphaned(j) {
                    m.accounts[j].orphan_alerts += 1;
                }
            }
            fx.count(op, false);
        }
        Op::Adopt => {
            let Some(i) = (0..m.accounts.len()).find(|i| m.orphaned(*i)) else {
                return Ok(());
            };
            let name = m.accounts[i].name.clone();
            let (st, r) = add_owner(&fx.admin, m, i, &m.people[0].id).await;
            if m.accounts[i].owners.len() >= MAX_OWNERS {
                ensure(
                    st == 409,
                    format!(
                        "a fourth owner of the orphaned {name}: expected a refusal, got {st} {r}"
                    ),
                )?;
                fx.refused(op, &r);
                return Ok(());
            }
            ensure(
                st == 200,
                format!("an administrator names a new owner of the orphaned {name}: {st} {r}"),
            )?;
            m.accounts[i].owners.push(0);
            m.tell_owner_change(i, 0);
            fx.count(op, false);
        }
        Op::AddGroupOwner { account, alone } => {
            let Some(i) = m.pick_live(*account, |i| {
                m.actor(i).is_some() && m.accounts[i].owners.len() < MAX_OWNERS
            }) else {
                return Ok(());
            };
            let (id, api) = fx.new_person().await;
            m.people.push(Person {
                id,
                api: Some(api.clone()),
                enabled: true,
                member: None,
            });
            let member = m.people.len() - 1;
            let actor = m.actor_api(i).0.clone();
            let g = add_group_owner(fx, m, &actor, i, member).await?;
            if *alone {
                leave_only(fx, m, i, g).await?;
            }
            // Its member owns it through the group (§2.3).
            let (st, got) = api
                .get(&format!("/api/v1/accounts/{}", m.accounts[i].id))
                .await;
            ensure(
                st == 200,
                format!(
                    "an owner group's member reads {}: {st} {got}",
                    m.accounts[i].name
                ),
            )?;
            fx.count(op, false);
        }
        Op::DisableGroup {
            account,
            enable_again,
        } => {
            let group = |m: &Model, i: usize| {
                m.accounts[i]
                    .owners
                    .iter()
                    .copied()
                    .find(|o| m.people[*o].member.is_some() && m.people[*o].enabled)
            };
            let (i, g) = match m.pick_live(*account, |i| group(m, i).is_some()) {
                Some(i) => (i, group(m, i).expect("picked for it")),
                None => {
                    // No owner group yet: the acting owner of an account adds one first.
                    let Some(i) = m.pick_live(*account, |i| {
                        m.actor(i).is_some() && m.accounts[i].owners.len() < MAX_OWNERS
                    }) else {
                        return Ok(());
                    };
                    let (id, api) = fx.new_person().await;
                    m.people.push(Person {
                        id,
                        api: Some(api),
                        enabled: true,
                        member: None,
                    });
                    let member = m.people.len() - 1;
                    let actor = m.actor_api(i).0.clone();
                    (i, add_group_owner(fx, m, &actor, i, member).await?)
                }
            };
            let gid = m.people[g].id.clone();
            let allowed = !m.would_orphan(g);
            let (st, r) = fx
                .admin
                .post_empty(&format!("/api/v1/groups/{gid}/disable"))
                .await;
            if !allowed {
                ensure(
                    st == 409,
                    format!("disabling the last enabled owner group of {} must be refused (orphan protection): {st} {r}", m.accounts[i].name),
                )?;
                fx.refused(op, &r);
                return Ok(());
            }
            ensure(
                st == 200,
                format!(
                    "disabling an owner group of {} while another owner is enabled: {st} {r}",
                    m.accounts[i].name
                ),
            )?;
            m.people[g].enabled = false;
            // Its member no longer owns the account through it (§2.2).
            let member = m.people[g].member.expect("a group");
            if let Some(api) = m.people[member].api.clone() {
                if m.people[member].enabled {
                    let (st, got) = api
                        .get(&format!("/api/v1/accounts/{}", m.accounts[i].id))
                        .await;
                    ensure(
                        st == 404,
                        format!(
                            "the member of a disabled owner group reads {}: {st} {got}",
                            m.accounts[i].name
                        ),
                    )?;
                }
            }
            if *enable_again {
                let (st, r) = fx
                    .admin
                    .post_empty(&format!("/api/v1/groups/{gid}/enable"))
                    .await;
                ensure(st == 200, format!("enabling the group again: {st} {r}"))?;
                m.people[g].enabled = true;
            }
            fx.count(op, false);
        }
        _ => unreachable!("not an owner disable"),
    }
    Ok(())
}
