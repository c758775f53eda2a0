//! The engine protocol (SPEC §5, ARCHITECTURE "Engine protocol"): the messages the server and
//! its engines exchange, over HTTPS + JSON for remote engines and by value for the in-process
//! engine. One definition for both sides, so they cannot drift apart.
//!
//! Secrets a task needs (a bind password, a vault token) travel only inside a leased task, in
//! a [`Secret`] whose `Debug` hides the value; the server never stores them in the queue.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Paths under the server's base URL.
pub const REGISTER_PATH: &str = "/api/v1/engine/register";
pub const LEASE_PATH: &str = "/api/v1/engine/lease";
pub const HEARTBEAT_PATH: &str = "/api/v1/engine/heartbeat";
pub const LOGS_PATH: &str = "/api/v1/engine/logs";
/// What `alm engine check` tests (GET).
pub const CHECK_TARGETS_PATH: &str = "/api/v1/engine/check-targets";
/// `{id}` is the job id.
pub const COMPLETE_PATH: &str = "/api/v1/engine/jobs/{id}/complete";

/// Engine credentials start with this, so secret scanners and people recognise them.
pub const CREDENTIAL_PREFIX: &str = "alme_";

/// Secrets inside protocol messages are alm-core's one secret type: serialised as plain text
/// (the transport is TLS), never shown by `Debug`.
pub use alm_core::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub activation_token: Secret,
    /// A name for people (default: the host name).
    pub name: String,
    pub host: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterResponse {
    pub engine_id: String,
    /// The engine's own credential from now on (shown once, stored hashed by the server).
    pub credential: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LeaseRequest {
    /// How long the server may hold the request open when no job is waiting (long poll).
    pub wait_seconds: u32,
    /// At most this many jobs in one answer.
    pub max_jobs: u32,
    /// The jobs this engine process is running now. The server gives the engine's other
    /// leases back to the queue at once: an earlier process of the engine was killed holding
    /// them, or the answer that carried them never arrived, so nobody would complete them
    /// before their deadline. Left out, such leases wait for their deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaseResponse {
    pub jobs: Vec<LeasedJob>,
    /// Send a heartbeat at least this often to keep the leases.
    pub heartbeat_seconds: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeasedJob {
    pub job_id: String,
    /// Names this lease; completion must quote it.
    pub lease_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub lease_expires_at: OffsetDateTime,
    pub task: Task,
}

/// How to reach a domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DomainConnection {
    pub url: String,
    /// Other domain controllers of the domain, tried in order when `url` cannot be reached.
    /// Absent from a server older than this field: none.
    #[serde(default)]
    pub failover_urls: Vec<String>,
    /// Also try the controllers the domain's DNS names (SRV `_ldap._tcp.dc._msdcs.<domain>`),
    /// asked of the engine's own DNS servers, after those listed. Absent from an older server:
    /// no.
    #[serde(default)]
    pub discover_dcs: bool,
    pub bind_identity: String,
    pub bind_password: Secret,
    pub ca_pem: Option<String>,
    pub base_dn: String,
}

/// How to reach a vault (the kinds an engine talks to; the built-in vault lives in the server).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum VaultConnection {
    Openbao {
        address: String,
        mount: String,
        namespace: Option<String>,
        ca_pem: Option<String>,
        token: Secret,
    },
    AwsSecretsManager {
        region: String,
        access_key_id: String,
        endpoint: Option<String>,
        ca_pem: Option<String>,
        secret_access_key: Secret,
    },
    AzureKeyVault {
        vault_url: String,
        tenant_id: String,
        client_id: String,
        /// Entra ID's address; `None`: the public cloud.
        authority: Option<String>,
        ca_pem: Option<String>,
        client_secret: Secret,
    },
    /// Delinea Secret Server: with `username`, `credential` is that user's password (OAuth
    /// password grant); without, it is a token.
    SecretServer {
        address: String,
        folder_id: u32,
        template_id: u32,
        username: Option<String>,
        ca_pem: Option<String>,
        credential: Secret,
    },
    DevopsSecretsVault {
        address: String,
        client_id: String,
        ca_pem: Option<String>,
        client_secret: Secret,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum SyncMode {
    Full,
    Incremental,
}

impl SyncMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Full => "full",
            SyncMode::Incremental => "incremental",
        }
    }
}

/// The rules for a generated password (the domain's): alm-core's one definition.
pub use alm_core::password_rules::PasswordRules;

/// The directory account to make (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountSpec {
    pub sam_account_name: alm_core::requests::AccountName,
    pub user_principal_name: String,
    pub description: String,
    /// The OU to create it in.
    pub ou: String,
    /// Template attributes with their values.
    pub attributes: Vec<(String, String)>,
    /// `accountExpires`: the EOL instant for `expire` templates.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    pub password_rules: PasswordRules,
    /// Deny the account the right to change its own password (SPEC §3): deny ACEs for
    /// Everyone and SELF on the "Change Password" right, as Active Directory Users and
    /// Computers writes them (the `PASSWD_CANT_CHANGE` flag alone is ignored by the directory).
    #[serde(default)]
    pub cannot_change_password: bool,
    /// Set for a group managed service account: the object to make instead of a user.
    #[serde(default)]
    pub gmsa: Option<GmsaSpec>,
}

/// A gMSA's parameters (SPEC §2.4), with the password readers already resolved to SIDs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GmsaSpec {
    pub dns_host_name: String,
    pub service_principal_names: Vec<String>,
    pub encryption: alm_core::templates::KerberosEncryption,
    /// `S-1-5-21-…` of the principals that may retrieve the managed password.
    pub password_readers: Vec<String>,
    /// Days between password changes.
    pub password_interval_days: u32,
}

/// Where the credential goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretSpec {
    pub folder: String,
    pub name: String,
    /// The domain's name, stored with the secret.
    pub domain: String,
    pub notes: String,
}

/// What provisioning made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProvisionedAccount {
    pub dn: String,
    pub guid: String,
    pub sid: Option<String>,
    /// False when an earlier attempt had created it already (looked up, not created twice).
    pub created: bool,
    /// The vault's id of the secret (external vaults).
    pub secret_ref: Option<String>,
    /// The password, for the built-in vault (alm's database), which the server seals itself.
    pub password: Option<Secret>,
}

/// What a job asks an engine to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Task {
    /// Calibration: bind to the domain and say whether it worked.
    DomainCheck { domain: DomainConnection },
    /// Read the directory (everything, or what changed after `since_usn`).
    DomainSync {
        domain: DomainConnection,
        mode: SyncMode,
        since_usn: i64,
    },
    /// Calibration: authenticate to the vault and say whether it worked.
    VaultCheck { vault: VaultConnection },
    /// Create (or find, on a retry) the account; for an `ad-user`, set its password and store
    /// the credential: in `vault`, or, with no vault, hand the password back for alm's built-in
    /// vault. A gMSA has no password to store (the directory manages it).
    Provision(Box<ProvisionTask>),
    /// A lifecycle change to a managed account in the directory (SPEC §4.2): found by its
    /// objectGUID (it may have been moved), then changed.
    AccountChange(Box<AccountChangeTask>),
    /// Vault sync: which of these secret ids the vault no longer has.
    VaultSync {
        vault: VaultConnection,
        secret_ids: Vec<String>,
    },
}

/// What provisioning an account needs (boxed in [`Task`]: it is the largest task by far).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProvisionTask {
    pub domain: DomainConnection,
    pub account: AccountSpec,
    /// `None`: alm's built-in vault (the password goes back to the server).
    pub vault: Option<VaultConnection>,
    pub secret: SecretSpec,
}

impl Task {
    pub fn kind(&self) -> &'static str {
        match self {
            Task::DomainCheck { .. } => "domain-check",
            Task::DomainSync { .. } => "domain-sync",
            Task::VaultCheck { .. } => "vault-check",
            Task::Provision(_) => "provision",
            Task::VaultSync { .. } => "vault-sync",
            Task::AccountChange(_) => "account-change",
        }
    }
}

/// What to change on one managed account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountChangeTask {
    pub domain: DomainConnection,
    /// The account's objectGUID.
    pub guid: String,
    pub change: AccountChange,
}

/// One lifecycle change, done idempotently (a retried job finds the work done and succeeds).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum AccountChange {
    /// Disable, and move into `move_to` (the retirement OU) when given.
    Disable {
        move_to: Option<String>,
    },
    Enable,
    /// Move into another OU (an account migration, SPEC §6.4).
    Move {
        to: String,
    },
    /// Set `accountExpires` (a renewal of an `expire` account).
    SetExpires {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Delete the directory object and, with an external vault, the secret.
    Delete {
        vault: Option<VaultConnection>,
        secret_ref: Option<String>,
    },
    /// Move the account's secret to another folder of the same external vault (a migration,
    /// SPEC §6.4): written at (`folder`, `name`), then removed from `from`. The directory is
    /// not touched; the answer is the secret's new reference.
    MoveSecret {
        vault: VaultConnection,
        from: String,
        folder: String,
        name: String,
    },
}

/// Why a check or a read failed, as a kind a program can act on and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// `unreachable`, `tls`, `bad-credentials`, `insufficient-rights`, `configuration`, …
    pub problem: String,
    pub message: String,
}

/// One object read from the directory, in the shape the server stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncedObject {
    pub guid: String,
    /// `user`, `gmsa`, `msa`, `group` or `ou`.
    pub kind: String,
    pub dn: String,
    pub name: String,
    pub enabled: bool,
    pub usn_changed: i64,
    /// Kind-specific details, JSON text.
    pub details: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncSnapshot {
    pub objects: Vec<SyncedObject>,
    /// The directory's highest USN read before the search: the next sync starts after it.
    pub highest_usn: i64,
    /// The schema's attribute names (full syncs only; empty otherwise).
    #[serde(default)]
    pub attribute_names: Vec<String>,
    /// Incremental syncs: the `objectGUID` of each object deleted since the start (a full sync
    /// finds deletions by what it no longer reads). Absent from an engine older than this
    /// field: its incremental syncs then report no deletion, as before.
    #[serde(default)]
    pub deleted: Vec<String>,
}

/// What a task produced.
/// Where a vault records one secret as used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretDependencies {
    pub secret_id: String,
    pub services: Vec<VaultService>,
}

/// One service a vault records as using a secret (alm-vault's `VaultDependency` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VaultService {
    pub host: String,
    pub service_name: String,
    /// The vault's kind of dependency ("Windows Service"); may be empty.
    #[serde(default)]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TaskResult {
    /// The outcome of a check: `problem` is `None` when it worked.
    Check {
        message: String,
        problem: Option<Problem>,
    },
    /// A directory read, or why it could not be made.
    DomainSync {
        snapshot: Option<SyncSnapshot>,
        problem: Option<Problem>,
    },
    /// The secret ids the vault does not have, or why the vault could not be read; and, from
    /// a kind of vault that records them (Secret Server), where each secret it has is used.
    VaultSync {
        missing: Vec<String>,
        problem: Option<Problem>,
        /// `None` when the vault keeps no dependency records (or from an engine before 0.2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dependencies: Option<Vec<SecretDependencies>>,
    },
    /// The account and its secret, or why not (the server retries with back-off).
    Provisioned {
        account: Option<ProvisionedAccount>,
        problem: Option<Problem>,
    },
    /// A lifecycle change: the account's DN afterwards (`None` once deleted), or why not.
    AccountChanged {
        dn: Option<String>,
        problem: Option<Problem>,
    },
}

/// An engine's report on a leased job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Completion {
    /// The task ran; its result (which may describe a failure of the directory or vault).
    Done {
        lease_id: String,
        result: TaskResult,
    },
    /// The engine could not run the task at all; the server retries it later.
    Failed { lease_id: String, error: String },
}

impl Completion {
    pub fn lease_id(&self) -> &str {
        match self {
            Completion::Done { lease_id, .. } | Completion::Failed { lease_id, .. } => lease_id,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The jobs the engine is working on: their leases are extended.
    pub job_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogLine {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `info`, `warn` or `error`.
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LogBatch {
    pub lines: Vec<LogLine>,
}

/// What `alm engine check` tests from the engine's host: the domains and vaults of the
/// engine's pool, with the settings and secrets a job about each would carry (the same trust
/// the jobs already give the engine). Given only to an active engine assigned to a pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckTargets {
    pub engine_name: String,
    pub pool_name: String,
    pub domains: Vec<DomainTarget>,
    /// The external vaults of the pool (the built-in vault lives in the server: no engine
    /// reaches it).
    pub vaults: Vec<VaultTarget>,
}

/// One domain to check; `connection` is `None` when the server cannot open its stored
/// settings, and `problem` says why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DomainTarget {
    pub id: String,
    pub name: String,
    pub connection: Option<DomainConnection>,
    pub problem: Option<String>,
}

/// One vault to check; `connection` is `None` when the server cannot open its stored
/// settings, and `problem` says why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VaultTarget {
    pub id: String,
    pub name: String,
    pub connection: Option<VaultConnection>,
    pub problem: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let task = Task::DomainCheck {
            domain: DomainConnection {
                url: "ldaps://dc".into(),
                failover_urls: Vec::new(),
                discover_dcs: false,
                bind_identity: "svc".into(),
                bind_password: Secret::new("hunter2-secret"),
                ca_pem: None,
                base_dn: "DC=x".into(),
            },
        };
        let shown = format!("{task:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("Secret(****)"), "{shown}");
    }

    #[test]
    fn a_task_names_its_kind_on_the_wire() {
        let task = Task::DomainSync {
            domain: DomainConnection {
                url: "ldaps://dc".into(),
                failover_urls: Vec::new(),
                discover_dcs: false,
                bind_identity: "svc".into(),
                bind_password: Secret::new("p"),
                ca_pem: None,
                base_dn: "DC=x".into(),
            },
            mode: SyncMode::Incremental,
            since_usn: 41,
        };
        let wire = serde_json::to_value(&task).unwrap();
        assert_eq!(wire["kind"], "domain-sync");
        assert_eq!(wire["mode"], "incremental");
        assert_eq!(wire["domain"]["bind_password"], "p");
        let back: Task = serde_json::from_value(wire).unwrap();
        assert_eq!(back.kind(), "domain-sync");
    }
}
