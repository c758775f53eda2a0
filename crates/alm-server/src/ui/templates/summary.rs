//! A template version as people read it: the six groups of SPEC §2.4 as (label, value) rows,
//! ids shown as names. The wizard's summary before saving, a template's page and a version's
//! page show it; the comparison of two versions pairs the rows of both by group and label.

use super::*;
use crate::services::template_names as names;
use alm_core::templates::TemplateDefinition;

pub(super) struct Group {
    pub title: &'static str,
    pub rows: Vec<(String, String)>,
}

fn account_type_label(t: alm_core::templates::AccountType) -> &'static str {
    use alm_core::templates::AccountType;
    match t {
        AccountType::AdUser => "Active Directory user",
        AccountType::Gmsa => "Group managed service account (gMSA)",
    }
}

fn eol_label(a: alm_core::templates::EolAction) -> &'static str {
    use alm_core::templates::EolAction;
    match a {
        EolAction::Review => "Review: the owners renew it or let it go",
        EolAction::Disable => "Disable the account",
        EolAction::Expire => "The account expires",
        EolAction::Delete => "Delete the account",
    }
}

fn yes_no(b: bool) -> String {
    if b { "Yes" } else { "No" }.into()
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "None".into()
    } else {
        items.join(", ")
    }
}

fn number(n: Option<u32>) -> String {
    n.map(|n| n.to_string()).unwrap_or_else(|| "Not set".into())
}

/// The rows of a definition; `domain` and `vault` are the names of its domain and vault.
pub(super) async fn groups(
    s: &AppState,
    d: &TemplateDefinition,
    domain: &str,
    vault: &str,
) -> ServiceResult<Vec<Group>> {
    let row = |label: &str, value: String| (label.to_owned(), value);
    let mut directory = vec![
        row("Domain", domain.to_owned()),
        row(
            "Name prefix",
            if d.name_prefix.is_empty() {
                "None".into()
            } else {
                d.name_prefix.clone()
            },
        ),
        row(
            "Name pattern",
            d.name_regex.clone().unwrap_or_else(|| "None".into()),
        ),
        row("OUs", list(&d.ous)),
        row("OUs below these allowed", yes_no(d.allow_sub_ous)),
        row(
            "Cannot change its password",
            yes_no(d.cannot_change_password),
        ),
        row(
            "Retirement OU",
            d.retirement_ou.clone().unwrap_or_else(|| "None".into()),
        ),
        row(
            "Who may request",
            list(&names::group_names(&s.db, &d.audience_groups).await?),
        ),
    ];
    for a in &d.attributes {
        directory.push(row(
            &format!("Attribute {}", a.name),
            format!(
                "{}, {}{}",
                if a.required { "required" } else { "optional" },
                if a.editable { "editable" } else { "read-only" },
                a.default
                    .as_deref()
                    .map(|v| format!(", default {v}"))
                    .unwrap_or_default()
            ),
        ));
    }
    if let Some(g) = &d.gmsa {
        directory.push(row("gMSA DNS host name", g.dns_host_name.clone()));
        directory.push(row(
            "gMSA service principal names",
            list(&g.service_principal_names),
        ));
        directory.push(row(
            "gMSA password readers",
            list(
                &[
                    names::user_emails(&s.db, &g.password_reader_users).await?,
                    names::group_names(&s.db, &g.password_reader_groups).await?,
                ]
                .concat(),
            ),
        ));
    }
    let mut approval = Vec::new();
    for (i, step) in d.steps.iter().enumerate() {
        let who = [
            names::user_emails(&s.db, &step.users).await?,
            names::group_names(&s.db, &step.groups).await?,
        ]
        .concat();
        approval.push(row(
            &format!("Step {}", i + 1),
            format!("at least {} of {}", step.min_approvals, list(&who)),
        ));
    }
    approval.push(row(
        "Approvers' names hidden",
        yes_no(d.hide_approver_names),
    ));
    let l = &d.lifecycle;
    Ok(vec![
        Group {
            title: "Setup",
            rows: vec![
                row("Kind of account", account_type_label(d.account_type).into()),
                row(
                    "At the end of the lifecycle",
                    eol_label(d.eol_action).into(),
                ),
                row("Purpose", d.purpose.clone()),
                row(
                    "Terms",
                    if d.terms.is_empty() {
                        "None".into()
                    } else {
                        d.terms.clone()
                    },
                ),
            ],
        },
        Group {
            title: "Vault",
            rows: vec![
                row("Vault", vault.to_owned()),
                row("Folders", list(&d.folders)),
                row("Another folder allowed", yes_no(d.allow_folder_override)),
            ],
        },
        Group {
            title: "Directory",
            rows: directory,
        },
        Group {
            title: "Ownership",
            rows: vec![
                row("Groups may own", yes_no(d.ownership.allow_group_owners)),
                row(
                    "Requester the only first owner",
                    yes_no(d.ownership.requester_only_owner),
                ),
                row(
                    "Owners",
                    format!("{} to {}", d.ownership.min_owners, d.ownership.max_owners),
                ),
            ],
        },
        Group {
            title: "Lifecycle",
            rows: vec![
                row(
                    "Periods",
                    list(
                        &l.intervals
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>(),
                    ),
                ),
                row(
                    "Renewal opens (days before)",
                    l.renewal_window_days.to_string(),
                ),
                row(
                    "Owners told when renewal opens",
                    yes_no(l.notify_renewal_open),
                ),
                row("Reminder every (days)", number(l.reminder_every_days)),
                row(
                    "Urgent reminders every (hours)",
                    number(l.urgent_every_hours),
                ),
                row("Urgent from (days before)", number(l.urgent_from_days)),
                row(
                    "Administrators copied",
                    yes_no(l.include_admins_in_reminders),
                ),
                row(
                    "Reminders stop after (days)",
                    number(l.stop_reminders_after_days),
                ),
            ],
        },
        Group {
            title: "Approval flow",
            rows: approval,
        },
    ])
}

/// One line of a comparison: group, label, the value in each version, and whether they differ.
pub(super) struct Difference {
    pub group: &'static str,
    pub label: String,
    pub left: String,
    pub right: String,
    pub changed: bool,
}

/// Pairs the rows of two versions by group and label (a row only one has shows "Not set" on
/// the other side), in the order of the left version, then rows only the right one has.
pub(super) fn compare(left: &[Group], right: &[Group]) -> Vec<Difference> {
    let mut out = Vec::new();
    for (l, r) in left.iter().zip(right) {
        for (label, value) in &l.rows {
            let other = r
                .rows
                .iter()
                .find(|(x, _)| x == label)
                .map(|(_, v)| v.clone());
            let other = other.unwrap_or_else(|| "Not set".into());
            out.push(Difference {
                group: l.title,
                label: label.clone(),
                changed: *value != other,
                left: value.clone(),
                right: other,
            });
        }
        for (label, value) in &r.rows {
            if !l.rows.iter().any(|(x, _)| x == label) {
                out.push(Difference {
                    group: r.title,
                    label: label.clone(),
                    left: "Not set".into(),
                    right: value.clone(),
                    changed: true,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(rows: &[(&str, &str)]) -> Vec<Group> {
        vec![Group {
            title: "Directory",
            rows: rows
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
        }]
    }

    #[test]
    fn a_comparison_marks_changed_added_and_removed_rows() {
        let old = group(&[("OUs", "OU=A"), ("Attribute department", "required")]);
        let new = group(&[("OUs", "OU=B"), ("Attribute title", "optional")]);
        let d = compare(&new, &old);
        let changed: Vec<_> = d
            .iter()
            .filter(|x| x.changed)
            .map(|x| x.label.as_str())
            .collect();
        assert_eq!(changed, ["OUs", "Attribute title", "Attribute department"]);
        assert_eq!(d[1].right, "Not set");
        assert_eq!(d[2].left, "Not set");
        let same = compare(&old, &old);
        assert!(same.iter().all(|x| !x.changed));
    }
}
