//! A vault as an administrator describes it: the input checked field by field (building the
//! client without connecting), merged with what is stored, the credential sealed.

use super::*;

pub(crate) fn build(
    id: VaultId,
    input: VaultInput,
    before: Option<&VaultRecord>,
    key: &MasterKey,
    now: time::OffsetDateTime,
) -> ServiceResult<VaultInfo> {
    let mut errors = ValidationErrors::new();
    let name = input.name.or_else(|| before.map(|b| b.name.clone()));
    let name = match name {
        Some(n) => errors
            .check(ObjectName::parse("name", &n))
            .map(|n| n.as_str().to_owned()),
        None => {
            errors.push(FieldError::new("name", "required", "a name is required"));
            None
        }
    };
    let kind = before
        .map(|b| b.kind.clone())
        .or(input.kind.clone())
        .unwrap_or_default();
    if before.is_some() && input.kind.as_deref().is_some_and(|k| k != kind) {
        errors.push(FieldError::new(
            "kind",
            "immutable",
            "a vault's kind cannot change; add a new vault",
        ));
    }
    if before.is_none() && !EXTERNAL_KINDS.contains(&kind.as_str()) {
        errors.push(FieldError::new(
            "kind",
            "one-of",
            format!(
                "must be one of {} (the built-in vault exists already)",
                EXTERNAL_KINDS.join(", ")
            ),
        ));
    }
    let old: VaultSettings = match before {
        Some(b) => stored_settings(b)?,
        None => VaultSettings::default(),
    };
    let merge = |new: Option<String>, old: Option<String>| {
        new.or(old)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let s = VaultSettings {
        address: merge(input.settings.address, old.address),
        mount: merge(input.settings.mount, old.mount),
        namespace: merge(input.settings.namespace, old.namespace),
        region: merge(input.settings.region, old.region),
        access_key_id: merge(input.settings.access_key_id, old.access_key_id),
        endpoint: merge(input.settings.endpoint, old.endpoint),
        ca_pem: merge(input.settings.ca_pem, old.ca_pem),
        tenant_id: merge(input.settings.tenant_id, old.tenant_id),
        client_id: merge(input.settings.client_id, old.client_id),
        authority: merge(input.settings.authority, old.authority),
        folder_id: input.settings.folder_id.or(old.folder_id),
        template_id: input.settings.template_id.or(old.template_id),
        username: merge(input.settings.username, old.username),
    };
    let sealed = match (&input.credential, before) {
        (Some(c), _) if c.expose().is_empty() || c.expose().len() > 4096 => {
            errors.push(FieldError::new(
                "credential",
                "length",
                "must have 1 to 4096 bytes",
            ));
            None
        }
        (Some(c), _) => Some(key.seal(c.expose(), &credential_context(id))),
        (None, Some(b)) => b.credential_sealed.clone(),
        (None, None) => {
            errors.push(FieldError::new(
                "credential",
                "required",
                "the token, secret access key, client secret or password is required",
            ));
            None
        }
    };
    // Checked by building the client, without connecting.
    let probe = Secret::new("-");
    match kind.as_str() {
        KIND_OPENBAO => {
            if s.address.is_none() {
                errors.push(FieldError::new(
                    "address",
                    "required",
                    "the vault's URL, e.g. https://vault.example.com:8200",
                ));
            } else if let Err(e) = OpenBaoVault::new(OpenBaoConfig {
                address: s.address.clone().unwrap_or_default(),
                token: probe,
                mount: s.mount.clone().unwrap_or_else(|| "secret".into()),
                namespace: s.namespace.clone(),
                ca_pem: s.ca_pem.clone(),
                timeout: Duration::from_secs(1),
            }) {
                let field = if e.to_string().contains("ca certificate") {
                    "ca_pem"
                } else if e.to_string().contains("mount") {
                    "mount"
                } else {
                    "address"
                };
                errors.push(FieldError::new(field, "format", e.to_string()));
            }
        }
        KIND_AWS => {
            if s.access_key_id.is_none() {
                errors.push(FieldError::new(
                    "access_key_id",
                    "required",
                    "the access key id is required",
                ));
            }
            let clock: Arc<dyn Clock> = Arc::new(alm_core::FixedClock::new(now));
            if let Err(e) = AwsSecretsManager::new(
                AwsConfig {
                    region: s.region.clone().unwrap_or_default(),
                    access_key_id: s.access_key_id.clone().unwrap_or_default(),
                    secret_access_key: probe,
                    endpoint: s.endpoint.clone(),
                    ca_pem: s.ca_pem.clone(),
                    timeout: Duration::from_secs(1),
                },
                clock,
            ) {
                let text = e.to_string();
                let field = if text.contains("region") {
                    "region"
                } else if text.contains("ca certificate") {
                    "ca_pem"
                } else {
                    "endpoint"
                };
                errors.push(FieldError::new(field, "format", text));
            }
        }
        KIND_AZURE => {
            for (field, value, hint) in [
                (
                    "address",
                    &s.address,
                    "the vault's URL, e.g. https://myvault.vault.azure.net",
                ),
                (
                    "tenant_id",
                    &s.tenant_id,
                    "the Entra ID tenant (directory) id",
                ),
                ("client_id", &s.client_id, "the application (client) id"),
            ] {
                if value.is_none() {
                    errors.push(FieldError::new(field, "required", hint));
                }
            }
            if s.address.is_some() && s.tenant_id.is_some() && s.client_id.is_some() {
                let clock: Arc<dyn Clock> = Arc::new(alm_core::FixedClock::new(now));
                if let Err(e) = AzureKeyVault::new(
                    AzureKeyVaultConfig {
                        vault_url: s.address.clone().unwrap_or_default(),
                        tenant_id: s.tenant_id.clone().unwrap_or_default(),
                        client_id: s.client_id.clone().unwrap_or_default(),
                        client_secret: probe,
                        authority: s.authority.clone(),
                        ca_pem: s.ca_pem.clone(),
                        timeout: Duration::from_secs(1),
                    },
                    clock,
                ) {
                    errors.push(config_error(&e, "address"));
                }
            }
        }
        KIND_SECRET_SERVER => {
            if s.address.is_none() {
                errors.push(FieldError::new(
                    "address",
                    "required",
                    "Secret Server's URL, e.g. https://example.secretservercloud.com",
                ));
            }
            if s.folder_id.is_none() {
                errors.push(FieldError::new(
                    "folder_id",
                    "required",
                    "the id of the Secret Server folder alm writes into",
                ));
            }
            if s.address.is_some() && s.folder_id.is_some() {
                let clock: Arc<dyn Clock> = Arc::new(alm_core::FixedClock::new(now));
                let auth = match &s.username {
                    Some(u) => SecretServerAuth::Password {
                        username: u.clone(),
                        password: probe,
                        domain: None,
                    },
                    None => SecretServerAuth::Token(probe),
                };
                if let Err(e) = SecretServer::new(
                    SecretServerConfig {
                        address: s.address.clone().unwrap_or_default(),
                        auth,
                        folder_id: s.folder_id.unwrap_or_default(),
                        template_id: s
                            .template_id
                            .unwrap_or(alm_vault::secret_server::DEFAULT_TEMPLATE_ID),
                        ca_pem: s.ca_pem.clone(),
                        timeout: Duration::from_secs(1),
                    },
                    clock,
                ) {
                    errors.push(config_error(&e, "address"));
                }
            }
        }
        KIND_DSV => {
            if s.address.is_none() {
                errors.push(FieldError::new(
                    "address",
                    "required",
                    "the tenant's URL, e.g. https://example.secretsvaultcloud.com",
                ));
            }
            if s.client_id.is_none() {
                errors.push(FieldError::new(
                    "client_id",
                    "required",
                    "the DevOps Secrets Vault client id",
                ));
            }
            if s.address.is_some() && s.client_id.is_some() {
                let clock: Arc<dyn Clock> = Arc::new(alm_core::FixedClock::new(now));
                if let Err(e) = DevOpsSecretsVault::new(
                    DsvConfig {
                        address: s.address.clone().unwrap_or_default(),
                        client_id: s.client_id.clone().unwrap_or_default(),
                        client_secret: probe,
                        ca_pem: s.ca_pem.clone(),
                        timeout: Duration::from_secs(1),
                    },
                    clock,
                ) {
                    errors.push(config_error(&e, "address"));
                }
            }
        }
        _ => {}
    }
    let before_schedule = before.map(|b| (b.sync_time.clone(), b.next_sync_at));
    let sync_time = match (&input.sync_time, before) {
        (None, None) => Some(Some(DEFAULT_SYNC_TIME)),
        (given, _) => given.as_ref().map(|t| t.as_deref()),
    };
    let (sync_time, next_sync_at) = errors
        .check(alm_core::schedule::edit_daily(
            "sync_time",
            sync_time,
            before_schedule.as_ref(),
            now,
        ))
        .unwrap_or((None, None));
    errors.into_result()?;
    Ok(VaultInfo {
        record: VaultRecord {
            id,
            name: name.expect("checked"),
            kind,
            settings: serde_json::to_string(&s).expect("plain struct"),
            credential_sealed: sealed,
            pool_id: before.and_then(|b| b.pool_id),
            sync_time,
            next_sync_at,
            created_at: before.map(|b| b.created_at).unwrap_or(now),
            updated_at: now,
        },
        settings: s,
    })
}

/// A client's configuration error as a field error: the clients start their messages with
/// the setting's name (`tenant_id: …`); a CA that does not load is `ca_pem`.
fn config_error(e: &VaultError, fallback: &str) -> FieldError {
    let text = e.to_string();
    let detail = text.trim_start_matches("invalid vault configuration: ");
    let field = if detail.contains("ca certificate") || detail.contains("CA") {
        "ca_pem"
    } else {
        [
            "address",
            "vault_url",
            "tenant_id",
            "client_id",
            "authority",
            "folder_id",
            "template_id",
            "username",
        ]
        .into_iter()
        .find(|f| detail.starts_with(&format!("{f}:")))
        .map(|f| if f == "vault_url" { "address" } else { f })
        .unwrap_or(fallback)
    };
    FieldError::new(field, "format", text)
}
