//! Fuzz target of template validation (SPEC §2.4): definitions with any text where people type
//! (prefix, pattern, OUs, folders, attribute names, gMSA host and SPNs) and any numbers. Never
//! panics; every refusal names a field of the definition; what validates holds what the
//! account-name rules and the directory need, and survives its JSON form (the stored one).
//! `scripts/fuzz.sh` runs this coverage-guided; `cargo test` gives it a second of random input.

use super::*;
use bolero::TypeGenerator;
use uuid::Uuid;

#[derive(Debug, TypeGenerator)]
struct Input {
    gmsa: bool,
    eol_action: u8,
    #[generator(String::produce().with().len(0usize..=24))]
    prefix: String,
    pattern: Option<String>,
    /// Well-formed OUs (the domain knows them) and any text.
    ous: Vec<Ou>,
    retirement_ou: Option<Ou>,
    folders: Vec<String>,
    attributes: Vec<(String, bool, bool, Option<String>)>,
    gmsa_settings: Option<(String, Vec<String>, bool)>,
    intervals: Vec<(u32, bool)>,
    window_and_reminders: (u32, Option<u32>, Option<u32>, Option<u32>, Option<u32>),
    owners: (bool, u32, u32),
    steps: Vec<(bool, u32)>,
    eligible: Vec<u8>,
}

#[derive(Debug, TypeGenerator)]
enum Ou {
    Known(#[generator(0u8..4)] u8),
    Text(String),
}

const KNOWN_OUS: [&str; 4] = [
    "OU=Service,DC=corp,DC=example,DC=test",
    "OU=Retired,DC=corp,DC=example,DC=test",
    "OU=Web\\, Apps,OU=Service,DC=corp,DC=example,DC=test",
    "ou=Svc + cn=x,dc=corp",
];

impl Ou {
    fn text(&self) -> String {
        match self {
            Ou::Known(i) => KNOWN_OUS[usize::from(*i)].to_owned(),
            Ou::Text(t) => t.clone(),
        }
    }
}

fn definition(i: &Input) -> TemplateDefinition {
    let id = |n: u128| Uuid::from_u128(n);
    let (renewal_window_days, reminder_every_days, urgent_every_hours, urgent_from_days, stop) =
        i.window_and_reminders;
    TemplateDefinition {
        account_type: if i.gmsa {
            AccountType::Gmsa
        } else {
            AccountType::AdUser
        },
        eol_action: [
            EolAction::Review,
            EolAction::Disable,
            EolAction::Expire,
            EolAction::Delete,
        ][usize::from(i.eol_action % 4)],
        terms: String::new(),
        purpose: String::new(),
        vault_id: VaultId(id(1)),
        folders: i.folders.clone(),
        allow_folder_override: false,
        domain_id: DomainId(id(2)),
        name_prefix: i.prefix.clone(),
        name_regex: i.pattern.clone(),
        ous: i.ous.iter().map(Ou::text).collect(),
        allow_sub_ous: false,
        attributes: i
            .attributes
            .iter()
            .map(|(name, required, editable, default)| AttributeRule {
                name: name.clone(),
                required: *required,
                editable: *editable,
                default: default.clone(),
            })
            .collect(),
        cannot_change_password: false,
        retirement_ou: i.retirement_ou.as_ref().map(Ou::text),
        audience_groups: vec![GroupId(id(3))],
        gmsa: i
            .gmsa_settings
            .as_ref()
            .map(|(host, spns, readers)| GmsaSettings {
                password_reader_users: vec![],
                password_reader_groups: if *readers {
                    vec![GroupId(id(4))]
                } else {
                    vec![]
                },
                encryption: KerberosEncryption::Aes256,
                service_principal_names: spns.clone(),
                dns_host_name: host.clone(),
            }),
        ownership: Ownership {
            allow_group_owners: false,
            requester_only_owner: i.owners.0,
            min_owners: i.owners.1,
            max_owners: i.owners.2,
        },
        lifecycle: Lifecycle {
            // Intervals only ever come from text (the API, the store): parse them as such.
            intervals: i
                .intervals
                .iter()
                .filter_map(|(n, years)| {
                    format!("{n}{}", if *years { "y" } else { "d" })
                        .parse()
                        .ok()
                })
                .collect(),
            renewal_window_days,
            notify_renewal_open: true,
            reminder_every_days,
            urgent_every_hours,
            urgent_from_days,
            include_admins_in_reminders: false,
            stop_reminders_after_days: stop,
        },
        steps: i
            .steps
            .iter()
            .map(|(with_group, min_approvals)| ApprovalStep {
                users: vec![],
                groups: if *with_group {
                    vec![GroupId(id(5))]
                } else {
                    vec![]
                },
                min_approvals: *min_approvals,
            })
            .collect(),
        hide_approver_names: false,
    }
}

/// The fields a refusal may name (paths start with one of them).
const FIELDS: &[&str] = &[
    "terms",
    "purpose",
    "vault_id",
    "folders",
    "domain_id",
    "name_prefix",
    "name_regex",
    "ous",
    "retirement_ou",
    "attributes",
    "audience_groups",
    "gmsa",
    "eol_action",
    "ownership",
    "lifecycle",
    "steps",
];

#[test]
fn fuzz_template_validate() {
    bolero::check!().with_type::<Input>().for_each(|input| {
        let d = definition(input);
        let facts = Facts {
            domain_exists: true,
            vault_exists: true,
            known_ous: KNOWN_OUS
                .iter()
                .map(|t| Dn::parse(t).expect("a known OU"))
                .collect(),
            known_attributes: HashSet::new(),
            eligible_approvers: input.eligible.iter().map(|n| usize::from(*n)).collect(),
            unknown_principals: vec![],
        };
        let result = d.validate(&facts);
        // The JSON form (how drafts and versions are stored) gives the same definition back.
        let json = serde_json::to_string(&d).expect("a definition serialises");
        let back: TemplateDefinition = serde_json::from_str(&json).expect("and deserialises");
        assert_eq!(back, d);
        let errors = match result {
            Ok(()) => {
                // What the name rules and the directory will rely on.
                let max = crate::account_name::max_chars(&d);
                assert!(d.name_prefix.chars().count() < max);
                assert!(d.name_prefix.chars().all(|c| !c.is_whitespace()
                    && !c.is_control()
                    && !FORBIDDEN_NAME_CHARS.contains(&c)));
                if let Some(re) = &d.name_regex {
                    // The name check can use it (it refuses every name otherwise).
                    assert!(
                        crate::account_name::name_pattern(re).is_ok(),
                        "{re:?} validated"
                    );
                }
                for ou in d.ous.iter().chain(&d.retirement_ou) {
                    assert!(facts
                        .known_ous
                        .contains(&Dn::parse(ou).expect("a valid OU")));
                }
                assert!(!d.lifecycle.intervals.is_empty() && !d.steps.is_empty());
                return;
            }
            Err(errors) => errors.0,
        };
        assert!(!errors.is_empty());
        for e in &errors {
            assert!(
                FIELDS.iter().any(|f| e.field == *f
                    || e.field.starts_with(&format!("{f}["))
                    || e.field.starts_with(&format!("{f}."))),
                "{e:?}"
            );
            assert!(!e.rule.is_empty() && !e.message.is_empty(), "{e:?}");
        }
    });
}
