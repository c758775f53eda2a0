//! *Clone as new request* (SPEC §4.1): a new draft prefilled from an account.

use super::*;
use crate::services::refusal::Refusal;
use alm_core::requests::AccountName;

/// What the caller adds to a clone: everything else comes from the account.
#[derive(Debug, Clone, Default)]
pub struct CloneInput {
    /// A new name (without the template's prefix); the account's own when absent — which only
    /// a deleted account frees (§2.5 name uniqueness).
    pub account_name: Option<String>,
    /// Why the new account is needed; the original request's justification when absent.
    pub justification: Option<String>,
    /// The template's terms, accepted anew by the caller.
    pub terms_accepted: bool,
}

/// *Clone as new request* (§4.1, every column): a new draft by the caller, prefilled from the
/// account — template, interval, description, owners, and the attributes, OU and folder of the
/// request that made it (an imported or migrated account has none: the template's defaults).
/// The draft is checked like any other (name uniqueness included) and, like any draft, is
/// checked against the template's published version (submit does the same), so a clone of an
/// account made under an older version follows the template as it is now.
pub async fn clone_as_request(
    queue: &Queue,
    can_account: &Can<perm::AccountUpdate>,
    can_request: &Can<perm::RequestCreate>,
    actor: &Actor,
    id: Uuid,
    input: CloneInput,
) -> ServiceResult<super::super::requests::RequestInfo> {
    use alm_core::requests::Owners;
    let now = queue.clock.now();
    let mut tx = queue.db.begin_write().await?;
    let a = actionable(&mut tx, can_account, id).await?;
    standing(&mut tx, &a)
        .await?
        .check(Action::Clone, now)
        .map_err(|m| ServiceError::Refused(Refusal::InState(m)))?;
    let original = match a.request_id {
        Some(r) => match alm_store::requests::get(&mut tx, r).await? {
            Some(r) => Some(super::super::requests::details_of(&r)?),
            None => None,
        },
        None => None,
    };
    let d = super::super::requests::definition(&mut tx, a.template_id, a.template_version).await?;
    let mut owners = Owners::default();
    for o in accounts::owners_of(&mut tx, &[a.id])
        .await?
        .remove(&a.id)
        .unwrap_or_default()
    {
        // The caller is the requester, the first owner already; owners disabled since are
        // left out (the draft could not be saved with them, and the caller cannot pick
        // owners here: they edit the draft afterwards).
        match o {
            accounts::Owner::User(u) if u == can_request.actor() => {}
            accounts::Owner::User(u) => {
                if users::get(&mut tx, u).await?.is_some_and(|u| u.enabled) {
                    owners.users.push(u);
                }
            }
            accounts::Owner::Group(g) => {
                if alm_store::groups::get(&mut tx, g)
                    .await?
                    .is_some_and(|g| g.enabled)
                {
                    owners.groups.push(g);
                }
            }
        }
    }
    let name = input
        .account_name
        .unwrap_or_else(|| AccountName::typed_part(&a.name, &d).to_owned());
    let justification = input
        .justification
        .or_else(|| original.as_ref().map(|o| o.justification.clone()))
        .unwrap_or_default();
    let request = super::super::requests::RequestInput {
        template_id: a.template_id,
        account_name: name,
        interval: a.interval,
        justification,
        description: a.description.clone(),
        attributes: original
            .as_ref()
            .map(|o| o.attributes.clone())
            .unwrap_or_default(),
        owners,
        ou: original.as_ref().map(|o| o.ou.clone()),
        folder: original.as_ref().map(|o| o.folder.clone()),
        terms_accepted: input.terms_accepted,
    };
    let r = super::super::requests::create_in(
        &mut tx,
        queue.clock.as_ref(),
        can_request,
        actor,
        request,
        can_request.actor(),
    )
    .await?;
    record(
        &mut tx,
        queue.clock.as_ref(),
        actor,
        "account.clone",
        Subject::new("account", a.id),
        json!({"request_id": r.record.id.to_string()}),
    )
    .await?;
    tx.commit().await?;
    Ok(r)
}
