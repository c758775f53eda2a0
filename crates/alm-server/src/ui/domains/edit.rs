//! A domain's create and edit forms, and its deletion with a confirmation. The bind password
//! is write-only: the edit form never shows it, and left empty it keeps the stored one (the
//! service refuses to send a kept password to another host, CA or identity).

use super::*;
use crate::services::domains::DomainInput;
use crate::ui::confirm::ConfirmPage;
use crate::ui::form::ticked;
use alm_core::Secret;

#[derive(Deserialize)]
pub(super) struct DomainForm {
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    /// One LDAPS URL per line.
    #[serde(default)]
    failover_urls: String,
    /// `yes` when ticked; absent when not (a browser sends nothing for an unticked box).
    discover_dcs: Option<String>,
    #[serde(default)]
    bind_identity: String,
    #[serde(default)]
    bind_password: String,
    #[serde(default)]
    base_dn: String,
    #[serde(default)]
    ca_pem: String,
    #[serde(default)]
    sync_time: String,
    #[serde(default)]
    pool_id: String,
}

impl DomainForm {
    fn empty() -> Self {
        Self {
            csrf_token: String::new(),
            name: String::new(),
            url: "ldaps://".into(),
            failover_urls: String::new(),
            discover_dcs: None,
            bind_identity: String::new(),
            bind_password: String::new(),
            base_dn: String::new(),
            ca_pem: String::new(),
            sync_time: String::new(),
            pool_id: String::new(),
        }
    }

    fn of(d: &DomainInfo) -> Self {
        let r = &d.record;
        Self {
            csrf_token: String::new(),
            name: r.name.clone(),
            url: r.url.clone(),
            failover_urls: r.failover_urls.join("\n"),
            discover_dcs: r.discover_dcs.then(|| "yes".into()),
            bind_identity: r.bind_identity.clone(),
            bind_password: String::new(),
            base_dn: r.base_dn.clone(),
            ca_pem: r.ca_pem.clone().unwrap_or_default(),
            sync_time: r.sync_time.clone().unwrap_or_default(),
            pool_id: r.pool_id.map(|p| p.to_string()).unwrap_or_default(),
        }
    }

    /// The service's input; `editing` turns empty optional fields into "remove" rather than
    /// "absent", and an empty password into "keep".
    fn input(&self, editing: bool) -> Result<DomainInput, alm_core::FieldError> {
        let text = |v: &str| Some(v.trim().to_owned());
        let optional = |v: &str| {
            let v = v.trim();
            match (v.is_empty(), editing) {
                (false, _) => Some(Some(v.to_owned())),
                (true, true) => Some(None),
                (true, false) => None,
            }
        };
        let pool_id = match self.pool_id.trim() {
            "" => None,
            p => Some(p.parse().map_err(|_| {
                alm_core::FieldError::new("pool_id", "one-of", "choose one of the engine pools")
            })?),
        };
        Ok(DomainInput {
            name: text(&self.name),
            url: text(&self.url),
            // Blank lines are no controller; an emptied box removes them all.
            failover_urls: Some(
                self.failover_urls
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            discover_dcs: Some(ticked(&self.discover_dcs)),
            bind_identity: text(&self.bind_identity),
            bind_password: (!self.bind_password.is_empty())
                .then(|| Secret::new(self.bind_password.as_str())),
            ca_pem: optional(&self.ca_pem),
            base_dn: text(&self.base_dn),
            password_rules: None,
            sync_time: optional(&self.sync_time),
            pool_id,
        })
    }
}

fn fields(f: &DomainForm, editing: bool, pools: Option<Vec<(String, String)>>) -> Form {
    let mut fields = vec![
        Field::new("name", "Name", Control::Text)
            .hint("As people read it in templates and requests, e.g. corp.example.com.")
            .value(&f.name),
        Field::new("url", "Directory address", Control::Text)
            .hint("LDAPS only: ldaps://dc1.corp.example.com or ldaps://dc1.corp.example.com:636.")
            .value(&f.url),
        Field::new("failover_urls", "Other domain controllers", Control::TextArea(3))
            .hint("Optional, one LDAPS address per line, tried in this order when the directory address cannot be reached.")
            .value(&f.failover_urls),
        Field::new("discover_dcs", "Also find domain controllers in DNS", Control::Checkbox)
            .hint("Tried after those above: the controllers DNS lists for the domain the base DN is in (_ldap._tcp.dc._msdcs.<its DC= parts>), on the directory address's port.")
            .checked(ticked(&f.discover_dcs)),
        Field::new("bind_identity", "Bind identity", Control::Text)
            .hint("The account alm's engines bind as: a user principal name or a DN.")
            .value(&f.bind_identity),
        Field::new("bind_password", "Bind password", Control::Password).hint(if editing {
            "Leave empty to keep the stored password. Required again when the address, the CA or the identity changes, a domain controller is added, or finding them in DNS is turned on."
        } else {
            "Stored encrypted; never shown again."
        }),
        Field::new("base_dn", "Base DN", Control::Text)
            .hint("Where syncs read, e.g. DC=corp,DC=example,DC=com.")
            .value(&f.base_dn),
        Field::new("ca_pem", "CA certificate (PEM)", Control::TextArea(6))
            .hint("Optional. The certificate of the CA that signed the directory's certificate; empty: the system's trusted CAs.")
            .value(&f.ca_pem),
        Field::new("sync_time", "Daily sync time (UTC)", Control::Text)
            .hint("Optional, HH:MM, e.g. 02:30. Empty: no scheduled sync.")
            .value(&f.sync_time),
    ];
    if let Some(pools) = pools {
        fields.push(
            Field::new("pool_id", "Engine pool", Control::Select(pools))
                .hint("The engines of this pool reach the directory for alm.")
                .value(&f.pool_id),
        );
    }
    Form::new(fields)
}

fn target(editing: Option<(DomainId, &str)>) -> Target {
    match editing {
        None => Target {
            title: "Add a domain".into(),
            action: "/domains/new".into(),
            back: "/domains".into(),
            button: "Add domain",
        },
        Some((id, name)) => Target {
            title: format!("Edit {name}"),
            action: format!("/domains/{id}/edit"),
            back: format!("/domains/{id}"),
            button: "Save changes",
        },
    }
}

pub(super) async fn new_form(State(s): State<AppState>, browser: Browser) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    signed_in.can::<perm::DomainCreate>(&path)?;
    let mut f = DomainForm::empty();
    let pools = crate::ui::engines::pool_choices(&s, &signed_in, &path).await?;
    if let Some(first) = pools.as_ref().and_then(|p| p.first()) {
        f.pool_id = first.0.clone();
    }
    let form = fields(&f, false, pools);
    Ok(render(
        StatusCode::OK,
        &FormPage::new(&s, &signed_in, &path, target(None), form).await,
    ))
}

/// The form again with the service's errors at their fields; nothing was saved.
async fn refused(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    f: &DomainForm,
    editing: Option<(DomainId, &str)>,
    error: ServiceError,
) -> PageResult {
    let (status, found) = match error {
        ServiceError::Validation(v) => (StatusCode::UNPROCESSABLE_ENTITY, v.0),
        ServiceError::Conflict(c) => (StatusCode::CONFLICT, vec![c]),
        e => return Err(errors::service(signed_in, path, e)),
    };
    let pools = crate::ui::engines::pool_choices(s, signed_in, path).await?;
    let mut form = fields(f, editing.is_some(), pools);
    form.place(found);
    Ok(render(
        status,
        &FormPage::new(s, signed_in, path, target(editing), form).await,
    ))
}

pub(super) async fn create(
    State(s): State<AppState>,
    browser: Browser,
    Posted(f): Posted<DomainForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let can = signed_in.can::<perm::DomainCreate>(&path)?;
    let input = match f.input(false) {
        Ok(i) => i,
        Err(e) => return refused(&s, &signed_in, &path, &f, None, e.into()).await,
    };
    match svc::create(
        &s.db,
        s.clock.as_ref(),
        &s.master_key,
        &can,
        &signed_in.principal.actor,
        input,
    )
    .await
    {
        Ok(d) => {
            Ok(Redirect::to(&format!("/domains/{}?done=created", d.record.id)).into_response())
        }
        Err(e) => refused(&s, &signed_in, &path, &f, None, e).await,
    }
}

pub(super) async fn edit_form(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<DomainId>(&path, &id)?;
    signed_in.can::<perm::DomainUpdate>(&path)?;
    let read = signed_in.can::<perm::DomainRead>(&path)?;
    let d = svc::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let pools = crate::ui::engines::pool_choices(&s, &signed_in, &path).await?;
    let form = fields(&DomainForm::of(&d), true, pools);
    Ok(render(
        StatusCode::OK,
        &FormPage::new(
            &s,
            &signed_in,
            &path,
            target(Some((id, &d.record.name))),
            form,
        )
        .await,
    ))
}

pub(super) async fn update(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Posted(f): Posted<DomainForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<DomainId>(&path, &id)?;
    let can = signed_in.can::<perm::DomainUpdate>(&path)?;
    let editing = Some((id, "domain"));
    let input = match f.input(true) {
        Ok(i) => i,
        Err(e) => return refused(&s, &signed_in, &path, &f, editing, e.into()).await,
    };
    match svc::update(
        &s.db,
        s.clock.as_ref(),
        &s.master_key,
        &can,
        &signed_in.principal.actor,
        id,
        input,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/domains/{id}?done=updated")).into_response()),
        Err(e) => refused(&s, &signed_in, &path, &f, editing, e).await,
    }
}

async fn delete_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: DomainId,
) -> Result<ConfirmPage, axum::response::Response> {
    let read = signed_in.can::<perm::DomainRead>(path)?;
    let d = svc::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    let name = d.record.name.clone();
    Ok(ConfirmPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: format!("Delete {name}"),
        back: (format!("/domains/{id}"), name.clone()),
        consequences: vec![
            format!("alm forgets {name}: its connection, stored password, sync history and the objects its syncs found."),
            "Nothing changes in the directory itself.".into(),
            "Refused while managed accounts live in it or requests for it are in progress: delete or migrate them first.".into(),
        ],
        action: format!("/domains/{id}/delete"),
        button: "Delete domain".into(),
        button_class: "warning",
        csrf_token: signed_in.csrf_token(),
        errors: Vec::new(),
    })
}

pub(super) async fn confirm_delete(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    let id = signed_in.id::<DomainId>(&path, &id)?;
    signed_in.can::<perm::DomainDelete>(&path)?;
    Ok(delete_page(&s, &signed_in, &path, id).await?.show())
}

pub(super) async fn delete(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Posted(f): Posted<crate::ui::form::CsrfOnly>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<DomainId>(&path, &id)?;
    let can = signed_in.can::<perm::DomainDelete>(&path)?;
    let outcome = svc::delete(
        &s.db,
        s.clock.as_ref(),
        &can,
        &signed_in.principal.actor,
        id,
    )
    .await;
    crate::ui::confirm::answer(
        &signed_in,
        &path,
        outcome,
        "/domains?done=deleted",
        delete_page(&s, &signed_in, &path, id),
    )
    .await
}
