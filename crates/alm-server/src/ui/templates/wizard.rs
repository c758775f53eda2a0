//! The template wizard (SPEC §2.4): the six groups — Setup, Vault, Directory, Ownership,
//! Lifecycle, Approval flow — as one form in six sections, read from the posted fields into a
//! [`TemplateDefinition`] (every value that does not parse is an error at its field, and
//! nothing is saved), and written back from a definition for editing. Approvers and gMSA
//! password readers are typed as email addresses and alm groups by name
//! (`services::template_names`); attribute rows and approval steps are numbered rows, with
//! empty rows left out and the service's errors moved back to the row they came from.

use super::*;
use crate::services::template_names as names;
use alm_core::templates::{
    AccountType, ApprovalStep, AttributeRule, EolAction, GmsaSettings, Interval,
    KerberosEncryption, Lifecycle, Ownership, TemplateDefinition,
};
use std::collections::HashMap;

/// The posted fields, first value of each name (every field of the wizard is single-valued).
#[derive(Debug, Clone, Default)]
pub(super) struct Values(HashMap<String, String>);

impl Values {
    pub(super) fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut map = HashMap::new();
        for (k, v) in pairs {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Self(map)
    }

    pub(super) fn get(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or("")
    }

    fn ticked(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    fn tick(&mut self, name: &str, on: bool) {
        if on {
            self.set(name, "yes");
        }
    }

    /// How many numbered rows (`prefix0`, `prefix1`, …) were posted.
    fn rows(&self, prefix: &str) -> usize {
        (0..MAX_ROWS)
            .take_while(|i| self.0.contains_key(&format!("{prefix}{i}")))
            .count()
    }

    /// The values of a new template.
    pub(super) fn defaults(domain: Option<String>, vault: Option<String>) -> Self {
        let mut v = Self::default();
        v.set("account_type", "ad-user");
        v.set("eol_action", "review");
        v.set("domain_id", domain.unwrap_or_default());
        v.set("vault_id", vault.unwrap_or_default());
        v.set("min_owners", "1");
        v.set("max_owners", "5");
        v.set("intervals", "90d, 1y");
        v.set("renewal_window_days", "15");
        v.tick("notify_renewal_open", true);
        v.tick("attr_editable_0", true);
        v.set("step_min_0", "1");
        v.set("gmsa_encryption", "aes256");
        v
    }
}

/// Rows read at most (a bound on what a form can make the server loop over).
const MAX_ROWS: usize = 50;

fn lines(text: &str) -> Vec<String> {
    crate::ui::form::lines(text)
}

fn whole(field: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<u32> {
    match text.trim().parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "format",
                format!("must be a whole number, not {:?}", text.trim()),
            ));
            None
        }
    }
}

fn optional_whole(field: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<u32> {
    if text.trim().is_empty() {
        None
    } else {
        whole(field, text, errors)
    }
}

fn encryption(text: &str) -> Option<KerberosEncryption> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
}

fn encryption_text(e: KerberosEncryption) -> String {
    serde_json::to_value(e)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Which form row each compacted entry came from (empty rows are left out of the definition,
/// so the service's `steps[1]` may be the form's third row).
#[derive(Debug, Default)]
pub(super) struct RowMap {
    attributes: Vec<usize>,
    steps: Vec<usize>,
}

impl RowMap {
    /// The service's field name with its row index turned into the form row's.
    fn form_field(&self, field: &str) -> String {
        for (list, rows) in [("attributes", &self.attributes), ("steps", &self.steps)] {
            let Some(rest) = field.strip_prefix(&format!("{list}[")) else {
                continue;
            };
            let Some((index, tail)) = rest.split_once(']') else {
                continue;
            };
            if let Some(row) = index.parse::<usize>().ok().and_then(|i| rows.get(i)) {
                return format!("{list}[{row}]{tail}");
            }
        }
        field.to_owned()
    }

    pub(super) fn rewrite(&self, errors: Vec<FieldError>) -> Vec<FieldError> {
        errors
            .into_iter()
            .map(|mut e| {
                e.field = self.form_field(&e.field);
                e
            })
            .collect()
    }
}

/// The name and definition the posted wizard describes, or the errors at their fields.
pub(super) async fn read(
    s: &AppState,
    can: &Can<perm::TemplateRead>,
    v: &Values,
) -> ServiceResult<(String, TemplateDefinition, RowMap)> {
    let mut errors = Vec::new();
    let mut rows = RowMap::default();
    let name = v.get("name").trim().to_owned();
    if name.is_empty() {
        errors.push(FieldError::new(
            "name",
            "required",
            "give the template a name",
        ));
    }
    let account_type = AccountType::parse(v.get("account_type"));
    if account_type.is_none() {
        errors.push(FieldError::new(
            "account_type",
            "one-of",
            "choose the kind of account",
        ));
    }
    let eol_action = EolAction::parse(v.get("eol_action"));
    if eol_action.is_none() {
        errors.push(FieldError::new(
            "eol_action",
            "one-of",
            "choose what happens at the end of the lifecycle",
        ));
    }
    let vault_id = v.get("vault_id").parse().ok();
    if vault_id.is_none() {
        errors.push(FieldError::new("vault_id", "required", "choose a vault"));
    }
    let domain_id = v.get("domain_id").parse().ok();
    if domain_id.is_none() {
        errors.push(FieldError::new("domain_id", "required", "choose a domain"));
    }
    let mut attributes = Vec::new();
    for i in 0..v.rows("attr_name_") {
        let name = v.get(&format!("attr_name_{i}")).trim();
        if name.is_empty() {
            continue;
        }
        rows.attributes.push(i);
        let default = v.get(&format!("attr_default_{i}")).trim();
        attributes.push(AttributeRule {
            name: name.to_owned(),
            required: v.ticked(&format!("attr_required_{i}")),
            editable: v.ticked(&format!("attr_editable_{i}")),
            default: (!default.is_empty()).then(|| default.to_owned()),
        });
    }
    let audience_groups = names::group_ids(
        &s.db,
        can,
        "audience_groups",
        &lines(v.get("audience_groups")),
        &mut errors,
    )
    .await?;
    let gmsa = if account_type == Some(AccountType::Gmsa) {
        let readers = names::user_ids(
            &s.db,
            can,
            "gmsa.password_reader_users",
            &lines(v.get("gmsa_reader_users")),
            &mut errors,
        )
        .await?;
        let reader_groups = names::group_ids(
            &s.db,
            can,
            "gmsa.password_reader_groups",
            &lines(v.get("gmsa_reader_groups")),
            &mut errors,
        )
        .await?;
        let encryption = encryption(v.get("gmsa_encryption"));
        if encryption.is_none() {
            errors.push(FieldError::new(
                "gmsa.encryption",
                "one-of",
                "choose the Kerberos encryption",
            ));
        }
        Some(GmsaSettings {
            password_reader_users: readers,
            password_reader_groups: reader_groups,
            encryption: encryption.unwrap_or(KerberosEncryption::Aes256),
            service_principal_names: lines(v.get("gmsa_spns")),
            dns_host_name: v.get("gmsa_dns_host_name").trim().to_owned(),
        })
    } else {
        None
    };
    let min_owners = whole("ownership.min_owners", v.get("min_owners"), &mut errors);
    let max_owners = whole("ownership.max_owners", v.get("max_owners"), &mut errors);
    let mut intervals = Vec::new();
    for text in v
        .get("intervals")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
    {
        match text.parse::<Interval>() {
            Ok(i) => intervals.push(i),
            Err(e) => errors.push(FieldError::new("lifecycle.intervals", "format", e)),
        }
    }
    let renewal_window_days = whole(
        "lifecycle.renewal_window_days",
        v.get("renewal_window_days"),
        &mut errors,
    );
    let lifecycle = Lifecycle {
        intervals,
        renewal_window_days: renewal_window_days.unwrap_or_default(),
        notify_renewal_open: v.ticked("notify_renewal_open"),
        reminder_every_days: optional_whole(
            "lifecycle.reminder_every_days",
            v.get("reminder_every_days"),
            &mut errors,
        ),
        urgent_every_hours: optional_whole(
            "lifecycle.urgent_every_hours",
            v.get("urgent_every_hours"),
            &mut errors,
        ),
        urgent_from_days: optional_whole(
            "lifecycle.urgent_from_days",
            v.get("urgent_from_days"),
            &mut errors,
        ),
        include_admins_in_reminders: v.ticked("include_admins_in_reminders"),
        stop_reminders_after_days: optional_whole(
            "lifecycle.stop_reminders_after_days",
            v.get("stop_reminders_after_days"),
            &mut errors,
        ),
    };
    let mut steps = Vec::new();
    for i in 0..v.rows("step_min_") {
        let users = lines(v.get(&format!("step_users_{i}")));
        let groups = lines(v.get(&format!("step_groups_{i}")));
        if users.is_empty() && groups.is_empty() {
            continue;
        }
        let at = steps.len();
        rows.steps.push(i);
        let field = |list: &str| format!("steps[{at}].{list}");
        let users = names::user_ids(&s.db, can, &field("users"), &users, &mut errors).await?;
        let groups = names::group_ids(&s.db, can, &field("groups"), &groups, &mut errors).await?;
        let min = whole(
            &field("min_approvals"),
            v.get(&format!("step_min_{i}")),
            &mut errors,
        );
        steps.push(ApprovalStep {
            users,
            groups,
            min_approvals: min.unwrap_or_default(),
        });
    }
    let errors = rows.rewrite(errors);
    if !errors.is_empty() {
        return Err(ServiceError::Validation(alm_core::ValidationErrors(errors)));
    }
    let (Some(account_type), Some(eol_action), Some(vault_id), Some(domain_id)) =
        (account_type, eol_action, vault_id, domain_id)
    else {
        unreachable!("each missing value pushed an error above");
    };
    let nonempty = |name: &str| Some(v.get(name).trim().to_owned()).filter(|t| !t.is_empty());
    let definition = TemplateDefinition {
        account_type,
        eol_action,
        terms: v.get("terms").trim().to_owned(),
        purpose: v.get("purpose").trim().to_owned(),
        vault_id,
        folders: lines(v.get("folders")),
        allow_folder_override: v.ticked("allow_folder_override"),
        domain_id,
        name_prefix: v.get("name_prefix").trim().to_owned(),
        name_regex: nonempty("name_regex"),
        ous: lines(v.get("ous")),
        allow_sub_ous: v.ticked("allow_sub_ous"),
        attributes,
        cannot_change_password: v.ticked("cannot_change_password"),
        retirement_ou: nonempty("retirement_ou"),
        audience_groups,
        gmsa,
        ownership: Ownership {
            allow_group_owners: v.ticked("allow_group_owners"),
            requester_only_owner: v.ticked("requester_only_owner"),
            min_owners: min_owners.unwrap_or_default(),
            max_owners: max_owners.unwrap_or_default(),
        },
        lifecycle,
        steps,
        hide_approver_names: v.ticked("hide_approver_names"),
    };
    Ok((name, definition, rows))
}

/// The wizard's values for a saved definition (ids turned back into names).
pub(super) async fn values_of(
    s: &AppState,
    name: &str,
    d: &TemplateDefinition,
) -> ServiceResult<Values> {
    let mut v = Values::default();
    v.set("name", name);
    v.set("account_type", d.account_type.as_str());
    v.set("eol_action", d.eol_action.as_str());
    v.set("terms", d.terms.clone());
    v.set("purpose", d.purpose.clone());
    v.set("vault_id", d.vault_id.to_string());
    v.set("folders", d.folders.join("\n"));
    v.tick("allow_folder_override", d.allow_folder_override);
    v.set("domain_id", d.domain_id.to_string());
    v.set("name_prefix", d.name_prefix.clone());
    v.set("name_regex", d.name_regex.clone().unwrap_or_default());
    v.set("ous", d.ous.join("\n"));
    v.tick("allow_sub_ous", d.allow_sub_ous);
    for (i, a) in d.attributes.iter().enumerate() {
        v.set(format!("attr_name_{i}"), a.name.clone());
        v.tick(&format!("attr_required_{i}"), a.required);
        v.tick(&format!("attr_editable_{i}"), a.editable);
        v.set(
            format!("attr_default_{i}"),
            a.default.clone().unwrap_or_default(),
        );
    }
    v.tick("cannot_change_password", d.cannot_change_password);
    v.set("retirement_ou", d.retirement_ou.clone().unwrap_or_default());
    v.set(
        "audience_groups",
        names::group_names(&s.db, &d.audience_groups)
            .await?
            .join("\n"),
    );
    match &d.gmsa {
        Some(g) => {
            v.set(
                "gmsa_reader_users",
                names::user_emails(&s.db, &g.password_reader_users)
                    .await?
                    .join("\n"),
            );
            v.set(
                "gmsa_reader_groups",
                names::group_names(&s.db, &g.password_reader_groups)
                    .await?
                    .join("\n"),
            );
            v.set("gmsa_encryption", encryption_text(g.encryption));
            v.set("gmsa_spns", g.service_principal_names.join("\n"));
            v.set("gmsa_dns_host_name", g.dns_host_name.clone());
        }
        None => v.set("gmsa_encryption", "aes256"),
    }
    v.tick("allow_group_owners", d.ownership.allow_group_owners);
    v.tick("requester_only_owner", d.ownership.requester_only_owner);
    v.set("min_owners", d.ownership.min_owners.to_string());
    v.set("max_owners", d.ownership.max_owners.to_string());
    let l = &d.lifecycle;
    v.set(
        "intervals",
        l.intervals
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    );
    v.set("renewal_window_days", l.renewal_window_days.to_string());
    v.tick("notify_renewal_open", l.notify_renewal_open);
    let number = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
    v.set("reminder_every_days", number(l.reminder_every_days));
    v.set("urgent_every_hours", number(l.urgent_every_hours));
    v.set("urgent_from_days", number(l.urgent_from_days));
    v.tick("include_admins_in_reminders", l.include_admins_in_reminders);
    v.set(
        "stop_reminders_after_days",
        number(l.stop_reminders_after_days),
    );
    for (i, step) in d.steps.iter().enumerate() {
        v.set(
            format!("step_users_{i}"),
            names::user_emails(&s.db, &step.users).await?.join("\n"),
        );
        v.set(
            format!("step_groups_{i}"),
            names::group_names(&s.db, &step.groups).await?.join("\n"),
        );
        v.set(format!("step_min_{i}"), step.min_approvals.to_string());
    }
    v.tick("hide_approver_names", d.hide_approver_names);
    Ok(v)
}

/// One group of the wizard: a numbered section of blocks (a block is a set of fields, with a
/// legend when it is one row of a list).
pub(super) struct Section {
    pub number: u8,
    pub title: &'static str,
    pub anchor: &'static str,
    pub intro: &'static str,
    pub blocks: Vec<Block>,
}

pub(super) struct Block {
    pub legend: String,
    /// One form (a list of one, so the template can name it `form` for the shared fields).
    pub forms: Vec<Form>,
    /// Pickers shown after the block's fields (with the script).
    pub pickers: Vec<Picker>,
}

/// A search over the synced directory or alm's people that adds what is chosen to a field.
pub(super) struct Picker {
    pub id: &'static str,
    pub label: &'static str,
    /// The search address; the typed text goes in `q`.
    pub url: &'static str,
    /// Another field whose value goes with the search (the domain of an OU search).
    pub with: &'static str,
    /// The text area the chosen value is added to.
    pub target: &'static str,
}

fn block(legend: impl Into<String>, fields: Vec<Field>) -> Block {
    Block {
        legend: legend.into(),
        forms: vec![Form::new(fields)],
        pickers: Vec::new(),
    }
}

fn text(v: &Values, id: &str, label: &str, hint: &str) -> Field {
    Field::new(id, label, Control::Text)
        .hint(hint)
        .value(v.get(id))
}

fn area(v: &Values, id: &str, label: &str, hint: &str, rows: u32) -> Field {
    Field::new(id, label, Control::TextArea(rows))
        .hint(hint)
        .value(v.get(id))
}

fn tick(v: &Values, id: &str, label: &str) -> Field {
    Field::new(id, label, Control::Checkbox).checked(v.ticked(id))
}

fn select(v: &Values, id: &str, label: &str, options: &[(&str, &str)]) -> Field {
    Field::new(
        id,
        label,
        Control::Select(
            options
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
        ),
    )
    .value(v.get(id))
}

/// The choices of the domain and vault selects: (id, name).
pub(super) struct Choices {
    pub domains: Vec<(String, String)>,
    pub vaults: Vec<(String, String)>,
}

/// The six sections of the wizard with `v`'s values, and `errors` placed at their fields.
pub(super) fn sections(
    v: &Values,
    choices: &Choices,
    errors: Vec<FieldError>,
) -> (Vec<Section>, Vec<FormError>) {
    let attribute_rows = (v.rows("attr_name_") + 1).max(2);
    let step_rows = (v.rows("step_min_") + 1).max(3);
    let as_refs = |c: &[(String, String)]| -> Vec<(String, String)> { c.to_vec() };
    let mut sections = vec![
        Section {
            number: 1,
            title: "Setup",
            anchor: "setup",
            intro: "What the accounts are and what happens at the end of their lifecycle.",
            blocks: vec![block(
                "",
                vec![
                    text(v, "name", "Template name", "What requesters choose, e.g. \"Web service accounts\"."),
                    select(v, "account_type", "Kind of account", &[("ad-user", "Active Directory user"), ("gmsa", "Group managed service account (gMSA)")]),
                    select(v, "eol_action", "At the end of the lifecycle", &[("review", "Review: the owners renew or let it go"), ("disable", "Disable the account"), ("expire", "Let the account expire"), ("delete", "Delete the account")]),
                    area(v, "purpose", "Purpose", "Shown to requesters: what these accounts are for.", 3),
                    area(v, "terms", "Terms", "Optional. Terms the requester must accept.", 3),
                ],
            )],
        },
        Section {
            number: 2,
            title: "Vault",
            anchor: "vault",
            intro: "Where the accounts' passwords are kept.",
            blocks: vec![block(
                "",
                vec![
                    Field::new("vault_id", "Vault", Control::Select(as_refs(&choices.vaults))).value(v.get("vault_id")),
                    area(v, "folders", "Folders", "One per line; the first is the default.", 3).takes("folders"),
                    tick(v, "allow_folder_override", "Requesters may choose another folder"),
                ],
            )],
        },
        Section {
            number: 3,
            title: "Directory",
            anchor: "directory",
            intro: "Where and how the accounts are made in the directory.",
            blocks: Vec::new(),
        },
        Section {
            number: 4,
            title: "Ownership",
            anchor: "ownership",
            intro: "Who owns the accounts: at least one enabled owner at all times.",
            blocks: vec![block(
                "",
                vec![
                    tick(v, "allow_group_owners", "Groups may own accounts"),
                    tick(v, "requester_only_owner", "The requester is the only owner at first").takes("ownership.requester_only_owner"),
                    text(v, "min_owners", "Fewest owners", "").takes("ownership.min_owners"),
                    text(v, "max_owners", "Most owners", "").takes("ownership.max_owners").takes("ownership"),
                ],
            )],
        },
        Section {
            number: 5,
            title: "Lifecycle",
            anchor: "lifecycle",
            intro: "How long accounts live before their end-of-life action, and the reminders before it.",
            blocks: vec![block(
                "",
                vec![
                    text(v, "intervals", "Periods requesters choose from", "Separated by commas, e.g. 90d, 1y (days or years).").takes("lifecycle.intervals"),
                    text(v, "renewal_window_days", "Renewal opens (days before the end)", "").takes("lifecycle.renewal_window_days"),
                    tick(v, "notify_renewal_open", "Tell the owners when renewal opens"),
                    text(v, "reminder_every_days", "Remind every (days)", "Optional.").takes("lifecycle.reminder_every_days"),
                    text(v, "urgent_every_hours", "Urgent reminders every (hours)", "Optional.").takes("lifecycle.urgent_every_hours"),
                    text(v, "urgent_from_days", "Urgent reminders from (days before the end)", "Optional.").takes("lifecycle.urgent_from_days"),
                    tick(v, "include_admins_in_reminders", "Copy the administrators on reminders"),
                    text(v, "stop_reminders_after_days", "Stop reminders after (days)", "Optional.").takes("lifecycle.stop_reminders_after_days").takes("lifecycle"),
                ],
            )],
        },
        Section {
            number: 6,
            title: "Approval flow",
            anchor: "approval",
            intro: "Who approves, step by step. A step passes with at least K approvals from distinct people it reaches; an empty row is left out.",
            blocks: Vec::new(),
        },
    ];
    let mut directory = vec![Block {
        legend: String::new(),
        forms: vec![Form::new(vec![
            Field::new("domain_id", "Domain", Control::Select(as_refs(&choices.domains))).value(v.get("domain_id")),
            text(v, "name_prefix", "Name prefix", "Optional. Put before every requested name, e.g. svc-."),
            text(v, "name_regex", "Name pattern", "Optional. A regular expression the full name must match.").takes("name"),
            area(v, "ous", "OUs", "One distinguished name per line, from the domain's last sync; the first is the default.", 3).takes("ous"),
            tick(v, "allow_sub_ous", "Requesters may choose an OU below these"),
            tick(v, "cannot_change_password", "The account cannot change its password"),
            text(v, "retirement_ou", "Retirement OU", "Optional. Where disabled accounts are moved."),
            area(v, "audience_groups", "Who may request", "alm groups, one name per line.", 2).takes("audience_groups"),
        ])],
        pickers: vec![
            Picker {
                id: "ou-pick",
                label: "Find an OU in the synced directory",
                url: "/templates/pick/ous",
                with: "#domain_id",
                target: "#ous",
            },
            Picker {
                id: "audience-pick",
                label: "Find a group of people who may request",
                url: "/templates/pick/groups",
                with: "",
                target: "#audience_groups",
            },
        ],
    }];
    for i in 0..attribute_rows {
        directory.push(block(
            format!("Attribute {}", i + 1),
            vec![
                text(
                    v,
                    &format!("attr_name_{i}"),
                    "LDAP attribute",
                    "e.g. department; empty: no attribute.",
                )
                .takes(format!("attributes[{i}]")),
                tick(v, &format!("attr_required_{i}"), "Required"),
                tick(
                    v,
                    &format!("attr_editable_{i}"),
                    "The requester may change it",
                ),
                text(
                    v,
                    &format!("attr_default_{i}"),
                    "Default value",
                    "Optional.",
                ),
            ],
        ));
    }
    directory.push(block(
        "gMSA (only for group managed service accounts)",
        vec![
            text(
                v,
                "gmsa_dns_host_name",
                "DNS host name",
                "{name} stands for the account's name, e.g. {name}.corp.example.com.",
            )
            .takes("gmsa.dns_host_name"),
            area(
                v,
                "gmsa_spns",
                "Service principal names",
                "One per line, e.g. HTTP/{name}.corp.example.com.",
                2,
            )
            .takes("gmsa.service_principal_names"),
            select(
                v,
                "gmsa_encryption",
                "Kerberos encryption",
                &[
                    ("aes256", "AES-256"),
                    ("aes128", "AES-128"),
                    ("rc4", "RC4"),
                    ("des", "DES"),
                    ("none", "None"),
                ],
            )
            .takes("gmsa.encryption"),
            area(
                v,
                "gmsa_reader_users",
                "Password readers (people)",
                "Email addresses, one per line.",
                2,
            )
            .takes("gmsa.password_reader_users"),
            area(
                v,
                "gmsa_reader_groups",
                "Password readers (groups)",
                "alm group names, one per line.",
                2,
            )
            .takes("gmsa.password_reader_groups")
            .takes("gmsa"),
        ],
    ));
    sections[2].blocks = directory;
    let mut approval = Vec::new();
    for i in 0..step_rows {
        let mut b = block(
            format!("Step {}", i + 1),
            vec![
                area(
                    v,
                    &format!("step_users_{i}"),
                    "Approvers (people)",
                    "Email addresses, one per line.",
                    2,
                )
                .takes(format!("steps[{i}].users")),
                area(
                    v,
                    &format!("step_groups_{i}"),
                    "Approvers (groups)",
                    "alm group names, one per line.",
                    2,
                )
                .takes(format!("steps[{i}].groups")),
                text(v, &format!("step_min_{i}"), "At least K approvals", "")
                    .takes(format!("steps[{i}]")),
            ],
        );
        if i == 0 {
            b.pickers = vec![
                Picker {
                    id: "approver-pick",
                    label: "Find a person",
                    url: "/templates/pick/users",
                    with: "",
                    target: "#step_users_0",
                },
                Picker {
                    id: "approver-group-pick",
                    label: "Find a group",
                    url: "/templates/pick/groups",
                    with: "",
                    target: "#step_groups_0",
                },
            ];
        }
        approval.push(b);
    }
    approval.push(
        block(
            "",
            vec![tick(
                v,
                "hide_approver_names",
                "Hide approvers' names from requesters",
            )],
        )
        .with_takes("steps"),
    );
    sections[5].blocks = approval;
    place(sections, errors)
}

impl Block {
    /// The block's first field also takes errors named `field` (a list's error as a whole).
    fn with_takes(mut self, field: &str) -> Self {
        if let Some(f) = self.forms[0].fields.first_mut() {
            f.takes.push(field.to_owned());
        }
        self
    }
}

/// Places each error at the first field across the sections that owns it; one that no field
/// owns goes to the summary, linked to the name.
fn place(mut sections: Vec<Section>, errors: Vec<FieldError>) -> (Vec<Section>, Vec<FormError>) {
    let mut all = Form::new(
        sections
            .iter()
            .flat_map(|s| s.blocks.iter().flat_map(|b| b.forms[0].fields.clone()))
            .collect(),
    );
    all.place(errors);
    let mut placed = all.fields.into_iter();
    for s in &mut sections {
        for b in &mut s.blocks {
            for f in &mut b.forms[0].fields {
                if let Some(p) = placed.next() {
                    *f = p;
                }
            }
        }
    }
    (sections, all.errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_rows_go_back_to_the_form_rows_they_came_from() {
        let rows = RowMap {
            attributes: vec![1],
            steps: vec![0, 2],
        };
        assert_eq!(
            rows.form_field("steps[1].min_approvals"),
            "steps[2].min_approvals"
        );
        assert_eq!(rows.form_field("steps[0].users[3]"), "steps[0].users[3]");
        assert_eq!(rows.form_field("attributes[0].name"), "attributes[1].name");
        assert_eq!(rows.form_field("ous[0]"), "ous[0]");
        assert_eq!(rows.form_field("steps"), "steps");
    }

    #[test]
    fn numbered_rows_are_counted_until_the_first_gap() {
        let v = Values::from_pairs(&[
            ("step_min_0".into(), "1".into()),
            ("step_min_1".into(), "".into()),
            ("step_min_3".into(), "2".into()),
        ]);
        assert_eq!(v.rows("step_min_"), 2);
        assert_eq!(v.rows("attr_name_"), 0);
    }

    #[test]
    fn every_kerberos_encryption_reads_back() {
        for e in [
            KerberosEncryption::None,
            KerberosEncryption::Des,
            KerberosEncryption::Rc4,
            KerberosEncryption::Aes128,
            KerberosEncryption::Aes256,
        ] {
            assert_eq!(encryption(&encryption_text(e)), Some(e));
        }
        assert_eq!(encryption("aes512"), None);
    }
}
