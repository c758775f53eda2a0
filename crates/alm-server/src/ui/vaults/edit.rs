//! A vault's add and edit forms, and its deletion with a confirmation. The credential (OpenBao
//! token, AWS secret access key) is write-only: left empty on edit it keeps the stored one,
//! which the service refuses to send to another address, endpoint, region or CA.

use super::*;
use crate::services::vaults::{VaultInput, VaultSettings};
use crate::ui::confirm::ConfirmPage;
use alm_core::Secret;

#[derive(Deserialize, Default)]
pub(super) struct VaultForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    mount: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    ca_pem: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    pool_id: String,
}

impl VaultForm {
    fn of(v: &VaultInfo) -> Self {
        let s = &v.settings;
        let text = |o: &Option<String>| o.clone().unwrap_or_default();
        Self {
            name: v.record.name.clone(),
            kind: v.record.kind.clone(),
            address: text(&s.address),
            mount: text(&s.mount),
            namespace: text(&s.namespace),
            region: text(&s.region),
            access_key_id: text(&s.access_key_id),
            endpoint: text(&s.endpoint),
            ca_pem: text(&s.ca_pem),
            pool_id: v.record.pool_id.map(|p| p.to_string()).unwrap_or_default(),
            ..Self::default()
        }
    }

    /// The service's input. Every setting is sent as the form has it (an emptied field clears
    /// the setting); the built-in vault sends its name only.
    fn input(&self, editing: bool) -> Result<VaultInput, alm_core::FieldError> {
        let pool_id = match self.pool_id.trim() {
            "" => None,
            p => Some(p.parse().map_err(|_| {
                alm_core::FieldError::new("pool_id", "one-of", "choose one of the engine pools")
            })?),
        };
        let builtin = self.kind == KIND_BUILTIN;
        let some = |v: &str| (!builtin).then(|| v.to_owned());
        Ok(VaultInput {
            name: Some(self.name.trim().to_owned()),
            kind: (!editing).then(|| self.kind.clone()),
            settings: VaultSettings {
                address: some(&self.address),
                mount: some(&self.mount),
                namespace: some(&self.namespace),
                region: some(&self.region),
                access_key_id: some(&self.access_key_id),
                endpoint: some(&self.endpoint),
                ca_pem: some(&self.ca_pem),
                // The settings of Azure and Delinea vaults are not on this form yet (API only);
                // `None` keeps what is stored.
                ..VaultSettings::default()
            },
            credential: (!self.credential.is_empty())
                .then(|| Secret::new(self.credential.as_str())),
            pool_id: if builtin { None } else { pool_id },
        })
    }
}

fn fields(f: &VaultForm, editing: bool, pools: Option<Vec<(String, String)>>) -> Form {
    let mut fields = vec![Field::new("name", "Name", Control::Text)
        .hint("As templates and account pages show it.")
        .value(&f.name)];
    if f.kind == KIND_BUILTIN {
        return Form::new(fields);
    }
    if !editing {
        let kinds = [KIND_OPENBAO, KIND_AWS]
            .iter()
            .map(|k| ((*k).to_owned(), kind_label(k).to_owned()))
            .collect();
        fields.push(
            Field::new("kind", "Kind", Control::Select(kinds))
                .hint("Cannot change later.")
                .value(&f.kind),
        );
    }
    let openbao = |id, label, hint: &str, value: &str| {
        Field::new(id, label, Control::Text)
            .hint(format!("OpenBao only. {hint}"))
            .value(value)
    };
    let aws = |id, label, hint: &str, value: &str| {
        Field::new(id, label, Control::Text)
            .hint(format!("AWS only. {hint}"))
            .value(value)
    };
    fields.extend([
        openbao(
            "address",
            "Address",
            "e.g. https://vault.example.com:8200.",
            &f.address,
        ),
        openbao("mount", "KV v2 mount", "Empty: secret.", &f.mount),
        openbao("namespace", "Namespace", "Optional.", &f.namespace),
        aws("region", "Region", "e.g. eu-west-1.", &f.region),
        aws("access_key_id", "Access key id", "", &f.access_key_id),
        aws(
            "endpoint",
            "Endpoint",
            "Optional: another endpoint than AWS's own.",
            &f.endpoint,
        ),
        Field::new("ca_pem", "CA certificate (PEM)", Control::TextArea(5))
            .hint("Optional: the CA that signed the vault's certificate; empty: the system's trusted CAs.")
            .value(&f.ca_pem),
        Field::new("credential", "Token or secret access key", Control::Password).hint(
            if editing {
                "Leave empty to keep the stored one. Required again when the address, endpoint, region or CA changes."
            } else {
                "The OpenBao token or the AWS secret access key. Stored encrypted; never shown again."
            },
        ),
    ]);
    if let Some(pools) = pools {
        fields.push(
            Field::new("pool_id", "Engine pool", Control::Select(pools))
                .hint("The engines of this pool reach the vault for alm.")
                .value(&f.pool_id),
        );
    }
    Form::new(fields)
}

fn target(editing: Option<(VaultId, &str)>) -> Target {
    match editing {
        None => Target {
            title: "Add a vault".into(),
            action: "/vaults/new".into(),
            back: "/vaults".into(),
            button: "Add vault",
        },
        Some((id, name)) => Target {
            title: format!("Edit {name}"),
            action: format!("/vaults/{id}/edit"),
            back: format!("/vaults/{id}"),
            button: "Save changes",
        },
    }
}

pub(super) async fn new_form(State(s): State<AppState>, browser: Browser) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    signed_in.can::<perm::VaultCreate>(&path)?;
    let pools = crate::ui::engines::pool_choices(&s, &signed_in, &path).await?;
    let f = VaultForm {
        kind: KIND_OPENBAO.into(),
        pool_id: pools
            .as_ref()
            .and_then(|p| p.first())
            .map(|p| p.0.clone())
            .unwrap_or_default(),
        ..VaultForm::default()
    };
    let form = fields(&f, false, pools);
    Ok(render(
        StatusCode::OK,
        &FormPage::new(&s, &signed_in, &path, target(None), form).await,
    ))
}

async fn refused(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    f: &VaultForm,
    editing: Option<(VaultId, &str)>,
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
    Posted(f): Posted<VaultForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let can = signed_in.can::<perm::VaultCreate>(&path)?;
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
        Ok(v) => Ok(Redirect::to(&format!("/vaults/{}?done=created", v.record.id)).into_response()),
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
    let id = signed_in.id::<VaultId>(&path, &id)?;
    signed_in.can::<perm::VaultUpdate>(&path)?;
    let read = signed_in.can::<perm::VaultRead>(&path)?;
    let v = svc::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?;
    let pools = crate::ui::engines::pool_choices(&s, &signed_in, &path).await?;
    let form = fields(&VaultForm::of(&v), true, pools);
    Ok(render(
        StatusCode::OK,
        &FormPage::new(
            &s,
            &signed_in,
            &path,
            target(Some((id, &v.record.name))),
            form,
        )
        .await,
    ))
}

pub(super) async fn update(
    State(s): State<AppState>,
    browser: Browser,
    Path(id): Path<String>,
    Posted(mut f): Posted<VaultForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let id = signed_in.id::<VaultId>(&path, &id)?;
    let can = signed_in.can::<perm::VaultUpdate>(&path)?;
    let read = signed_in.can::<perm::VaultRead>(&path)?;
    // The kind is the stored one (the form does not send it): it decides the fields.
    f.kind = svc::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(&signed_in, &path, e))?
        .record
        .kind;
    let editing = Some((id, "vault"));
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
        Ok(_) => Ok(Redirect::to(&format!("/vaults/{id}?done=updated")).into_response()),
        Err(e) => refused(&s, &signed_in, &path, &f, editing, e).await,
    }
}

async fn delete_page(
    s: &AppState,
    signed_in: &SignedIn,
    path: &str,
    id: VaultId,
) -> Result<ConfirmPage, axum::response::Response> {
    let read = signed_in.can::<perm::VaultRead>(path)?;
    let v = svc::get(&s.db, &read, id)
        .await
        .map_err(|e| errors::service(signed_in, path, e))?;
    let name = v.record.name.clone();
    Ok(ConfirmPage {
        chrome: Chrome::new(Some(signed_in), path).with_counts(s).await,
        title: format!("Delete {name}"),
        back: (format!("/vaults/{id}"), name.clone()),
        consequences: vec![
            format!("alm forgets {name}: its settings and stored credential."),
            "The secrets in the vault itself stay where they are.".into(),
        ],
        action: format!("/vaults/{id}/delete"),
        button: "Delete vault".into(),
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
    let id = signed_in.id::<VaultId>(&path, &id)?;
    signed_in.can::<perm::VaultDelete>(&path)?;
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
    let id = signed_in.id::<VaultId>(&path, &id)?;
    let can = signed_in.can::<perm::VaultDelete>(&path)?;
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
        "/vaults?done=deleted",
        delete_page(&s, &signed_in, &path, id),
    )
    .await
}
