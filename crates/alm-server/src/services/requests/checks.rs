//! The checks a request must pass before it is stored or submitted (SPEC §2.5): the template
//! is offered to the caller, the details fit the template, the name and SPNs are free.

use super::*;

/// The published template version the caller may request with, or why not (as a field error).
pub(crate) async fn offered(
    conn: &mut Conn,
    template: Uuid,
    caller: UserId,
) -> ServiceResult<(String, i64, TemplateDefinition)> {
    let refused = |message: &str| -> ServiceError {
        FieldError::new("template_id", "offered", message.to_owned()).into()
    };
    let t = templates::get(conn, template)
        .await?
        .ok_or_else(|| refused("no template has this id"))?;
    let version = match (t.state, t.published_version) {
        (TemplateState::Published, Some(v)) => v,
        _ => return Err(refused("the template is not published")),
    };
    let d = definition(conn, template, version).await?;
    let mine: HashSet<GroupId> = users::group_ids(conn, caller).await?.into_iter().collect();
    if !d.audience_groups.iter().any(|g| mine.contains(g)) {
        return Err(refused(
            "the template is not offered to you (you are in none of its audience groups)",
        ));
    }
    Ok((t.name, version, d))
}

/// Validates the input against the template and the database; returns the full name and
/// the details to store.
pub(crate) async fn checked(
    conn: &mut Conn,
    d: &TemplateDefinition,
    requester: UserId,
    input: &RequestInput,
    this: Uuid,
) -> ServiceResult<(AccountName, RequestDetails)> {
    let mut errors = ValidationErrors::new();
    let name = errors.check(AccountName::requested(
        "account_name",
        &input.account_name,
        d,
    ));
    let mut details = RequestDetails {
        interval: input.interval,
        justification: input.justification.trim().to_owned(),
        description: input.description.trim().to_owned(),
        attributes: input
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.trim().to_owned()))
            .collect(),
        owners: input.owners.clone(),
        ou: input
            .ou
            .clone()
            .unwrap_or_else(|| d.ous.first().cloned().unwrap_or_default()),
        folder: input
            .folder
            .clone()
            .unwrap_or_else(|| d.folders.first().cloned().unwrap_or_default()),
        terms_accepted: input.terms_accepted,
    };
    let known_ous = crate::services::templates::synced_ous(conn, d.domain_id).await?;
    match check_details(d, requester, &details, &known_ous) {
        // Keep the OU as the directory spells it: the DN checked is the DN provisioned.
        Ok(()) => {
            let synced = alm_core::requests::check_ou(d, &details.ou, &known_ous)?;
            details.ou = synced.to_string();
        }
        Err(e) => errors.0.extend(e.0),
    }
    for (i, u) in details.owners.users.iter().enumerate() {
        // An owner is a person (SPEC §2.7): an API client's user owns nothing.
        if !users::get(conn, *u)
            .await?
            .is_some_and(|u| u.enabled && u.source != users::UserSource::ApiClient)
        {
            errors.push(FieldError::new(
                format!("owners.users[{i}]"),
                "exists",
                "no enabled person has this id",
            ));
        }
    }
    for (i, g) in details.owners.groups.iter().enumerate() {
        if !groups::get(conn, *g).await?.is_some_and(|g| g.enabled) {
            errors.push(FieldError::new(
                format!("owners.groups[{i}]"),
                "exists",
                "no enabled group has this id",
            ));
        }
    }
    errors.into_result()?;
    let name = name.expect("checked");
    name_is_free(conn, d, &name, this).await?;
    spns_are_free(conn, d, &name, this).await?;
    Ok((name, details))
}

/// A gMSA's service principal names (the template's, `{name}` filled in) must be unique
/// across requests on the domain (SPEC §2.4): checked against every live request's, so a
/// template with a fixed SPN serves one account at a time and the directory's own refusal at
/// provisioning never has to be the first word.
pub(crate) async fn spns_are_free(
    conn: &mut Conn,
    d: &TemplateDefinition,
    name: &str,
    this: Uuid,
) -> ServiceResult<()> {
    let Some(gmsa) = d.gmsa.as_ref() else {
        return Ok(());
    };
    let (_, mine) = gmsa.for_account(name);
    let mine: std::collections::HashSet<String> = mine.iter().map(|s| s.to_lowercase()).collect();
    if mine.is_empty() {
        return Ok(());
    }
    let mut seen: std::collections::HashMap<
        (Uuid, i64),
        Option<alm_core::templates::GmsaSettings>,
    > = std::collections::HashMap::new();
    for (template, version, other) in store::live_on_domain(conn, d.domain_id, this).await? {
        if let std::collections::hash_map::Entry::Vacant(slot) = seen.entry((template, version)) {
            slot.insert(definition(conn, template, version).await?.gmsa);
        }
        let Some(theirs) = seen.get(&(template, version)).and_then(Option::as_ref) else {
            continue;
        };
        if let Some(clash) = theirs
            .for_account(&other)
            .1
            .into_iter()
            .find(|spn| mine.contains(&spn.to_lowercase()))
        {
            return Err(ServiceError::Conflict(FieldError::new(
                "account_name",
                "unique",
                format!(
                    "the service principal name {clash} is already claimed by the request for {other}; \
                     SPNs must be unique (a template SPN with {{name}} in it is unique per account)"
                ),
            )));
        }
    }
    Ok(())
}

/// No live request and no directory object may already have the name on the domain.
pub(crate) async fn name_is_free(
    conn: &mut Conn,
    d: &TemplateDefinition,
    name: &str,
    this: Uuid,
) -> ServiceResult<()> {
    if store::name_held_by_other(conn, d.domain_id, name, this).await? {
        return Err(ServiceError::Conflict(FieldError::new(
            "account_name",
            "unique",
            format!("{name} is taken by another request on this domain"),
        )));
    }
    if alm_store::accounts::name_in_use(conn, d.domain_id, name).await? {
        return Err(ServiceError::Conflict(FieldError::new(
            "account_name",
            "unique",
            format!("a managed account named {name} exists on this domain"),
        )));
    }
    let in_directory = directory_sync::all_of_kinds(conn, d.domain_id, &["user", "gmsa", "msa"])
        .await?
        .iter()
        .any(|o| {
            o.name.eq_ignore_ascii_case(name)
                || o.name.trim_end_matches('$').eq_ignore_ascii_case(name)
        });
    if in_directory {
        return Err(ServiceError::Conflict(FieldError::new(
            "account_name",
            "unique",
            format!("an account named {name} exists in the directory already"),
        )));
    }
    Ok(())
}
