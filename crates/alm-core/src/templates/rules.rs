//! The rules of a workflow template (SPEC §2.4), one function per group of the template wizard:
//! Setup, Vault, Directory, Ownership, Lifecycle, Approval flow. `validate` (in the parent)
//! runs them all and names every failing field.

use super::*;

/// The template's rules, one wizard group each (SPEC §2.4: Setup, Vault, Directory, Ownership,
/// Lifecycle, Approval flow).
impl TemplateDefinition {
    /// Setup: the terms and the purpose.
    pub(super) fn check_setup(&self, _facts: &Facts, e: &mut ValidationErrors) {
        let mut push = |field: String, rule: &str, message: String| {
            e.push(FieldError::new(field, rule, message));
        };
        if self.terms.chars().count() > 20_000 {
            push(
                "terms".into(),
                "max-length",
                "at most 20000 characters".into(),
            );
        }
        if self.purpose.chars().count() > 2_000 {
            push(
                "purpose".into(),
                "max-length",
                "at most 2000 characters".into(),
            );
        }
    }

    /// Vault: the vault exists, the folders are paths.
    pub(super) fn check_vault(&self, facts: &Facts, e: &mut ValidationErrors) {
        let mut push = |field: String, rule: &str, message: String| {
            e.push(FieldError::new(field, rule, message));
        };
        if !facts.vault_exists {
            push("vault_id".into(), "exists", "no vault has this id".into());
        }
        if self.folders.is_empty() {
            push("folders".into(), "required", "at least one folder".into());
        }
        for (i, f) in self.folders.iter().enumerate() {
            if !folder_ok(f) {
                push(
                    format!("folders[{i}]"),
                    "format",
                    "a path such as service-accounts/web (no empty, . or .. parts)".into(),
                );
            }
        }
    }

    /// Directory: the domain, the name rules, the OUs, the attributes, the gMSA settings.
    pub(super) fn check_directory(&self, facts: &Facts, e: &mut ValidationErrors) {
        let mut push = |field: String, rule: &str, message: String| {
            e.push(FieldError::new(field, rule, message));
        };
        if !facts.domain_exists {
            push("domain_id".into(), "exists", "no domain has this id".into());
        }
        if let Some(c) = self
            .name_prefix
            .chars()
            .find(|c| FORBIDDEN_NAME_CHARS.contains(c) || c.is_control() || c.is_whitespace())
        {
            push(
                "name_prefix".into(),
                "characters",
                format!("{c:?} is not allowed in an account name"),
            );
        }
        let max_name = match self.account_type {
            AccountType::AdUser => 20,
            AccountType::Gmsa => 15,
        };
        if self.name_prefix.chars().count() >= max_name {
            push(
                "name_prefix".into(),
                "max-length",
                format!("must leave room in a {max_name}-character name"),
            );
        }
        if let Some(re) = &self.name_regex {
            if re.len() > 512 {
                push(
                    "name_regex".into(),
                    "max-length",
                    "at most 512 characters".into(),
                );
            } else if let Err(err) = crate::account_name::name_pattern(re) {
                push(
                    "name_regex".into(),
                    "regex",
                    format!(
                        "does not compile: {}",
                        err.to_string().lines().last().unwrap_or("")
                    ),
                );
            }
        }
        if self.ous.is_empty() {
            push("ous".into(), "required", "at least one OU".into());
        }
        let mut ou_fields: Vec<(String, &String)> = self
            .ous
            .iter()
            .enumerate()
            .map(|(i, ou)| (format!("ous[{i}]"), ou))
            .collect();
        if let Some(ou) = &self.retirement_ou {
            ou_fields.push(("retirement_ou".into(), ou));
        }
        for (field, ou) in ou_fields {
            match Dn::parse(ou) {
                Err(e) => push(field, e.rule(), format!("an OU distinguished name: {e}")),
                Ok(dn) if facts.domain_exists && !facts.known_ous.contains(&dn) => push(
                    field,
                    "exists",
                    "no OU with this DN in the domain's last sync (sync the domain first)".into(),
                ),
                Ok(_) => {}
            }
        }
        let mut seen = HashSet::new();
        for (i, a) in self.attributes.iter().enumerate() {
            let key = a.name.to_ascii_lowercase();
            if !is_ldap_attribute_name(&a.name) {
                push(
                    format!("attributes[{i}].name"),
                    "format",
                    "an LDAP attribute name (letters, digits, -)".into(),
                );
            } else if RESERVED_ATTRIBUTES.contains(&key.as_str()) {
                push(
                    format!("attributes[{i}].name"),
                    "reserved",
                    format!(
                        "{} is set by alm itself or may not be set by a template",
                        a.name
                    ),
                );
            } else if !facts.known_attributes.is_empty() && !facts.known_attributes.contains(&key) {
                push(
                    format!("attributes[{i}].name"),
                    "exists",
                    format!("the domain's schema has no attribute {}", a.name),
                );
            } else if !seen.insert(key) {
                push(
                    format!("attributes[{i}].name"),
                    "unique",
                    "listed twice".into(),
                );
            }
            if a.required && !a.editable && a.default.as_deref().is_none_or(str::is_empty) {
                push(
                    format!("attributes[{i}].default"),
                    "required",
                    "a required attribute the requester cannot edit needs a default".into(),
                );
            }
        }
        if self.audience_groups.is_empty() {
            push(
                "audience_groups".into(),
                "required",
                "at least one group may request with this template".into(),
            );
        }
        match (&self.gmsa, self.account_type) {
            (None, AccountType::Gmsa) => push(
                "gmsa".into(),
                "required",
                "a gmsa template needs its gMSA settings".into(),
            ),
            (Some(_), AccountType::AdUser) => push(
                "gmsa".into(),
                "not-allowed",
                "gMSA settings apply to gmsa templates only".into(),
            ),
            (Some(g), AccountType::Gmsa) => {
                // Checked with a sample name in place of `{name}`.
                let (host, expanded) = g.for_account("account");
                if !dns_name_ok(&host) {
                    push(
                        "gmsa.dns_host_name".into(),
                        "format",
                        "a DNS host name such as web01.corp.example.com".into(),
                    );
                }
                let mut spns = HashSet::new();
                for (i, spn) in expanded.iter().enumerate() {
                    if !spn_ok(spn) {
                        push(
                            format!("gmsa.service_principal_names[{i}]"),
                            "format",
                            "service/host[:port], e.g. HTTP/web01.corp.example.com".into(),
                        );
                    } else if !spns.insert(spn.to_lowercase()) {
                        push(
                            format!("gmsa.service_principal_names[{i}]"),
                            "unique",
                            "listed twice".into(),
                        );
                    }
                }
                if g.password_reader_users.is_empty() && g.password_reader_groups.is_empty() {
                    push(
                        "gmsa.password_reader_groups".into(),
                        "required",
                        "someone must be allowed to retrieve the password".into(),
                    );
                }
            }
            (None, AccountType::AdUser) => {}
        }
        if self.eol_action == EolAction::Expire && self.account_type == AccountType::Gmsa {
            // accountExpires does not stop a gMSA's password from being retrieved and used.
            push(
                "eol_action".into(),
                "not-allowed",
                "expire does not apply to gMSAs; use disable or delete".into(),
            );
        }
    }

    /// Ownership: who owns the accounts and how many.
    pub(super) fn check_ownership(&self, _facts: &Facts, e: &mut ValidationErrors) {
        let mut push = |field: String, rule: &str, message: String| {
            e.push(FieldError::new(field, rule, message));
        };
        let o = &self.ownership;
        if o.min_owners == 0 {
            push(
                "ownership.min_owners".into(),
                "range",
                "at least 1 (no account is left without an owner)".into(),
            );
        }
        if o.min_owners > o.max_owners {
            push(
                "ownership.min_owners".into(),
                "range",
                format!("must not exceed max_owners ({})", o.max_owners),
            );
        }
        if o.max_owners > 100 {
            push("ownership.max_owners".into(), "range", "at most 100".into());
        }
        if o.requester_only_owner && o.min_owners > 1 {
            push(
                "ownership.requester_only_owner".into(),
                "conflict",
                "with the requester as the only owner, min_owners must be 1".into(),
            );
        }
    }

    /// Lifecycle: intervals, EOL action, reminders.
    pub(super) fn check_lifecycle(&self, _facts: &Facts, e: &mut ValidationErrors) {
        let mut push = |field: String, rule: &str, message: String| {
            e.push(FieldError::new(field, rule, message));
        };
        let l = &self.lifecycle;
        if l.intervals.is_empty() {
            push(
                "lifecycle.intervals".into(),
                "required",
                "at least one interval such as 90d or 1y".into(),
            );
        }
        let mut intervals = HashSet::new();
        for (i, interval) in l.intervals.iter().enumerate() {
            if !intervals.insert(*interval) {
                push(
                    format!("lifecycle.intervals[{i}]"),
                    "unique",
                    "listed twice".into(),
                );
            }
        }
        let positive = [
            ("lifecycle.renewal_window_days", Some(l.renewal_window_days)),
            ("lifecycle.reminder_every_days", l.reminder_every_days),
            ("lifecycle.urgent_every_hours", l.urgent_every_hours),
            ("lifecycle.urgent_from_days", l.urgent_from_days),
            (
                "lifecycle.stop_reminders_after_days",
                l.stop_reminders_after_days,
            ),
        ];
        for (field, value) in positive {
            if value == Some(0) {
                push(field.into(), "range", "must be greater than 0".into());
            }
        }
        if l.urgent_every_hours.is_some() != l.urgent_from_days.is_some() {
            push(
                "lifecycle.urgent_from_days".into(),
                "required",
                "urgent reminders need both urgent_every_hours and urgent_from_days".into(),
            );
        }
    }

    /// Approval flow: the steps, their approvers, "at least K".
    pub(super) fn check_approval_flow(&self, facts: &Facts, e: &mut ValidationErrors) {
        let mut push = |field: String, rule: &str, message: String| {
            e.push(FieldError::new(field, rule, message));
        };
        if self.steps.is_empty() {
            push(
                "steps".into(),
                "required",
                "at least one approval step".into(),
            );
        }
        for (i, step) in self.steps.iter().enumerate() {
            if step.users.is_empty() && step.groups.is_empty() {
                push(
                    format!("steps[{i}]"),
                    "required",
                    "a step lists at least one user or group".into(),
                );
            }
            if step.min_approvals == 0 {
                push(
                    format!("steps[{i}].min_approvals"),
                    "range",
                    "at least 1".into(),
                );
            } else if let Some(&eligible) = facts
                .eligible_approvers
                .get(i)
                .filter(|_| !step_has_unknown(facts, i))
            {
                if step.min_approvals as usize > eligible {
                    push(
                        format!("steps[{i}].min_approvals"),
                        "range",
                        format!(
                            "{} approvals needed but the step reaches only {eligible} distinct enabled approver(s)",
                            step.min_approvals
                        ),
                    );
                }
            }
        }
        for (field, id) in &facts.unknown_principals {
            push(
                field.clone(),
                "exists",
                format!("no user or group has the id {id}"),
            );
        }
    }
}
