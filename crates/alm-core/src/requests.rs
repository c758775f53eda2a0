//! Requests and approvals (SPEC §2.5, §2.6), the pure parts: the account-name rules, the
//! checks of a request against its template, the states, and when an approval step is done.

use crate::dn::Dn;
use crate::ids::{GroupId, UserId};
use crate::templates::{Interval, TemplateDefinition};
use crate::validation::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// A request's state (SPEC §2.5). `submitted` is passed through at once to step 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestState {
    Draft,
    PendingApproval,
    Approved,
    QueuedForProvisioning,
    Provisioning,
    /// An attempt failed for a reason that passes (the DC or vault unreachable): the job runs
    /// again at its next attempt time, for as long as the outage lasts.
    Retrying,
    Provisioned,
    /// Failed for good: the reason names what to fix; the request can be retried or abandoned.
    ProvisioningFailed,
    Rejected,
    Withdrawn,
    /// Given up after failing: its name is free again.
    Abandoned,
}

impl RequestState {
    pub const ALL: [RequestState; 11] = [
        Self::Draft,
        Self::PendingApproval,
        Self::Approved,
        Self::QueuedForProvisioning,
        Self::Provisioning,
        Self::Retrying,
        Self::Provisioned,
        Self::ProvisioningFailed,
        Self::Rejected,
        Self::Withdrawn,
        Self::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::PendingApproval => "pending-approval",
            Self::Approved => "approved",
            Self::QueuedForProvisioning => "queued-for-provisioning",
            Self::Provisioning => "provisioning",
            Self::Retrying => "retrying",
            Self::Provisioned => "provisioned",
            Self::ProvisioningFailed => "provisioning-failed",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
            Self::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the request holds its account name (no second request or account may take it).
    pub fn holds_name(self) -> bool {
        !matches!(
            self,
            Self::Draft | Self::Rejected | Self::Withdrawn | Self::Abandoned
        )
    }

    /// Whether provisioning stopped or waits after a failure, so that a person may retry it
    /// now or abandon it.
    pub fn recoverable(self) -> bool {
        matches!(self, Self::Retrying | Self::ProvisioningFailed)
    }

    /// Whether the requester may still withdraw it.
    pub fn withdrawable(self) -> bool {
        matches!(self, Self::Draft | Self::PendingApproval)
    }
}

impl std::fmt::Display for RequestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::text_enum! {
    /// What a request asks for (SPEC §2.5, §4.2).
    pub enum RequestKind {
        /// An account to make.
        New = "new",
        /// A longer lifecycle for an existing account.
        Renewal = "renewal",
    }
}

crate::text_enum! {
    /// An approver's decision on one step (SPEC §2.6).
    pub enum Decision {
        Approved = "approved",
        Denied = "denied",
    }
}

pub use crate::account_name::{AccountName, Upn};

/// Who will own the account besides the requester (the first owner).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owners {
    #[serde(default)]
    pub users: Vec<UserId>,
    #[serde(default)]
    pub groups: Vec<GroupId>,
}

/// What a requester fills in (SPEC §2.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestDetails {
    pub interval: Interval,
    pub justification: String,
    pub description: String,
    pub attributes: BTreeMap<String, String>,
    pub owners: Owners,
    /// The OU to create the account in (the template's first when not chosen).
    pub ou: String,
    /// The vault folder (the template's first when not chosen).
    pub folder: String,
    pub terms_accepted: bool,
}

/// The checks of a request against its template version. `requester` is the first owner;
/// `owners` are the others. `known_ous` are the OUs of the domain's last sync (a fact only
/// the database knows): the chosen OU must be one of them.
pub fn check_details(
    template: &TemplateDefinition,
    requester: UserId,
    d: &RequestDetails,
    known_ous: &HashSet<Dn>,
) -> Result<(), ValidationErrors> {
    let mut e = ValidationErrors::new();
    if !template.terms.trim().is_empty() && !d.terms_accepted {
        e.push(FieldError::new(
            "terms_accepted",
            "required",
            "the template's terms of service must be accepted",
        ));
    }
    if !template.lifecycle.intervals.contains(&d.interval) {
        let offered: Vec<String> = template
            .lifecycle
            .intervals
            .iter()
            .map(ToString::to_string)
            .collect();
        e.push(FieldError::new(
            "interval",
            "one-of",
            format!("must be one of {}", offered.join(", ")),
        ));
    }
    let justification = d.justification.trim();
    if justification.is_empty() {
        e.push(FieldError::new(
            "justification",
            "required",
            "say why the account is needed",
        ));
    } else if justification.chars().count() > 2000 {
        e.push(FieldError::new(
            "justification",
            "max-length",
            "at most 2000 characters",
        ));
    }
    if d.description.chars().count() > 1024 {
        e.push(FieldError::new(
            "description",
            "max-length",
            "at most 1024 characters (the directory's limit)",
        ));
    }
    // Attributes: only the template's; required ones present; fixed ones unchanged.
    for name in d.attributes.keys() {
        if !template
            .attributes
            .iter()
            .any(|a| a.name.eq_ignore_ascii_case(name))
        {
            e.push(FieldError::new(
                format!("attributes.{name}"),
                "unknown",
                "the template does not have this attribute",
            ));
        }
    }
    for rule in &template.attributes {
        let given = d
            .attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&rule.name))
            .map(|(_, v)| v.trim());
        let value = given.filter(|v| !v.is_empty()).or(rule.default.as_deref());
        let field = format!("attributes.{}", rule.name);
        if rule.required && value.is_none_or(str::is_empty) {
            e.push(FieldError::new(
                field.clone(),
                "required",
                "a value is required",
            ));
        }
        if !rule.editable {
            if let Some(v) = given.filter(|v| Some(*v) != rule.default.as_deref()) {
                let _ = v;
                e.push(FieldError::new(
                    field.clone(),
                    "read-only",
                    "the template fixes this value",
                ));
            }
        }
        if value.is_some_and(|v| v.chars().count() > 1024 || v.chars().any(char::is_control)) {
            e.push(FieldError::new(
                field,
                "format",
                "at most 1024 printable characters",
            ));
        }
    }
    // Owners: the requester first; others within the template's rules.
    let o = &template.ownership;
    let mut users: HashSet<UserId> = HashSet::from([requester]);
    users.extend(d.owners.users.iter().copied());
    let groups: HashSet<GroupId> = d.owners.groups.iter().copied().collect();
    if o.requester_only_owner && (users.len() > 1 || !groups.is_empty()) {
        e.push(FieldError::new(
            "owners",
            "not-allowed",
            "the requester is the only owner with this template",
        ));
    }
    if !o.allow_group_owners && !groups.is_empty() {
        e.push(FieldError::new(
            "owners.groups",
            "not-allowed",
            "the template does not allow group owners",
        ));
    }
    let count = (users.len() + groups.len()) as u32;
    if count < o.min_owners || count > o.max_owners {
        e.push(FieldError::new(
            "owners",
            "range",
            format!(
                "{count} owner(s) with the requester; the template wants {} to {}",
                o.min_owners, o.max_owners
            ),
        ));
    }
    // Where the account and its secret go.
    if let Err(error) = check_ou(template, &d.ou, known_ous) {
        e.push(error);
    }
    let folder_ok = template.folders.iter().any(|f| {
        d.folder == *f
            || (template.allow_folder_override
                && d.folder.starts_with(&format!("{f}/"))
                && d.folder[f.len() + 1..]
                    .split('/')
                    .all(|p| !p.is_empty() && p != "." && p != ".."))
    });
    if !folder_ok {
        e.push(FieldError::new(
            "folder",
            "one-of",
            if template.allow_folder_override {
                "must be one of the template's folders or a sub-folder of one"
            } else {
                "must be one of the template's folders"
            },
        ));
    }
    e.into_result()
}

/// The chosen OU: a DN (RFC 4514, bounded), one of the template's OUs or (when the template
/// allows sub-OUs) below one, compared RDN by RDN (as text, `OU=Evil\,OU=Svc,DC=x` would end
/// with `,OU=Svc,DC=x` yet it is a child of `DC=x`), and present in the domain's last sync.
/// A template OU that does not parse offers nothing (templates are checked when saved).
/// Returns the OU as the last sync has it (the directory's spelling).
pub fn check_ou<'k>(
    template: &TemplateDefinition,
    ou: &str,
    known_ous: &'k HashSet<Dn>,
) -> Result<&'k Dn, FieldError> {
    let chosen = Dn::parse(ou).map_err(|e| e.field_error("ou"))?;
    let offered = template
        .ous
        .iter()
        .filter_map(|t| Dn::parse(t).ok())
        .any(|t| chosen == t || (template.allow_sub_ous && chosen.is_under(&t)));
    if !offered {
        return Err(FieldError::new(
            "ou",
            "one-of",
            if template.allow_sub_ous {
                "must be one of the template's OUs or an OU below one"
            } else {
                "must be one of the template's OUs"
            },
        ));
    }
    known_ous.get(&chosen).ok_or_else(|| {
        FieldError::new(
            "ou",
            "exists",
            "no OU with this DN in the domain's last sync (sync the domain, or choose another)",
        )
    })
}

/// Whether a step is complete: at least `k` distinct eligible approvers approved. Approvals by
/// anyone not eligible (or the requester) never count.
pub fn step_complete(
    approvals: &[UserId],
    eligible: &HashSet<UserId>,
    requester: UserId,
    k: u32,
) -> bool {
    let distinct: HashSet<&UserId> = approvals
        .iter()
        .filter(|a| eligible.contains(a) && **a != requester)
        .collect();
    distinct.len() as u32 >= k
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full name as text, as these tests were written against.
    fn full_account_name(
        field: &str,
        requested: &str,
        t: &TemplateDefinition,
    ) -> Result<String, FieldError> {
        AccountName::requested(field, requested, t).map(AccountName::into_string)
    }
    use crate::ids::{DomainId, VaultId};
    use crate::templates::*;
    use uuid::Uuid;

    fn template() -> TemplateDefinition {
        TemplateDefinition {
            account_type: AccountType::AdUser,
            eol_action: EolAction::Expire,
            terms: "Terms".into(),
            purpose: String::new(),
            vault_id: VaultId(Uuid::nil()),
            folders: vec!["svc".into()],
            allow_folder_override: true,
            domain_id: DomainId(Uuid::nil()),
            name_prefix: "svc-".into(),
            name_regex: Some("svc-[a-z0-9-]+".into()),
            ous: vec!["OU=Svc,DC=corp,DC=test".into()],
            allow_sub_ous: true,
            attributes: vec![
                AttributeRule {
                    name: "department".into(),
                    required: true,
                    editable: true,
                    default: None,
                },
                AttributeRule {
                    name: "company".into(),
                    required: false,
                    editable: false,
                    default: Some("Corp".into()),
                },
            ],
            cannot_change_password: false,
            retirement_ou: None,
            audience_groups: vec![],
            gmsa: None,
            ownership: Ownership {
                allow_group_owners: false,
                requester_only_owner: false,
                min_owners: 1,
                max_owners: 2,
            },
            lifecycle: Lifecycle {
                intervals: vec![Interval::Days(90)],
                renewal_window_days: 15,
                notify_renewal_open: true,
                reminder_every_days: None,
                urgent_every_hours: None,
                urgent_from_days: None,
                include_admins_in_reminders: false,
                stop_reminders_after_days: None,
            },
            steps: vec![],
            hide_approver_names: false,
        }
    }

    fn details() -> RequestDetails {
        RequestDetails {
            interval: Interval::Days(90),
            justification: "for the web shop".into(),
            description: "web shop".into(),
            attributes: [("department".to_string(), "IT".to_string())].into(),
            owners: Owners::default(),
            ou: "OU=Svc,DC=corp,DC=test".into(),
            folder: "svc".into(),
            terms_accepted: true,
        }
    }

    fn me() -> UserId {
        UserId(Uuid::from_u128(1))
    }

    /// The domain's synced OUs.
    fn known() -> HashSet<Dn> {
        [
            "OU=Svc,DC=corp,DC=test",
            "OU=Web,OU=Svc,DC=corp,DC=test",
            "OU=Evil\\,OU=Svc,DC=corp,DC=test",
            "OU=Other,DC=corp,DC=test",
        ]
        .iter()
        .map(|d| Dn::parse(d).unwrap())
        .collect()
    }

    #[test]
    fn names_get_the_prefix_and_follow_the_directory_rules() {
        let t = template();
        assert_eq!(full_account_name("n", "web01", &t).unwrap(), "svc-web01");
        let rule = |name: &str| full_account_name("n", name, &t).unwrap_err().rule;
        assert_eq!(rule("web-shop-frontend-1"), "max-length"); // 23 with the prefix
        assert_eq!(rule("web*1"), "characters");
        assert_eq!(rule("Web01"), "pattern"); // upper case is outside [a-z0-9-]
        assert_eq!(rule(" "), "required");
        assert_eq!(
            full_account_name("n", "a123456789012345", &t)
                .unwrap()
                .len(),
            20
        );
        let mut gmsa = template();
        gmsa.account_type = AccountType::Gmsa;
        gmsa.name_regex = None;
        assert_eq!(
            full_account_name("n", "a12345678901", &gmsa)
                .unwrap_err()
                .rule,
            "max-length"
        );
        assert_eq!(
            full_account_name("n", "a1234567890", &gmsa).unwrap(),
            "svc-a1234567890"
        );
    }

    #[test]
    fn a_pattern_must_match_the_whole_name() {
        let mut t = template();
        t.name_regex = Some("web".into());
        assert_eq!(
            full_account_name("n", "web", &t).unwrap_err().rule,
            "pattern"
        );
        t.name_regex = Some("svc-web".into());
        assert!(full_account_name("n", "web", &t).is_ok());
    }

    #[test]
    fn details_are_checked_against_the_template() {
        let t = template();
        assert!(check_details(&t, me(), &details(), &known()).is_ok());
        type Change = Box<dyn Fn(&mut RequestDetails)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|d| d.terms_accepted = false), "terms_accepted"),
            (Box::new(|d| d.interval = Interval::Years(1)), "interval"),
            (Box::new(|d| d.justification = " ".into()), "justification"),
            (
                Box::new(|d| {
                    d.attributes.clear();
                }),
                "attributes.department",
            ),
            (
                Box::new(|d| {
                    d.attributes.insert("company".into(), "Other".into());
                }),
                "attributes.company",
            ),
            (
                Box::new(|d| {
                    d.attributes.insert("title".into(), "x".into());
                }),
                "attributes.title",
            ),
            (
                Box::new(|d| {
                    d.owners.users = vec![UserId(Uuid::from_u128(2)), UserId(Uuid::from_u128(3))]
                }),
                "owners",
            ),
            (
                Box::new(|d| d.owners.groups = vec![GroupId(Uuid::from_u128(4))]),
                "owners.groups",
            ),
            (Box::new(|d| d.ou = "OU=Other,DC=corp,DC=test".into()), "ou"),
            (Box::new(|d| d.folder = "other".into()), "folder"),
            (Box::new(|d| d.folder = "svc/../x".into()), "folder"),
        ];
        for (change, field) in cases {
            let mut d = details();
            change(&mut d);
            let errors = check_details(&t, me(), &d, &known()).unwrap_err();
            let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, [field], "{field}");
        }
        let mut d = details();
        d.ou = "OU=Web,OU=Svc,DC=corp,DC=test".into();
        d.folder = "svc/web".into();
        d.owners.users = vec![me()];
        assert!(
            check_details(&t, me(), &d, &known()).is_ok(),
            "sub-OU, sub-folder, requester named twice"
        );
    }

    #[test]
    fn the_ou_is_compared_rdn_by_rdn_and_must_exist() {
        let t = template();
        let rule = |ou: &str| check_ou(&t, ou, &known()).map(|_| ()).map_err(|e| e.rule);
        assert_eq!(rule("OU=Svc,DC=corp,DC=test"), Ok(()));
        assert_eq!(
            rule("ou=web, ou=SVC, dc=corp, dc=test"),
            Ok(()),
            "written differently"
        );
        // A sibling of Svc whose RDN value holds a comma (it exists: only the rule refuses it).
        assert_eq!(
            rule("OU=Evil\\,OU=Svc,DC=corp,DC=test"),
            Err("one-of".into())
        );
        assert_eq!(
            rule("OU=Evil\\2cOU=Svc,DC=corp,DC=test"),
            Err("one-of".into())
        );
        // Below the template's OU, but not in the last sync.
        assert_eq!(rule("OU=Nope,OU=Svc,DC=corp,DC=test"), Err("exists".into()));
        assert_eq!(
            rule(&format!("OU={},OU=Svc,DC=corp,DC=test", "x".repeat(10_000))),
            Err("max-length".into())
        );
        assert_eq!(rule("Svc"), Err("format".into()));
        let mut exact = template();
        exact.allow_sub_ous = false;
        assert!(check_ou(&exact, "OU=Web,OU=Svc,DC=corp,DC=test", &known()).is_err());
        assert!(check_ou(&exact, "ou=svc,dc=corp,dc=test", &known()).is_ok());
    }

    #[test]
    fn a_step_needs_k_distinct_eligible_approvers_never_the_requester() {
        let (a, b, c) = (
            UserId(Uuid::from_u128(10)),
            UserId(Uuid::from_u128(11)),
            UserId(Uuid::from_u128(12)),
        );
        let eligible: HashSet<UserId> = [a, b, me()].into();
        assert!(
            !step_complete(&[a, a], &eligible, me(), 2),
            "twice counts once"
        );
        assert!(
            !step_complete(&[a, c], &eligible, me(), 2),
            "c is not eligible"
        );
        assert!(
            !step_complete(&[a, me()], &eligible, me(), 2),
            "the requester never counts"
        );
        assert!(step_complete(&[a, b], &eligible, me(), 2));
    }
}
