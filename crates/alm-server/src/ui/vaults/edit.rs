//! A vault's add form (the kind chosen first, then that kind's settings only) and edit form,
//! and its deletion with a confirmation. The credential (OpenBao token, AWS secret access key,
//! client secret, password) is write-only: left empty on edit it keeps the stored one,
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
    tenant_id: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    authority: String,
    #[serde(default)]
    folder_id: String,
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    pool_id: String,
    #[serde(default)]
    sync_time: String,
}

/// The kinds an administrator can add, each with what it is (the chooser's cards).
const ADDABLE: [(&str, &str); 5] = [
    (
        KIND_OPENBAO,
        "A KV version 2 secrets engine, reached with a token.",
    ),
    (
        KIND_AWS,
        "Secrets in one AWS region, reached with an access key.",
    ),
    (
        svc::KIND_AZURE,
        "Secrets of one key vault, reached as an Entra ID application (client credentials).",
    ),
    (
        svc::KIND_SECRET_SERVER,
        "Secrets in one folder, reached as a Secret Server user or with a token.",
    ),
    (
        svc::KIND_DSV,
        "Secrets of one tenant, reached with a client id and secret.",
    ),
];

/// `?kind=` of the add form: one of [`ADDABLE`].
#[derive(Deserialize, Default)]
pub(super) struct KindQuery {
    kind: Option<String>,
}

fn addable(kind: &str) -> Option<&'static str> {
    ADDABLE.iter().map(|(k, _)| *k).find(|k| *k == kind)
}

/// A whole number in a form field, or a field error naming it.
fn number(id: &str, text: &str, what: &str) -> Result<Option<u32>, alm_core::FieldError> {
    match text.trim() {
        "" => Ok(None),
        t => t.parse().map(Some).map_err(|_| {
            alm_core::FieldError::new(id, "format", format!("must be {what}, a whole number"))
        }),
    }
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
            tenant_id: text(&s.tenant_id),
            client_id: text(&s.client_id),
            authority: text(&s.authority),
            folder_id: s.folder_id.map(|n| n.to_string()).unwrap_or_default(),
            template_id: s.template_id.map(|n| n.to_string()).unwrap_or_default(),
            username: text(&s.username),
            sync_time: v.record.sync_time.clone().unwrap_or_default(),
            pool_id: v.record.pool_id.map(|p| p.to_string()).unwrap_or_default(),
            ..Self::default()
        }
    }

    /// The service's input. Every setting of the vault's kind is sent as the form has it (an
    /// emptied field clears the setting); the others are not sent (`None` keeps what is
    /// stored); the built-in vault sends its name only.
    fn input(&self, editing: bool) -> Result<VaultInput, alm_core::FieldError> {
        let pool_id = match self.pool_id.trim() {
            "" => None,
            p => Some(p.parse().map_err(|_| {
                alm_core::FieldError::new("pool_id", "one-of", "choose one of the engine pools")
            })?),
        };
        let builtin = self.kind == KIND_BUILTIN;
        let on_form = |id: &str| kind_fields(&self.kind).contains(&id);
        let text = |id: &str, v: &str| on_form(id).then(|| v.to_owned());
        let settings = VaultSettings {
            address: text("address", &self.address),
            mount: text("mount", &self.mount),
            namespace: text("namespace", &self.namespace),
            region: text("region", &self.region),
            access_key_id: text("access_key_id", &self.access_key_id),
            endpoint: text("endpoint", &self.endpoint),
            ca_pem: text("ca_pem", &self.ca_pem),
            tenant_id: text("tenant_id", &self.tenant_id),
            client_id: text("client_id", &self.client_id),
            authority: text("authority", &self.authority),
            folder_id: match on_form("folder_id") {
                true => number("folder_id", &self.folder_id, "the folder's id")?,
                false => None,
            },
            template_id: match on_form("template_id") {
                true => number("template_id", &self.template_id, "the secret template's id")?,
                false => None,
            },
            username: text("username", &self.username),
        };
        Ok(VaultInput {
            name: Some(self.name.trim().to_owned()),
            kind: (!editing).then(|| self.kind.clone()),
            settings,
            credential: (!self.credential.is_empty())
                .then(|| Secret::new(self.credential.as_str())),
            pool_id: if builtin { None } else { pool_id },
            // Empty switches the daily sync off.
            sync_time: Some(Some(self.sync_time.trim().to_owned()).filter(|t| !t.is_empty())),
        })
    }
}

/// The settings a vault of `kind` has on its form, in order (the credential and the pool
/// come after them).
fn kind_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        KIND_OPENBAO => &["address", "mount", "namespace", "ca_pem"],
        KIND_AWS => &["region", "access_key_id", "endpoint", "ca_pem"],
        svc::KIND_AZURE => &["address", "tenant_id", "client_id", "authority", "ca_pem"],
        svc::KIND_SECRET_SERVER => &["address", "folder_id", "template_id", "username", "ca_pem"],
        svc::KIND_DSV => &["address", "client_id", "ca_pem"],
        _ => &[],
    }
}

/// A setting's field: label, hint (which may depend on the kind) and value.
fn setting(id: &str, kind: &str, f: &VaultForm) -> Field {
    let (label, hint, value) = match id {
        "address" => (
            match kind {
                KIND_OPENBAO => "Address",
                _ => "URL",
            },
            match kind {
                KIND_OPENBAO => "e.g. https://vault.example.com:8200.",
                svc::KIND_AZURE => "The vault's URL, e.g. https://myvault.vault.azure.net.",
                svc::KIND_SECRET_SERVER => "e.g. https://example.secretservercloud.com.",
                _ => "The tenant's URL, e.g. https://example.secretsvaultcloud.com.",
            },
            &f.address,
        ),
        "mount" => ("KV v2 mount", "Empty: secret.", &f.mount),
        "namespace" => ("Namespace", "Optional.", &f.namespace),
        "region" => ("Region", "e.g. eu-west-1.", &f.region),
        "access_key_id" => ("Access key id", "", &f.access_key_id),
        "endpoint" => (
            "Endpoint",
            "Optional: another endpoint than AWS's own.",
            &f.endpoint,
        ),
        "tenant_id" => (
            "Tenant id",
            "The Entra ID tenant (directory) the application is registered in.",
            &f.tenant_id,
        ),
        "client_id" => (
            "Client id",
            match kind {
                svc::KIND_AZURE => "The application (client) id of alm's registration in Entra ID.",
                _ => "The id of the client alm signs in as.",
            },
            &f.client_id,
        ),
        "authority" => (
            "Sign-in address",
            "Optional: Entra ID's address when not the public cloud's (https://login.microsoftonline.com).",
            &f.authority,
        ),
        "folder_id" => (
            "Folder id",
            "The id of the folder alm writes its secrets into.",
            &f.folder_id,
        ),
        "template_id" => (
            "Secret template id",
            "Optional: empty is 6001, Active Directory Account.",
            &f.template_id,
        ),
        "username" => (
            "User name",
            "Optional: the user alm signs in as. Empty: the credential below is an access token.",
            &f.username,
        ),
        _ => (
            "CA certificate (PEM)",
            "Optional: the CA that signed the vault's certificate; empty: the system's trusted CAs.",
            &f.ca_pem,
        ),
    };
    let control = match id {
        "ca_pem" => Control::TextArea(5),
        _ => Control::Text,
    };
    Field::new(id, label, control).hint(hint).value(value)
}

/// What the credential is for each kind.
fn credential_label(kind: &str) -> (&'static str, &'static str) {
    match kind {
        KIND_OPENBAO => ("Token", "The OpenBao token."),
        KIND_AWS => (
            "Secret access key",
            "The secret access key of the access key id.",
        ),
        svc::KIND_SECRET_SERVER => (
            "Password or token",
            "The user's password, or an access token when no user name is given.",
        ),
        _ => ("Client secret", "The client's secret."),
    }
}

fn fields(f: &VaultForm, editing: bool, pools: Option<Vec<(String, String)>>) -> Form {
    let mut fields = vec![Field::new("name", "Name", Control::Text)
        .hint("As templates and account pages show it.")
        .value(&f.name)];
    let sync_time = Field::new("sync_time", "Daily sync at (UTC)", Control::Text)
        .hint("HH:MM. The sync finds accounts whose secret is missing and checks which engines reach the vault. Empty: no scheduled sync.")
        .value(&f.sync_time);
    if f.kind == KIND_BUILTIN {
        fields.push(sync_time);
        return Form::new(fields);
    }
    fields.extend(
        kind_fields(&f.kind)
            .iter()
            .map(|id| setting(id, &f.kind, f)),
    );
    let (label, what) = credential_label(&f.kind);
    fields.push(Field::new("credential", label, Control::Password).hint(if editing {
        "Leave empty to keep the stored one. Required again when the address, endpoint, region, tenant, client or CA changes.".to_owned()
    } else {
        format!("{what} Stored encrypted; never shown again.")
    }));
    if let Some(pools) = pools {
        fields.push(
            Field::new("pool_id", "Engine pool", Control::Select(pools))
                .hint("The engines of this pool reach the vault for alm.")
                .value(&f.pool_id),
        );
    }
    fields.push(sync_time);
    Form::new(fields)
}

fn target(kind: &str, editing: Option<(VaultId, &str)>) -> Target {
    match editing {
        None => Target {
            title: format!("Add a vault: {}", kind_label(kind)),
            action: format!("/vaults/new?kind={kind}"),
            back: "/vaults/new".into(),
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

#[derive(Template)]
#[template(path = "vault_kinds.html")]
struct KindsPage {
    chrome: Chrome,
    title: &'static str,
    kinds: Vec<(&'static str, &'static str, &'static str)>,
}

/// `GET /vaults/new`: the kinds to choose from; `?kind=` one of them: its form.
pub(super) async fn new_form(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<KindQuery>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require()?;
    signed_in.can::<perm::VaultCreate>(&path)?;
    let Some(kind) = q.kind else {
        return Ok(render(
            StatusCode::OK,
            &KindsPage {
                chrome: Chrome::new(Some(&signed_in), &path).with_counts(&s).await,
                title: "Add a vault",
                kinds: ADDABLE
                    .iter()
                    .map(|(k, what)| (*k, kind_label(k), *what))
                    .collect(),
            },
        ));
    };
    let kind = known_kind(&signed_in, &path, &kind)?;
    let pools = crate::ui::engines::pool_choices(&s, &signed_in, &path).await?;
    let f = VaultForm {
        kind: kind.into(),
        sync_time: svc::DEFAULT_SYNC_TIME.into(),
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
        &FormPage::new(&s, &signed_in, &path, target(kind, None), form).await,
    ))
}

/// The `?kind=` of an add form, or the page that says it is none of [`ADDABLE`].
fn known_kind(
    signed_in: &SignedIn,
    path: &str,
    kind: &str,
) -> Result<&'static str, axum::response::Response> {
    addable(kind).ok_or_else(|| {
        errors::bad_address(
            signed_in,
            path,
            &alm_core::FieldError::new(
                "kind",
                "one-of",
                format!("must be one of {}", ADDABLE.map(|(k, _)| k).join(", ")),
            )
            .into(),
        )
    })
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
        &FormPage::new(s, signed_in, path, target(&f.kind, editing), form).await,
    ))
}

pub(super) async fn create(
    State(s): State<AppState>,
    browser: Browser,
    Query(q): Query<KindQuery>,
    Posted(mut f): Posted<VaultForm>,
) -> PageResult {
    let path = browser.path.clone();
    let signed_in = browser.require_form(&f.csrf_token)?;
    let can = signed_in.can::<perm::VaultCreate>(&path)?;
    // The kind is the add form's address's (chosen on the page before).
    f.kind = known_kind(&signed_in, &path, q.kind.as_deref().unwrap_or_default())?.into();
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
            target(&v.record.kind, Some((id, &v.record.name))),
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
