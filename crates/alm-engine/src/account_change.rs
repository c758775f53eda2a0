//! Lifecycle changes to a managed account in the directory (SPEC §4.2): disable (and move to
//! the retirement OU), enable, set `accountExpires`, delete with its secret. The account is
//! found by objectGUID, so a move made earlier (by alm or by hand) does not lose it, and each
//! change is idempotent: a retry finds the work done and reports success.

use crate::executor::{directory_problem, vault_problem, Executor};
use crate::protocol::{AccountChange, AccountChangeTask, Problem};
use alm_core::filetime::AccountExpires;
use alm_directory::{Directory, Lookup};

/// Runs one change; returns the account's DN afterwards (`None` once it is deleted), or for a
/// secret move the secret's new reference.
pub async fn run(executor: &Executor, task: &AccountChangeTask) -> Result<Option<String>, Problem> {
    if let AccountChange::MoveSecret {
        vault,
        from,
        folder,
        name,
    } = &task.change
    {
        // A vault-only change: no directory needed (it may even be down).
        return move_secret(executor, vault, from, folder, name)
            .await
            .map(Some);
    }
    let directory = executor
        .directory(&task.domain)
        .await
        .map_err(|e| directory_problem(&e))?;
    let guid: uuid::Uuid = task.guid.parse().map_err(|_| Problem {
        problem: "configuration".into(),
        message: format!("not an objectGUID: {}", task.guid),
    })?;
    let found = directory
        .find(&Lookup::Guid(guid))
        .await
        .map_err(|e| directory_problem(&e))?;
    let Some(entry) = found else {
        if let AccountChange::Delete { vault, secret_ref } = &task.change {
            // Deleted already (an earlier attempt, or by hand): the secret may remain.
            delete_secret(executor, vault.as_ref(), secret_ref.as_deref()).await?;
            return Ok(None);
        }
        return Err(Problem {
            problem: "no-such-object".into(),
            message: format!("no object with objectGUID {guid} in the directory"),
        });
    };
    let fail = |e: alm_directory::DirectoryError| directory_problem(&e);
    match &task.change {
        AccountChange::Disable { move_to } => {
            directory
                .set_enabled(&entry.dn, false)
                .await
                .map_err(fail)?;
            match move_to {
                Some(ou) if !parent_is(&entry.dn, ou) => {
                    Ok(Some(directory.move_to(&entry.dn, ou).await.map_err(fail)?))
                }
                _ => Ok(Some(entry.dn)),
            }
        }
        AccountChange::Move { to } => {
            if parent_is(&entry.dn, to) {
                return Ok(Some(entry.dn));
            }
            Ok(Some(directory.move_to(&entry.dn, to).await.map_err(fail)?))
        }
        AccountChange::Enable => {
            directory.set_enabled(&entry.dn, true).await.map_err(fail)?;
            Ok(Some(entry.dn))
        }
        AccountChange::SetExpires { at } => {
            directory
                .set_account_expires(&entry.dn, AccountExpires::At(*at))
                .await
                .map_err(fail)?;
            Ok(Some(entry.dn))
        }
        AccountChange::Delete { vault, secret_ref } => {
            directory.delete(&entry.dn).await.map_err(fail)?;
            delete_secret(executor, vault.as_ref(), secret_ref.as_deref()).await?;
            Ok(None)
        }
        // Handled before the directory lookup; kept total without a panic.
        AccountChange::MoveSecret {
            vault,
            from,
            folder,
            name,
        } => move_secret(executor, vault, from, folder, name)
            .await
            .map(Some),
    }
}

/// Copies the secret to (`folder`, `name`) and then removes the old one, so a failure in
/// between leaves two copies, never none. A retry after the old one is gone finds the new
/// one and reports it.
async fn move_secret(
    executor: &Executor,
    vault: &crate::protocol::VaultConnection,
    from: &str,
    folder: &str,
    name: &str,
) -> Result<String, Problem> {
    let fail = |e: alm_vault::VaultError| vault_problem(&e);
    let v = executor.open_vault(vault).map_err(|e| vault_problem(&e))?;
    let old = alm_vault::SecretRef(from.to_owned());
    match v.get(&old).await.map_err(fail)? {
        Some(secret) => {
            let new = v.put(folder, name, &secret).await.map_err(fail)?;
            if new != old {
                v.delete(&old).await.map_err(fail)?;
            }
            Ok(new.0)
        }
        None => match v.find(folder, name).await.map_err(fail)? {
            Some(moved) => Ok(moved.0),
            None => Err(Problem {
                problem: "no-such-secret".into(),
                message: format!("the secret is neither at {from} nor in {folder}"),
            }),
        },
    }
}

/// Whether `dn`'s parent is `ou` (compared case-insensitively, as the directory does).
fn parent_is(dn: &str, ou: &str) -> bool {
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => return dn[i + 1..].trim().eq_ignore_ascii_case(ou.trim()),
            _ => escaped = false,
        }
    }
    false
}

async fn delete_secret(
    executor: &Executor,
    vault: Option<&crate::protocol::VaultConnection>,
    secret_ref: Option<&str>,
) -> Result<(), Problem> {
    let (Some(v), Some(r)) = (vault, secret_ref) else {
        return Ok(());
    };
    let vault = executor.open_vault(v).map_err(|e| vault_problem(&e))?;
    vault
        .delete(&alm_vault::SecretRef(r.to_owned()))
        .await
        .map_err(|e| vault_problem(&e))
}

#[cfg(test)]
mod tests {
    use super::parent_is;

    #[test]
    fn the_parent_is_read_past_escaped_commas() {
        assert!(parent_is("CN=a,OU=Retired,DC=x", "ou=retired,dc=x"));
        assert!(parent_is("CN=a\\,b,OU=R,DC=x", "OU=R,DC=x"));
        assert!(!parent_is("CN=a,OU=Live,DC=x", "OU=R,DC=x"));
    }
}
