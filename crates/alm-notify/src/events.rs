//! The events people are told about by email and in their inbox (SPEC §7.1), each with the
//! parameters its texts may use, its default texts, whom it goes to by default, and the inbox
//! category it files under (SPEC §7.3).

/// Inbox categories.
pub const MY_REQUESTS: &str = "requests";
pub const MY_APPROVALS: &str = "approvals";
pub const MY_ACCOUNTS: &str = "accounts";
pub const ADMINISTRATION: &str = "administration";

/// Who receives an event by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    SystemAdministrators,
    ApproversOfTheStep,
    Requester,
    Owners,
    /// The user the event is about (the welcome email of a new user).
    NewUser,
    /// Nobody until an administrator enables the event; then the system administrators
    /// (SPEC §7.1 "none (can be enabled for system administrators)"). Unlike the others, a
    /// disabled event of this kind reaches no inbox either: its default recipients are none.
    SystemAdministratorsWhenEnabled,
    Nobody,
}

impl Audience {
    /// Whether the event tells no one at all until it is enabled.
    pub fn opt_in(self) -> bool {
        self == Self::SystemAdministratorsWhenEnabled
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventKind {
    /// Stable key, e.g. `request.step-requires-approval`.
    pub key: &'static str,
    pub title: &'static str,
    pub audience: Audience,
    pub category: &'static str,
    pub parameters: &'static [&'static str],
    pub subject: &'static str,
    pub body: &'static str,
    /// Whether the email goes out unless an administrator switches it on or off.
    pub enabled: bool,
}

const REQUEST_PARAMS: &[&str] = &[
    "request.id",
    "request.account_name",
    "request.template",
    "request.state",
    "request.step",
    "request.reason",
    "request.requester",
    "request.url",
];

pub const TEMPLATE_NEEDS_APPROVAL: EventKind = EventKind {
    key: "template.needs-approval",
    title: "Template needs approval",
    audience: Audience::SystemAdministrators,
    category: ADMINISTRATION,
    parameters: &["template.name", "template.version", "template.url"],
    subject: "Template {{template.name}} needs your approval",
    body: "Version {{template.version}} of the workflow template {{template.name}} waits for a \
           holder of provision-template-workflow:manage to publish it.\n\n{{template.url}}\n",
    enabled: true,
};

const TEMPLATE_PARAMS: &[&str] = &["template.name", "template.version", "template.url"];

pub const TEMPLATE_PUBLISHED: EventKind = EventKind {
    key: "template.published",
    title: "Template published",
    audience: Audience::SystemAdministratorsWhenEnabled,
    category: ADMINISTRATION,
    parameters: TEMPLATE_PARAMS,
    subject: "Template {{template.name}} published",
    body: "Version {{template.version}} of the workflow template {{template.name}} is published: \
           people can request accounts with it.\n\n{{template.url}}\n",
    enabled: false,
};

pub const TEMPLATE_UNPUBLISHED: EventKind = EventKind {
    key: "template.unpublished",
    title: "Template unpublished",
    audience: Audience::SystemAdministratorsWhenEnabled,
    category: ADMINISTRATION,
    parameters: TEMPLATE_PARAMS,
    subject: "Template {{template.name}} unpublished",
    body: "The workflow template {{template.name}} is unpublished: no new requests can use it \
           until a version is published again.\n\n{{template.url}}\n",
    enabled: false,
};

pub const TEMPLATE_DEACTIVATED: EventKind = EventKind {
    key: "template.deactivated",
    title: "Template deactivated",
    audience: Audience::SystemAdministratorsWhenEnabled,
    category: ADMINISTRATION,
    parameters: TEMPLATE_PARAMS,
    subject: "Template {{template.name}} deactivated",
    body: "The workflow template {{template.name}} is deactivated for good; the accounts made \
           with it keep their lifecycle.\n\n{{template.url}}\n",
    enabled: false,
};

pub const REQUEST_SUBMITTED: EventKind = EventKind {
    key: "request.submitted",
    title: "Request submitted",
    audience: Audience::SystemAdministratorsWhenEnabled,
    category: ADMINISTRATION,
    parameters: REQUEST_PARAMS,
    subject: "Submitted: {{request.account_name}}",
    body: "{{request.requester}} submitted a request for the service account \
           {{request.account_name}} ({{request.template}}).\n\n{{request.url}}\n",
    enabled: false,
};

pub const REQUEST_QUEUED_FOR_PROVISIONING: EventKind = EventKind {
    key: "request.queued-for-provisioning",
    title: "Request queued for provisioning",
    audience: Audience::SystemAdministratorsWhenEnabled,
    category: ADMINISTRATION,
    parameters: REQUEST_PARAMS,
    subject: "Queued for provisioning: {{request.account_name}}",
    body: "The request of {{request.requester}} for {{request.account_name}} \
           ({{request.template}}) is approved and waits for an engine to create the \
           account.\n\n{{request.url}}\n",
    enabled: false,
};

/// To a user alm just created (by an administrator who asked for it, or by a user sync): how
/// to sign in. No email address among the parameters: they also go to webhooks and the SIEM,
/// and the address is the recipient already.
pub const USER_WELCOME: EventKind = EventKind {
    key: "user.welcome",
    title: "Welcome",
    audience: Audience::NewUser,
    category: ADMINISTRATION,
    parameters: &["user.display_name", "user.source", "user.sign_in_url"],
    subject: "Welcome to alm, {{user.display_name}}",
    body: "An alm account was made for you ({{user.source}}). alm manages the lifecycle of \
           service accounts: request one, approve requests, renew the ones you own.\n\n\
           Sign in: {{user.sign_in_url}}\n",
    enabled: true,
};

pub const REQUEST_STEP_REQUIRES_APPROVAL: EventKind = EventKind {
    key: "request.step-requires-approval",
    title: "Request waits for your approval",
    audience: Audience::ApproversOfTheStep,
    category: MY_APPROVALS,
    parameters: REQUEST_PARAMS,
    subject: "Approval needed: {{request.account_name}}",
    body: "{{request.requester}} requests the service account {{request.account_name}} \
           ({{request.template}}). Step {{request.step}} waits for your decision.\n\n{{request.url}}\n",
    enabled: true,
};

pub const REQUEST_APPROVED: EventKind = EventKind {
    key: "request.approved",
    title: "Request approved",
    audience: Audience::Requester,
    category: MY_REQUESTS,
    parameters: REQUEST_PARAMS,
    subject: "Approved: {{request.account_name}}",
    body: "Your request for {{request.account_name}} was approved; the account is being \
           created.\n\n{{request.url}}\n",
    enabled: true,
};

pub const REQUEST_REJECTED: EventKind = EventKind {
    key: "request.rejected",
    title: "Request rejected",
    audience: Audience::Requester,
    category: MY_REQUESTS,
    parameters: REQUEST_PARAMS,
    subject: "Rejected: {{request.account_name}}",
    body: "Your request for {{request.account_name}} was rejected.\n\nReason: {{request.reason}}\n\n{{request.url}}\n",
    enabled: true,
};

pub const REQUEST_PROVISIONED: EventKind = EventKind {
    key: "request.provisioned",
    title: "Account created",
    audience: Audience::Requester,
    category: MY_REQUESTS,
    parameters: REQUEST_PARAMS,
    subject: "Created: {{request.account_name}}",
    body: "The service account {{request.account_name}} exists now; you are its owner and its \
           password is in the template's vault.\n\n{{request.url}}\n",
    enabled: true,
};

/// Sent once when provisioning starts failing for a reason that passes (the DC or vault
/// unreachable); the job keeps running again until it can.
pub const REQUEST_PROVISIONING_RETRYING: EventKind = EventKind {
    key: "request.provisioning-retrying",
    title: "Provisioning delayed",
    audience: Audience::Requester,
    category: MY_REQUESTS,
    parameters: REQUEST_PARAMS,
    subject: "Delayed: {{request.account_name}}",
    body: "Creating {{request.account_name}} could not finish yet. alm tries again by itself, \
           a little less often each time (at least every ten minutes), until it can; you will \
           hear when it is done.\n\nReason: {{request.reason}}\n\n{{request.url}}\n",
    enabled: true,
};

/// Sent when provisioning ends without an account: nothing is retried by itself any more.
pub const REQUEST_PROVISIONING_FAILED: EventKind = EventKind {
    key: "request.provisioning-failed",
    title: "Provisioning failed",
    audience: Audience::Requester,
    category: MY_REQUESTS,
    parameters: REQUEST_PARAMS,
    subject: "Not created: {{request.account_name}}",
    body: "Creating {{request.account_name}} failed and is not retried by itself.\n\n\
           Reason: {{request.reason}}\n\nOnce what the reason names is fixed, retry the \
           request; or abandon it to free the name.\n\n{{request.url}}\n",
    enabled: true,
};

pub const ACCOUNT_OWNERSHIP_CHANGED: EventKind = EventKind {
    key: "account.ownership-changed",
    title: "Ownership changed",
    audience: Audience::Owners,
    category: MY_ACCOUNTS,
    parameters: &["account.name", "account.change", "account.url"],
    subject: "Owners of {{account.name}} changed",
    body: "The owners of {{account.name}} changed: {{account.change}}.\n\n{{account.url}}\n",
    enabled: true,
};

const ACCOUNT_LIFECYCLE_PARAMS: &[&str] = &[
    "account.name",
    "account.eol_at",
    "account.eol_action",
    "account.renewal_at",
    "account.url",
];

pub const ACCOUNT_REQUIRES_RENEWAL: EventKind = EventKind {
    key: "account.requires-renewal",
    title: "Renewal is open",
    audience: Audience::Owners,
    category: MY_ACCOUNTS,
    parameters: ACCOUNT_LIFECYCLE_PARAMS,
    subject: "Renewal open: {{account.name}} ends {{account.eol_at}}",
    body: "The service account {{account.name}} reaches the end of its lifecycle at \
           {{account.eol_at}} ({{account.eol_action}}). Renew it, or let it go.\n\n{{account.url}}\n",
    enabled: true,
};

pub const ACCOUNT_REMINDER: EventKind = EventKind {
    key: "account.reminder",
    title: "Renewal reminder",
    audience: Audience::Owners,
    category: MY_ACCOUNTS,
    parameters: ACCOUNT_LIFECYCLE_PARAMS,
    subject: "Reminder: {{account.name}} ends {{account.eol_at}}",
    body: "The service account {{account.name}} still waits for renewal; its lifecycle ends at \
           {{account.eol_at}} ({{account.eol_action}}).\n\n{{account.url}}\n",
    enabled: true,
};

pub const ACCOUNT_URGENT_REMINDER: EventKind = EventKind {
    key: "account.urgent-reminder",
    title: "Urgent renewal reminder",
    audience: Audience::Owners,
    category: MY_ACCOUNTS,
    parameters: ACCOUNT_LIFECYCLE_PARAMS,
    subject: "Urgent: {{account.name}} ends {{account.eol_at}}",
    body: "The service account {{account.name}} reaches the end of its lifecycle at \
           {{account.eol_at}} ({{account.eol_action}}) and has not been renewed.\n\n{{account.url}}\n",
    enabled: true,
};

pub const DOMAIN_NEW_EXTERNAL_ACCOUNTS: EventKind = EventKind {
    key: "domain.new-external-accounts",
    title: "New unmanaged accounts in the directory",
    audience: Audience::SystemAdministrators,
    category: ADMINISTRATION,
    parameters: &[
        "domain.name",
        "sync.new_count",
        "sync.new_accounts",
        "domain.url",
    ],
    subject: "{{domain.name}}: {{sync.new_count}} new account(s) not managed by alm",
    body: "The directory sync of {{domain.name}} found accounts that appeared outside alm: \
           {{sync.new_accounts}}.\n\nImport them (POST /api/v1/domains/<id>/import) or find out \
           who made them.\n\n{{domain.url}}\n",
    enabled: true,
};

pub const DOMAIN_USERS_DISABLED_BY_SYNC: EventKind = EventKind {
    key: "domain.users-disabled-by-sync",
    title: "Users disabled by a directory sync",
    audience: Audience::SystemAdministrators,
    category: ADMINISTRATION,
    parameters: &[
        "domain.name",
        "sync.users_disabled",
        "sync.orphaned_count",
        "sync.orphaned_accounts",
        "domain.url",
    ],
    subject: "{{domain.name}}: {{sync.users_disabled}} user(s) disabled, {{sync.orphaned_count}} account(s) without an owner",
    body: "The directory sync of {{domain.name}} disabled {{sync.users_disabled}} user(s) who \
           left the synced groups or were disabled in the directory.\n\nManaged accounts left \
           without an enabled owner ({{sync.orphaned_count}}): {{sync.orphaned_accounts}}\n\n\
           Give them new owners: GET /api/v1/accounts?orphaned=true lists them.\n\n{{domain.url}}\n",
    enabled: true,
};

/// Every event with email and inbox texts.
pub const ALL: &[EventKind] = &[
    USER_WELCOME,
    TEMPLATE_NEEDS_APPROVAL,
    TEMPLATE_PUBLISHED,
    TEMPLATE_UNPUBLISHED,
    TEMPLATE_DEACTIVATED,
    REQUEST_SUBMITTED,
    REQUEST_STEP_REQUIRES_APPROVAL,
    REQUEST_APPROVED,
    REQUEST_REJECTED,
    REQUEST_QUEUED_FOR_PROVISIONING,
    REQUEST_PROVISIONED,
    REQUEST_PROVISIONING_RETRYING,
    REQUEST_PROVISIONING_FAILED,
    ACCOUNT_OWNERSHIP_CHANGED,
    DOMAIN_USERS_DISABLED_BY_SYNC,
    DOMAIN_NEW_EXTERNAL_ACCOUNTS,
    ACCOUNT_REQUIRES_RENEWAL,
    ACCOUNT_REMINDER,
    ACCOUNT_URGENT_REMINDER,
];

pub fn by_key(key: &str) -> Option<EventKind> {
    ALL.iter().copied().find(|e| e.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::unknown_placeholders;

    #[test]
    fn default_texts_use_only_their_events_parameters() {
        for e in ALL {
            assert!(
                unknown_placeholders(e.subject, e.parameters).is_empty(),
                "{}",
                e.key
            );
            assert!(
                unknown_placeholders(e.body, e.parameters).is_empty(),
                "{}",
                e.key
            );
            assert_eq!(by_key(e.key), Some(*e));
        }
    }

    /// SPEC §7.1's "none" rows are off by default and, when enabled, go to the system
    /// administrators; every other event is on.
    #[test]
    fn the_none_rows_of_the_spec_are_opt_in() {
        let none = [
            "template.published",
            "template.unpublished",
            "template.deactivated",
            "request.submitted",
            "request.queued-for-provisioning",
        ];
        for e in ALL {
            let opt_in = none.contains(&e.key);
            assert_eq!(e.audience.opt_in(), opt_in, "{}", e.key);
            assert_eq!(e.enabled, !opt_in, "{}", e.key);
        }
        let keys: Vec<&str> = ALL.iter().map(|e| e.key).collect();
        let unique: std::collections::BTreeSet<&str> = keys.iter().copied().collect();
        assert_eq!(keys.len(), unique.len(), "one entry per event");
    }
}
