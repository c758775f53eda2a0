//! Workflow templates (SPEC §2.4): what one kind of service account looks like, who may ask for
//! it, who approves it and how it is retired; the rules a definition must meet; and the states
//! of a template and of its versions. Pure: facts that need the database (does the OU exist,
//! how many distinct approvers does a step reach) come in through [`Facts`].

mod rules;

use crate::dn::Dn;
use crate::ids::{DomainId, GroupId, UserId, VaultId};
use crate::validation::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum AccountType {
    AdUser,
    Gmsa,
}

/// What happens at the end of the lifecycle (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum EolAction {
    Review,
    Disable,
    Expire,
    Delete,
}

impl AccountType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::AdUser => "ad-user",
            AccountType::Gmsa => "gmsa",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [AccountType::AdUser, AccountType::Gmsa]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

impl std::fmt::Display for AccountType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EolAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EolAction::Review => "review",
            EolAction::Disable => "disable",
            EolAction::Expire => "expire",
            EolAction::Delete => "delete",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            EolAction::Review,
            EolAction::Disable,
            EolAction::Expire,
            EolAction::Delete,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
    }
}

impl std::fmt::Display for EolAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kerberos encryption of a gMSA (SPEC §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum KerberosEncryption {
    None,
    Des,
    Rc4,
    Aes128,
    Aes256,
}

/// A review or expiry period offered to requesters: `N` days (`30d`) or `N` years (`1y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interval {
    Days(u32),
    Years(u32),
}

impl Interval {
    /// The EOL date of a lifecycle that starts on `start` (SPEC §4): N days later, or the same
    /// day N years later (29 February falls back to 28 February in a common year).
    pub fn end_date(self, start: time::Date) -> time::Date {
        match self {
            Interval::Days(n) => start
                .checked_add(time::Duration::days(i64::from(n)))
                .unwrap_or(time::Date::MAX),
            Interval::Years(n) => {
                let year = start.year().saturating_add(n as i32);
                start
                    .replace_year(year)
                    .or_else(|_| time::Date::from_calendar_date(year, time::Month::February, 28))
                    .unwrap_or(time::Date::MAX)
            }
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interval::Days(n) => write!(f, "{n}d"),
            Interval::Years(n) => write!(f, "{n}y"),
        }
    }
}

impl FromStr for Interval {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not an interval such as 30d or 1y");
        // Split before the last character, wherever its bytes start (input may be any UTF-8).
        let cut = s.char_indices().last().map(|(i, _)| i).unwrap_or(0);
        let (number, unit) = s.split_at(cut);
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u32 = number.parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(format!("{s:?}: an interval must be longer than zero"));
        }
        match unit {
            "d" if n <= 36_500 => Ok(Interval::Days(n)),
            "y" if n <= 100 => Ok(Interval::Years(n)),
            "d" | "y" => Err(format!("{s:?}: at most 36500 days or 100 years")),
            _ => Err(bad()),
        }
    }
}

impl Serialize for Interval {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AttributeRule {
    /// The LDAP attribute name, e.g. `department`.
    pub name: String,
    #[serde(default)]
    pub required: bool,
    /// Whether the requester may change the default.
    #[serde(default = "yes")]
    pub editable: bool,
    #[serde(default)]
    pub default: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApprovalStep {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub users: Vec<UserId>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub groups: Vec<GroupId>,
    /// "Require at least K approvals" from distinct eligible approvers.
    pub min_approvals: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Ownership {
    #[serde(default)]
    pub allow_group_owners: bool,
    #[serde(default)]
    pub requester_only_owner: bool,
    #[serde(default = "one")]
    pub min_owners: u32,
    #[serde(default = "five")]
    pub max_owners: u32,
}

fn one() -> u32 {
    1
}
fn five() -> u32 {
    5
}

impl Default for Ownership {
    fn default() -> Self {
        Self {
            allow_group_owners: false,
            requester_only_owner: false,
            min_owners: 1,
            max_owners: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    /// The periods requesters choose from, e.g. `["90d", "1y"]`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub intervals: Vec<Interval>,
    /// Renewal opens this many days before EOL.
    #[serde(default = "fifteen")]
    pub renewal_window_days: u32,
    #[serde(default = "yes")]
    pub notify_renewal_open: bool,
    /// A reminder every N days once renewal is open.
    #[serde(default)]
    pub reminder_every_days: Option<u32>,
    /// Urgent reminders every N hours …
    #[serde(default)]
    pub urgent_every_hours: Option<u32>,
    /// … starting N days before EOL.
    #[serde(default)]
    pub urgent_from_days: Option<u32>,
    #[serde(default)]
    pub include_admins_in_reminders: bool,
    /// Stop reminders N days after they started.
    #[serde(default)]
    pub stop_reminders_after_days: Option<u32>,
}

fn fifteen() -> u32 {
    15
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GmsaSettings {
    /// Who may retrieve the managed password.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub password_reader_users: Vec<UserId>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub password_reader_groups: Vec<GroupId>,
    pub encryption: KerberosEncryption,
    /// Unique across requests: `{name}` stands for the account's name (`HTTP/{name}.corp.example.com`),
    /// so one template serves many accounts without two claiming the same SPN.
    #[serde(default)]
    pub service_principal_names: Vec<String>,
    /// `{name}` may stand for the account's name here too.
    pub dns_host_name: String,
}

/// What `{name}` stands for in gMSA settings.
pub const ACCOUNT_NAME_PLACEHOLDER: &str = "{name}";

impl GmsaSettings {
    /// The DNS host name and SPNs of the account `name` (placeholders filled in).
    pub fn for_account(&self, name: &str) -> (String, Vec<String>) {
        let fill = |s: &str| s.replace(ACCOUNT_NAME_PLACEHOLDER, name);
        (
            fill(&self.dns_host_name),
            self.service_principal_names
                .iter()
                .map(|s| fill(s))
                .collect(),
        )
    }
}

/// Everything a template version says (the name lives on the template).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TemplateDefinition {
    // 1. Setup
    pub account_type: AccountType,
    pub eol_action: EolAction,
    /// Terms of service the requester must accept.
    #[serde(default)]
    pub terms: String,
    /// What the accounts are for, shown to requesters.
    #[serde(default)]
    pub purpose: String,
    // 2. Vault
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub vault_id: VaultId,
    /// Folders where secrets go (the first is the default).
    pub folders: Vec<String>,
    #[serde(default)]
    pub allow_folder_override: bool,
    // 3. Directory
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub domain_id: DomainId,
    /// Prepended to the requested name.
    #[serde(default)]
    pub name_prefix: String,
    /// The full name (prefix included) must match it.
    #[serde(default)]
    pub name_regex: Option<String>,
    /// OU distinguished names accounts may be created in (the first is the default).
    pub ous: Vec<String>,
    #[serde(default)]
    pub allow_sub_ous: bool,
    #[serde(default)]
    pub attributes: Vec<AttributeRule>,
    #[serde(default)]
    pub cannot_change_password: bool,
    /// Where disabled accounts are moved.
    #[serde(default)]
    pub retirement_ou: Option<String>,
    /// Groups whose members may request with this template.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub audience_groups: Vec<GroupId>,
    /// Required for `gmsa` templates, refused for others.
    #[serde(default)]
    pub gmsa: Option<GmsaSettings>,
    // 4. Ownership
    #[serde(default)]
    pub ownership: Ownership,
    // 5. Lifecycle
    pub lifecycle: Lifecycle,
    // 6. Approval flow
    pub steps: Vec<ApprovalStep>,
    #[serde(default)]
    pub hide_approver_names: bool,
}

/// What only the database knows, looked up by the service before validating.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub domain_exists: bool,
    pub vault_exists: bool,
    /// OU DNs the domain's sync has seen.
    pub known_ous: HashSet<Dn>,
    /// The schema's attribute names from the domain's last full sync, lowercased (empty: not
    /// synced yet, then names are checked for form only).
    pub known_attributes: HashSet<String>,
    /// Per step: distinct enabled users the step's users and groups (through membership) reach.
    pub eligible_approvers: Vec<usize>,
    /// Users and groups named anywhere that do not exist, as (field, id).
    pub unknown_principals: Vec<(String, String)>,
}

/// Characters sAMAccountName refuses (SPEC §2.5).
pub const FORBIDDEN_NAME_CHARS: &[char] = &[
    '"', '/', '\\', '[', ']', ':', ';', '|', '=', ',', '+', '*', '?', '<', '>', '@',
];

/// Attributes a template may not set: alm sets them itself, or they are security-sensitive.
const RESERVED_ATTRIBUTES: &[&str] = &[
    "samaccountname",
    "userprincipalname",
    "unicodepwd",
    "userpassword",
    "useraccountcontrol",
    "accountexpires",
    "objectclass",
    "objectguid",
    "objectsid",
    "distinguishedname",
    "cn",
    "name",
    "memberof",
    "primarygroupid",
    "admincount",
    "ntsecuritydescriptor",
    "msds-allowedtodelegateto",
    "serviceprincipalname",
];

fn is_ldap_attribute_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.len() <= 64
}

fn folder_ok(folder: &str) -> bool {
    !folder.is_empty()
        && folder.len() <= 256
        && folder
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && !folder.chars().any(char::is_control)
}

fn dns_name_ok(name: &str) -> bool {
    name.len() <= 253
        && name.contains('.')
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `service/host[:port][/name]`, as Active Directory stores SPNs.
fn spn_ok(spn: &str) -> bool {
    let mut parts = spn.splitn(2, '/');
    let (Some(service), Some(rest)) = (parts.next(), parts.next()) else {
        return false;
    };
    !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !rest.is_empty()
        && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
        && spn.len() <= 512
}

/// A step naming someone unknown is reported for that; its approver count would only echo it.
fn step_has_unknown(facts: &Facts, step: usize) -> bool {
    let prefix = format!("steps[{step}].");
    facts
        .unknown_principals
        .iter()
        .any(|(field, _)| field.starts_with(&prefix))
}

impl TemplateDefinition {
    /// Where the definition names the group, as field paths (SPEC §2.2: a disabled group in
    /// use by templates is offered for replacement).
    pub fn group_uses(&self, group: GroupId) -> Vec<String> {
        let mut uses = Vec::new();
        if self.audience_groups.contains(&group) {
            uses.push("audience_groups".to_owned());
        }
        for (i, step) in self.steps.iter().enumerate() {
            if step.groups.contains(&group) {
                uses.push(format!("steps[{i}].groups"));
            }
        }
        if let Some(g) = &self.gmsa {
            if g.password_reader_groups.contains(&group) {
                uses.push("gmsa.password_reader_groups".to_owned());
            }
        }
        uses
    }

    /// The definition with `old` replaced by `new` wherever it is named; where `new` is named
    /// already, `old` is just removed (a group counts once in a list).
    pub fn with_group_replaced(&self, old: GroupId, new: GroupId) -> Self {
        let swap = |list: &[GroupId]| -> Vec<GroupId> {
            let mut out: Vec<GroupId> = Vec::with_capacity(list.len());
            for g in list {
                let g = if *g == old { new } else { *g };
                if !out.contains(&g) {
                    out.push(g);
                }
            }
            out
        };
        let mut d = self.clone();
        d.audience_groups = swap(&self.audience_groups);
        for step in &mut d.steps {
            step.groups = swap(&step.groups);
        }
        if let Some(g) = &mut d.gmsa {
            g.password_reader_groups = swap(&g.password_reader_groups);
        }
        d
    }

    /// Checks every rule of SPEC §2.4 and names each failing field, group by group as the
    /// template wizard asks for them.
    pub fn validate(&self, facts: &Facts) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        self.check_setup(facts, &mut e);
        self.check_vault(facts, &mut e);
        self.check_directory(facts, &mut e);
        self.check_ownership(facts, &mut e);
        self.check_lifecycle(facts, &mut e);
        self.check_approval_flow(facts, &mut e);
        e.into_result()
    }
}

/// A template's state (SPEC §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum TemplateState {
    /// Never published.
    Draft,
    /// Used by new requests.
    Published,
    /// Not offered to requesters; editable again (as a new version).
    Unpublished,
    /// No new requests, for good.
    Disabled,
}

impl TemplateState {
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateState::Draft => "draft",
            TemplateState::Published => "published",
            TemplateState::Unpublished => "unpublished",
            TemplateState::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Draft,
            Self::Published,
            Self::Unpublished,
            Self::Disabled,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for TemplateState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum VersionState {
    /// Being prepared; the only state in which a version changes.
    Draft,
    /// Prepared by someone without `provision-template-workflow:manage`; waits for a holder.
    NeedsApproval,
    /// The version new requests use.
    Published,
    /// Was published; a newer version replaced it (accounts made from it keep it).
    Superseded,
}

impl VersionState {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Draft => "draft",
            VersionState::NeedsApproval => "needs-approval",
            VersionState::Published => "published",
            VersionState::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Draft,
            Self::NeedsApproval,
            Self::Published,
            Self::Superseded,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for VersionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What asking to publish the latest version leads to, or why it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishStep {
    /// The version becomes the published one.
    Publish,
    /// The version waits for a holder of `provision-template-workflow:manage`.
    AskApproval,
}

/// The publish rule: a disabled template never comes back; a draft (or a version waiting for
/// approval) is published by a workflow manager, and only sent for approval by anyone else; a
/// version already published just re-publishes an unpublished template.
pub fn publish_step(
    template: TemplateState,
    version: VersionState,
    workflow_manager: bool,
) -> Result<PublishStep, String> {
    match (template, version) {
        (TemplateState::Disabled, _) => Err("a disabled template cannot be published".into()),
        (TemplateState::Published, VersionState::Published) => {
            Err("the template is published already; create a new version to change it".into())
        }
        (_, VersionState::Superseded) => Err("a superseded version cannot be published".into()),
        (TemplateState::Unpublished, VersionState::Published) => Ok(PublishStep::Publish),
        (_, VersionState::NeedsApproval) if !workflow_manager => Err(
            "this version waits for a holder of provision-template-workflow:manage to approve it"
                .into(),
        ),
        (_, VersionState::Draft | VersionState::NeedsApproval) if workflow_manager => {
            Ok(PublishStep::Publish)
        }
        (_, VersionState::Draft) => Ok(PublishStep::AskApproval),
        (TemplateState::Draft, VersionState::Published) => {
            Err("a draft template has no published version".into())
        }
        _ => Err("the template cannot be published in its current state".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn gid() -> GroupId {
        GroupId(Uuid::new_v4())
    }

    fn definition() -> TemplateDefinition {
        TemplateDefinition {
            account_type: AccountType::AdUser,
            eol_action: EolAction::Disable,
            terms: "Be nice".into(),
            purpose: "Web services".into(),
            vault_id: VaultId(Uuid::new_v4()),
            folders: vec!["svc/web".into()],
            allow_folder_override: false,
            domain_id: DomainId(Uuid::new_v4()),
            name_prefix: "svc-".into(),
            name_regex: Some("^svc-[a-z0-9-]+$".into()),
            ous: vec!["OU=Service,DC=corp,DC=example,DC=test".into()],
            allow_sub_ous: false,
            attributes: vec![AttributeRule {
                name: "department".into(),
                required: true,
                editable: true,
                default: None,
            }],
            cannot_change_password: true,
            retirement_ou: None,
            audience_groups: vec![gid()],
            gmsa: None,
            ownership: Ownership::default(),
            lifecycle: Lifecycle {
                intervals: vec![Interval::Days(90), Interval::Years(1)],
                renewal_window_days: 15,
                notify_renewal_open: true,
                reminder_every_days: Some(7),
                urgent_every_hours: Some(12),
                urgent_from_days: Some(3),
                include_admins_in_reminders: false,
                stop_reminders_after_days: None,
            },
            steps: vec![ApprovalStep {
                users: vec![],
                groups: vec![gid()],
                min_approvals: 2,
            }],
            hide_approver_names: false,
        }
    }

    fn facts() -> Facts {
        Facts {
            domain_exists: true,
            vault_exists: true,
            known_ous: [Dn::parse("ou=service,dc=corp,dc=example,dc=test").unwrap()].into(),
            known_attributes: ["department".to_string(), "company".to_string()].into(),
            eligible_approvers: vec![3],
            unknown_principals: vec![],
        }
    }

    fn fields(result: Result<(), ValidationErrors>) -> Vec<String> {
        result.unwrap_err().0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_complete_definition_is_valid() {
        assert!(definition().validate(&facts()).is_ok());
    }

    #[test]
    fn each_wizard_group_checks_its_own_fields_only() {
        type Check = fn(&TemplateDefinition, &Facts, &mut ValidationErrors);
        let groups: [(&str, Check); 6] = [
            ("setup", TemplateDefinition::check_setup),
            ("vault", TemplateDefinition::check_vault),
            ("directory", TemplateDefinition::check_directory),
            ("ownership", TemplateDefinition::check_ownership),
            ("lifecycle", TemplateDefinition::check_lifecycle),
            ("approval flow", TemplateDefinition::check_approval_flow),
        ];
        type Change = Box<dyn Fn(&mut TemplateDefinition)>;
        let broken: [(&str, Change, &str); 6] = [
            (
                "setup",
                Box::new(|d| d.purpose = "x".repeat(2001)),
                "purpose",
            ),
            ("vault", Box::new(|d| d.folders.clear()), "folders"),
            ("directory", Box::new(|d| d.ous.clear()), "ous"),
            (
                "ownership",
                Box::new(|d| d.ownership.min_owners = 0),
                "ownership.min_owners",
            ),
            (
                "lifecycle",
                Box::new(|d| d.lifecycle.intervals.clear()),
                "lifecycle.intervals",
            ),
            (
                "approval flow",
                Box::new(|d| d.steps[0].min_approvals = 4),
                "steps[0].min_approvals",
            ),
        ];
        for (group, change, field) in &broken {
            let mut d = definition();
            change(&mut d);
            for (name, check) in &groups {
                let mut e = ValidationErrors::new();
                check(&d, &facts(), &mut e);
                let found: Vec<String> = e.0.iter().map(|f| f.field.clone()).collect();
                if name == group {
                    assert_eq!(found, [*field], "{group}");
                } else {
                    assert!(
                        found.is_empty(),
                        "{name} reported {found:?} for a broken {group}"
                    );
                }
            }
        }
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        type Change = Box<dyn Fn(&mut TemplateDefinition)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|d| d.name_regex = Some("svc-(".into())),
                "name_regex",
            ),
            (
                Box::new(|d| d.steps[0].min_approvals = 4),
                "steps[0].min_approvals",
            ),
            (
                Box::new(|d| d.steps[0].min_approvals = 0),
                "steps[0].min_approvals",
            ),
            (
                Box::new(|d| d.ownership.min_owners = 6),
                "ownership.min_owners",
            ),
            (
                Box::new(|d| d.ownership.min_owners = 0),
                "ownership.min_owners",
            ),
            (
                Box::new(|d| d.lifecycle.intervals.clear()),
                "lifecycle.intervals",
            ),
            (
                Box::new(|d| d.lifecycle.renewal_window_days = 0),
                "lifecycle.renewal_window_days",
            ),
            (
                Box::new(|d| d.ous[0] = "OU=Elsewhere,DC=corp,DC=example,DC=test".into()),
                "ous[0]",
            ),
            (Box::new(|d| d.ous.clear()), "ous"),
            (Box::new(|d| d.folders[0] = "a/../b".into()), "folders[0]"),
            (Box::new(|d| d.name_prefix = "svc@".into()), "name_prefix"),
            (
                Box::new(|d| d.attributes[0].name = "unicodePwd".into()),
                "attributes[0].name",
            ),
            (
                Box::new(|d| d.attributes[0].name = "favouriteColour".into()),
                "attributes[0].name",
            ),
            (Box::new(|d| d.audience_groups.clear()), "audience_groups"),
            (Box::new(|d| d.steps.clear()), "steps"),
            (Box::new(|d| d.account_type = AccountType::Gmsa), "gmsa"),
            (
                Box::new(|d| d.lifecycle.urgent_from_days = None),
                "lifecycle.urgent_from_days",
            ),
        ];
        for (change, field) in cases {
            let mut d = definition();
            change(&mut d);
            assert_eq!(fields(d.validate(&facts())), [field], "{field}");
        }
    }

    #[test]
    fn template_ous_are_parsed_dns_found_in_the_sync() {
        let rule = |ou: String| {
            let mut d = definition();
            d.ous = vec![ou];
            d.validate(&facts()).err().map(|e| e.0[0].rule.clone())
        };
        assert_eq!(rule("ou=SERVICE, dc=corp,dc=example,dc=test".into()), None);
        assert_eq!(rule("Service".into()), Some("format".into()));
        assert_eq!(
            rule(format!(
                "OU={},DC=corp,DC=example,DC=test",
                "x".repeat(3000)
            )),
            Some("max-length".into())
        );
        assert_eq!(
            rule("OU=Evil\\,OU=Service,DC=corp,DC=example,DC=test".into()),
            Some("exists".into())
        );
    }

    #[test]
    fn facts_from_the_database_are_checked() {
        let f = Facts {
            domain_exists: false,
            vault_exists: false,
            unknown_principals: vec![("audience_groups[0]".into(), "x".into())],
            ..facts()
        };
        assert_eq!(
            fields(definition().validate(&f)),
            ["vault_id", "domain_id", "audience_groups[0]"]
        );
    }

    #[test]
    fn gmsa_settings_are_checked() {
        let mut d = definition();
        d.account_type = AccountType::Gmsa;
        d.name_prefix = "g-".into();
        d.gmsa = Some(GmsaSettings {
            password_reader_users: vec![],
            password_reader_groups: vec![],
            encryption: KerberosEncryption::Aes256,
            service_principal_names: vec!["HTTP/web01.corp.example.test".into(), "bad spn".into()],
            dns_host_name: "web01".into(),
        });
        assert_eq!(
            fields(d.validate(&facts())),
            [
                "gmsa.dns_host_name",
                "gmsa.service_principal_names[1]",
                "gmsa.password_reader_groups"
            ]
        );
        let g = GmsaSettings {
            password_reader_users: vec![],
            password_reader_groups: vec![],
            encryption: KerberosEncryption::Aes256,
            service_principal_names: vec!["HTTP/{name}.corp.example.test".into()],
            dns_host_name: "{name}.corp.example.test".into(),
        };
        assert_eq!(
            g.for_account("gweb"),
            (
                "gweb.corp.example.test".to_owned(),
                vec!["HTTP/gweb.corp.example.test".to_owned()]
            )
        );
    }

    #[test]
    fn a_group_is_found_and_replaced_wherever_it_is_named() {
        let mut d = definition();
        let old = GroupId(Uuid::from_u128(7));
        let new = GroupId(Uuid::from_u128(8));
        let other = GroupId(Uuid::from_u128(9));
        d.audience_groups = vec![old, other];
        d.steps[0].groups = vec![new, old];
        assert_eq!(d.group_uses(old), ["audience_groups", "steps[0].groups"]);
        assert!(d.group_uses(GroupId(Uuid::from_u128(10))).is_empty());
        let r = d.with_group_replaced(old, new);
        assert_eq!(r.audience_groups, [new, other], "in place, order kept");
        assert_eq!(r.steps[0].groups, [new], "named once");
        assert!(r.group_uses(old).is_empty());
        assert_eq!(r.steps[0].users, d.steps[0].users, "nothing else changes");
    }

    #[test]
    fn intervals_end_on_the_calendar_day() {
        use time::macros::date;
        assert_eq!(
            Interval::Days(90).end_date(date!(2026 - 11 - 29)),
            date!(2027 - 02 - 27)
        );
        assert_eq!(
            Interval::Days(1).end_date(date!(2028 - 02 - 28)),
            date!(2028 - 02 - 29)
        );
        assert_eq!(
            Interval::Years(1).end_date(date!(2026 - 11 - 29)),
            date!(2027 - 11 - 29)
        );
        assert_eq!(
            Interval::Years(1).end_date(date!(2028 - 02 - 29)),
            date!(2029 - 02 - 28)
        );
        assert_eq!(
            Interval::Years(4).end_date(date!(2028 - 02 - 29)),
            date!(2032 - 02 - 29)
        );
    }

    #[test]
    fn intervals_read_and_write_as_text() {
        assert_eq!("30d".parse::<Interval>(), Ok(Interval::Days(30)));
        assert_eq!("2y".parse::<Interval>(), Ok(Interval::Years(2)));
        for bad in [
            "0d", "d", "30", "3w", "-1d", "101y", "", "1é", "é", "+1d", "1 d",
        ] {
            assert!(bad.parse::<Interval>().is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::to_string(&Interval::Years(1)).unwrap(),
            "\"1y\""
        );
    }

    #[test]
    fn publishing_follows_the_workflow_rule() {
        use PublishStep::*;
        use TemplateState as T;
        use VersionState as V;
        assert_eq!(publish_step(T::Draft, V::Draft, true), Ok(Publish));
        assert_eq!(publish_step(T::Draft, V::Draft, false), Ok(AskApproval));
        assert!(publish_step(T::Draft, V::NeedsApproval, false).is_err());
        assert_eq!(publish_step(T::Draft, V::NeedsApproval, true), Ok(Publish));
        assert_eq!(
            publish_step(T::Unpublished, V::Published, false),
            Ok(Publish)
        );
        assert!(publish_step(T::Published, V::Published, true).is_err());
        assert!(publish_step(T::Disabled, V::Draft, true).is_err());
        assert_eq!(publish_step(T::Published, V::Draft, true), Ok(Publish));
    }
}

#[cfg(test)]
mod fuzz;
