//! The command-line options and their `ALM_DISCOVER_*` environment twins. The passwords and
//! the alm API token have no option of their own: they come from the prompt, a file, stdin
//! or (the token) `ALM_IMPORT_TOKEN`, so they never show in the process list.

use crate::host_scan::{DEFAULT_HOST_TIMEOUT, DEFAULT_PARALLEL};
use crate::settings::{
    DEFAULT_DESCRIPTION_KEYWORDS, DEFAULT_NAME_PATTERNS, DEFAULT_PASSWORD_AGE_DAYS,
    DEFAULT_STALE_DAYS,
};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
#[command(
    about = "Find the service accounts of an Active Directory domain, rate their risks and write reports"
)]
pub struct DiscoverArgs {
    /// The domain: its DNS name (corp.example.com) or an LDAPS URL (ldaps://dc1.corp.example.com:636).
    #[arg(long, env = "ALM_DISCOVER_DOMAIN", value_name = "FQDN|URL")]
    pub domain: Option<String>,
    /// The account to read the domain with: user@domain, DOMAIN\user or a DN.
    #[arg(long, env = "ALM_DISCOVER_USER")]
    pub user: Option<String>,
    /// Read the password from this file (first line).
    #[arg(
        long,
        env = "ALM_DISCOVER_PASSWORD_FILE",
        value_name = "FILE",
        conflicts_with = "password_stdin"
    )]
    pub password_file: Option<PathBuf>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// The CA certificate (PEM) that issued the domain controller's certificate; the system's
    /// trusted CAs when omitted.
    #[arg(long, env = "ALM_DISCOVER_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Limit the scan to this OU (its DN); the whole domain when omitted.
    #[arg(long, env = "ALM_DISCOVER_OU", value_name = "DN")]
    pub ou: Option<String>,
    /// Scan the whole domain without asking for an OU.
    #[arg(long, conflicts_with = "ou")]
    pub whole_domain: bool,
    /// The domain's naming context, when the root DSE does not tell it.
    #[arg(long, env = "ALM_DISCOVER_BASE_DN", value_name = "DN")]
    pub base_dn: Option<String>,
    /// The company name shown on the reports.
    #[arg(long, env = "ALM_DISCOVER_COMPANY")]
    pub company: Option<String>,
    /// Where the reports go (created when missing); alm-discover-<date> when omitted.
    #[arg(long, env = "ALM_DISCOVER_OUT", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Do not ask before scanning.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The account to log on to the hosts with, when it is not the directory account (e.g. a
    /// local administrator): DOMAIN\user, user@domain, or .\user for an account of each host.
    #[arg(long, env = "ALM_DISCOVER_HOST_USER")]
    pub host_user: Option<String>,
    /// Read the password of --host-user from this file (first line); asked at a terminal
    /// when omitted.
    #[arg(long, env = "ALM_DISCOVER_HOST_PASSWORD_FILE", value_name = "FILE")]
    pub host_password_file: Option<PathBuf>,
    /// Analyse the directory only; list the computers without connecting to them.
    #[arg(long, env = "ALM_DISCOVER_NO_HOST_SCAN")]
    pub no_host_scan: bool,
    /// Hosts scanned at once.
    #[arg(long, env = "ALM_DISCOVER_PARALLEL", default_value_t = DEFAULT_PARALLEL as u16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub parallel: u16,
    /// Seconds to wait for one host.
    #[arg(long, env = "ALM_DISCOVER_HOST_TIMEOUT", default_value_t = DEFAULT_HOST_TIMEOUT.as_secs(), value_name = "SECONDS")]
    pub host_timeout: u64,
    /// Seconds to wait for the domain controller.
    #[arg(
        long,
        env = "ALM_DISCOVER_LDAP_TIMEOUT",
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub ldap_timeout: u64,
    /// A regular expression (case-insensitive) on sAMAccountName that marks a service account;
    /// repeat for more.
    #[arg(long = "name-pattern", env = "ALM_DISCOVER_NAME_PATTERNS", value_delimiter = ',', default_values_t = DEFAULT_NAME_PATTERNS.iter().map(|s| s.to_string()))]
    pub name_patterns: Vec<String>,
    /// A word in the description that marks a service account; repeat for more.
    #[arg(long = "description-keyword", env = "ALM_DISCOVER_DESCRIPTION_KEYWORDS", value_delimiter = ',', default_values_t = DEFAULT_DESCRIPTION_KEYWORDS.iter().map(|s| s.to_string()))]
    pub description_keywords: Vec<String>,
    /// A kerberoastable account whose password is older than this many days is a finding.
    #[arg(long, env = "ALM_DISCOVER_PASSWORD_AGE_DAYS", default_value_t = DEFAULT_PASSWORD_AGE_DAYS, value_name = "DAYS")]
    pub password_age_days: u32,
    /// After the reports, send the findings to this alm server (https://alm.example.com) as
    /// unmanaged accounts for a later import. The API token comes from --import-token-file or
    /// the ALM_IMPORT_TOKEN environment variable (asked at a terminal otherwise).
    #[arg(long, env = "ALM_DISCOVER_IMPORT", value_name = "URL")]
    pub import: Option<String>,
    /// Read the alm API token for --import from this file (first line).
    #[arg(long, env = "ALM_DISCOVER_IMPORT_TOKEN_FILE", value_name = "FILE")]
    pub import_token_file: Option<PathBuf>,
    /// The CA certificate (PEM) of the alm server's certificate, for a server with a private
    /// CA; the system's trusted CAs when omitted.
    #[arg(long, env = "ALM_DISCOVER_IMPORT_CA_FILE", value_name = "FILE")]
    pub import_ca_file: Option<PathBuf>,
    /// No logon for more than this many days makes an account stale (or never used).
    #[arg(long, env = "ALM_DISCOVER_STALE_DAYS", default_value_t = DEFAULT_STALE_DAYS, value_name = "DAYS")]
    pub stale_days: u32,
}
