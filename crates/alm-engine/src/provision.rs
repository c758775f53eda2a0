//! Provisioning an Active Directory user (SPEC §3), idempotently: look before you create.
//!
//! 1. The account is looked up by sAMAccountName. Missing: it is created in one add with a
//!    fresh password that meets the domain's rules, enabled, with its UPN, description,
//!    attributes and `accountExpires`. Present (an earlier attempt made it): it is reused.
//! 2. The credential goes to the vault. An external vault that already holds the secret for
//!    this account means an earlier attempt finished both steps: nothing changes. Otherwise
//!    (a new account, or one whose secret write failed) a fresh password is set on the account
//!    before it is stored, so the stored password is always the account's.
//! 3. With the built-in vault (no vault here) the password goes back to the server, which
//!    seals it in the same transaction that records the account; a retry sets a new one.
//!
//! "Cannot change password" (deny ACEs) is applied after the add and again on every retry:
//! applying it twice changes nothing, so a crash between the add and the ACL write is mended.
//! A gMSA is looked up (`name$`) and created the same way; it has no password to store.
//!
//! A failure anywhere leaves either nothing, or an account the next attempt completes.

use crate::executor::{directory_problem, vault_problem};
use crate::protocol::{
    AccountSpec, DomainConnection, GmsaSpec, Problem, ProvisionedAccount, Secret, SecretSpec,
    VaultConnection,
};
use alm_core::filetime::AccountExpires;
use alm_directory::password::{Generate, PasswordPolicy};
use alm_directory::{Directory, KerberosEncryption, Lookup, NewGmsa, NewUser};
use alm_vault::{Vault, VaultSecret};

fn policy(spec: &AccountSpec) -> PasswordPolicy {
    spec.password_rules
}

/// Runs the provisioning steps with an already built directory client and vault.
pub async fn provision_user(
    directory: &dyn Directory,
    vault: Option<&dyn Vault>,
    spec: &AccountSpec,
    secret: &SecretSpec,
) -> Result<ProvisionedAccount, Problem> {
    let policy = policy(spec);
    let existing = directory
        .find(&Lookup::SamAccountName(spec.sam_account_name.to_string()))
        .await
        .map_err(|e| directory_problem(&e))?;
    let (entry, created, fresh_password) = match existing {
        Some(entry) => (entry, false, None),
        None => {
            let password = policy.generate(spec.sam_account_name.as_str(), "");
            let entry = directory
                .create_user(&NewUser {
                    parent_dn: spec.ou.clone(),
                    sam_account_name: spec.sam_account_name.to_string(),
                    user_principal_name: spec.user_principal_name.clone(),
                    description: Some(spec.description.clone()).filter(|d| !d.is_empty()),
                    attributes: spec
                        .attributes
                        .iter()
                        .map(|(k, v)| (k.clone(), vec![v.clone()]))
                        .collect(),
                    password: password.clone(),
                    enabled: true,
                    account_expires: spec
                        .expires_at
                        .map(AccountExpires::At)
                        .unwrap_or(AccountExpires::Never),
                })
                .await
                .map_err(|e| directory_problem(&e))?;
            (entry, true, Some(password))
        }
    };
    if spec.cannot_change_password {
        directory
            .deny_password_change(&entry.dn)
            .await
            .map_err(|e| directory_problem(&e))?;
    }
    // An external vault that already has the secret: an earlier attempt finished.
    if let (Some(v), false) = (vault, created) {
        if let Some(found) = v
            .find(&secret.folder, &secret.name)
            .await
            .map_err(|e| vault_problem(&e))?
        {
            return Ok(ProvisionedAccount {
                dn: entry.dn,
                guid: entry.guid.to_string(),
                sid: entry.sid.map(|s| s.to_string()),
                created,
                secret_ref: Some(found.0),
                password: None,
            });
        }
    }
    let password = match fresh_password {
        Some(p) => p,
        None => {
            // Reused account without a stored secret: give it a password we can store.
            let p = policy.generate(spec.sam_account_name.as_str(), "");
            directory
                .set_password(&entry.dn, &p)
                .await
                .map_err(|e| directory_problem(&e))?;
            if !entry.enabled() {
                directory
                    .set_enabled(&entry.dn, true)
                    .await
                    .map_err(|e| directory_problem(&e))?;
            }
            p
        }
    };
    let secret_ref = match vault {
        Some(v) => Some(
            v.put(
                &secret.folder,
                &secret.name,
                &VaultSecret {
                    domain: secret.domain.clone(),
                    username: spec.sam_account_name.to_string(),
                    password: Secret::new(password.expose()),
                    notes: secret.notes.clone(),
                },
            )
            .await
            .map_err(|e| vault_problem(&e))?
            .0,
        ),
        None => None,
    };
    Ok(ProvisionedAccount {
        dn: entry.dn,
        guid: entry.guid.to_string(),
        sid: entry.sid.map(|s| s.to_string()),
        created,
        password: vault.is_none().then(|| password.clone()),
        secret_ref,
    })
}

fn encryption(e: alm_core::templates::KerberosEncryption) -> KerberosEncryption {
    use alm_core::templates::KerberosEncryption as T;
    match e {
        T::None => KerberosEncryption::None,
        T::Des => KerberosEncryption::Des,
        T::Rc4 => KerberosEncryption::Rc4,
        T::Aes128 => KerberosEncryption::Aes128,
        T::Aes256 => KerberosEncryption::Aes256,
    }
}

/// Creates the gMSA unless an earlier attempt did (looked up by `name$`).
pub async fn provision_gmsa(
    directory: &dyn Directory,
    spec: &AccountSpec,
    gmsa: &GmsaSpec,
) -> Result<ProvisionedAccount, Problem> {
    let sam = format!("{}$", spec.sam_account_name);
    let existing = directory
        .find(&Lookup::SamAccountName(sam))
        .await
        .map_err(|e| directory_problem(&e))?;
    let (entry, created) = match existing {
        Some(entry) => (entry, false),
        None => {
            let readers = gmsa
                .password_readers
                .iter()
                .map(|s| {
                    s.parse().map_err(|e| Problem {
                        problem: "configuration".into(),
                        message: format!("password reader {s}: {e}"),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let entry = directory
                .create_gmsa(&NewGmsa {
                    parent_dn: spec.ou.clone(),
                    name: spec.sam_account_name.to_string(),
                    dns_host_name: gmsa.dns_host_name.clone(),
                    service_principal_names: gmsa.service_principal_names.clone(),
                    encryption: encryption(gmsa.encryption),
                    password_readers: readers,
                    password_interval_days: gmsa.password_interval_days,
                    description: Some(spec.description.clone()).filter(|d| !d.is_empty()),
                })
                .await
                .map_err(|e| directory_problem(&e))?;
            (entry, true)
        }
    };
    Ok(ProvisionedAccount {
        dn: entry.dn,
        guid: entry.guid.to_string(),
        sid: entry.sid.map(|s| s.to_string()),
        created,
        secret_ref: None,
        password: None,
    })
}

/// The connection-level wrapper the executor calls.
pub async fn run(
    executor: &crate::executor::Executor,
    domain: &DomainConnection,
    account: &AccountSpec,
    vault: Option<&VaultConnection>,
    secret: &SecretSpec,
) -> Result<ProvisionedAccount, Problem> {
    let directory = executor
        .directory(domain)
        .await
        .map_err(|e| directory_problem(&e))?;
    let vault = match vault {
        Some(v) => Some(executor.open_vault(v).map_err(|e| vault_problem(&e))?),
        None => None,
    };
    match &account.gmsa {
        Some(gmsa) => provision_gmsa(directory.as_ref(), account, gmsa).await,
        None => provision_user(directory.as_ref(), vault.as_deref(), account, secret).await,
    }
}
