//! The objects browser of a domain: what its syncs found (OUs, groups, user accounts, gMSAs
//! and MSAs), searched by name or DN, filtered by kind, sorted and paged like every table.

use super::*;

const KINDS: [(&str, &str); 5] = [
    ("ou", "Organizational units"),
    ("group", "Groups"),
    ("user", "User accounts"),
    ("gmsa", "Group managed service accounts"),
    ("msa", "Managed service accounts"),
];

struct ObjectRow {
    kind: &'static str,
    name: String,
    dn: String,
    enabled: bool,
    synced: (String, String),
}

#[derive(Template)]
#[template(path = "domain_objects.html")]
struct ObjectsPage {
    chrome: Chrome,
    title: String,
    id: DomainId,
    domain: String,
    table: Table,
    kinds: Vec<(&'static str, &'static str, bool)>,
    rows: Vec<ObjectRow>,
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "ou" => "OU",
        "group" => "Group",
        "user" => "User account",
        "gmsa" => "gMSA",
        "msa" => "MSA",
        _ => "Other",
    }
}

pub(super) async fn list(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<DomainId>(&path, &id)?;
    let can = signed_in.can::<perm::DomainRead>(&path)?;
    let base = format!("/domains/{id}/objects");
    let table = Table::parse(
        base,
        &q,
        alm_store::directory_sync::OBJECT_SORT_KEYS,
        "name",
    )
    .map_err(|e| errors::bad_address(&signed_in, &path, &e))?;
    if !table.state.is_empty() && !KINDS.iter().any(|(k, _)| *k == table.state) {
        return Err(errors::bad_address(
            &signed_in,
            &path,
            &alm_core::FieldError::new("state", "one-of", "must be ou, group, user, gmsa or msa")
                .into(),
        ));
    }
    let fail = |e| errors::service(&signed_in, &path, e);
    let d = svc::get(&s.db, &can, id).await.map_err(fail)?;
    let (found, total) = domain_sync::objects(
        &s.db,
        &can,
        id,
        Some(table.state.as_str()).filter(|k| !k.is_empty()),
        Some(table.q.as_str()).filter(|q| !q.is_empty()),
        &table.page,
    )
    .await
    .map_err(fail)?;
    let rows: Vec<ObjectRow> = found
        .iter()
        .map(|o| ObjectRow {
            kind: kind_label(&o.kind),
            name: o.name.clone(),
            dn: o.dn.clone(),
            enabled: o.enabled,
            synced: (iso(o.synced_at), utc(o.synced_at)),
        })
        .collect();
    let page = ObjectsPage {
        chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
        title: format!("Objects found in {}", d.record.name),
        id,
        domain: d.record.name.clone(),
        kinds: KINDS
            .iter()
            .map(|(v, l)| (*v, *l, *v == table.state))
            .collect(),
        table: table.with_counts(total, rows.len()),
        rows,
    };
    Ok(render(StatusCode::OK, &page))
}
