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
    if before.is_none() && kind != KIND_OPENBAO && kind != KIND_AWS {
        errors.push(FieldError::new(
            "kind",
            "one-of",
            "must be openbao or aws-secrets-manager (the built-in vault exists already)",
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
                "the token or secret access key is required",
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
        _ => {}
    }
    errors.into_result()?;
    Ok(VaultInfo {
        record: VaultRecord {
            id,
            name: name.expect("checked"),
            kind,
            settings: serde_json::to_string(&s).expect("plain struct"),
            credential_sealed: sealed,
            pool_id: before.and_then(|b| b.pool_id),
            created_at: before.map(|b| b.created_at).unwrap_or(now),
            updated_at: now,
        },
        settings: s,
    })
}
