//! The account the host scan logs on to the hosts with, split into what NTLM needs: a domain
//! (NetBIOS or DNS name, or "." for an account local to each host) and a user name.
//!
//! Parsed once at the edge from what the administrator typed; no I/O here. The password
//! stays in a `Secret` and is never part of an error message.

use alm_core::Secret;

/// A logon for the hosts. Only `parse` builds one, so the domain and user are never empty.
#[derive(Debug, Clone)]
pub struct HostCredentials {
    domain: String,
    user: String,
    pub password: Secret,
}

impl HostCredentials {
    /// `DOMAIN\user`, `user@dns.domain` or `.\user` (a local account of each host). A bare
    /// name or a DN names no domain NTLM could use, and is refused with what to type instead.
    /// `source` names where the value came from (e.g. `--host-user`) for the error.
    pub fn parse(typed: &str, password: Secret, source: &str) -> Result<Self, String> {
        let typed = typed.trim();
        let hint =
            "give it as DOMAIN\\user, user@dns.domain or .\\user (an account local to each host)";
        let (domain, user) = if let Some((domain, user)) = typed.split_once('\\') {
            (domain, user)
        } else if let Some((user, domain)) = typed.rsplit_once('@') {
            // Windows and Samba both accept the DNS domain name in the NTLM domain field.
            (domain, user)
        } else if typed.contains('=') {
            return Err(format!(
                "{source}: {typed:?} is a DN, which cannot log on to a host over SMB; {hint}"
            ));
        } else {
            return Err(format!(
                "{source}: {typed:?} names no domain for the host logon; {hint}"
            ));
        };
        // The characters Windows forbids in account names (spaces are allowed).
        let bad = |c: char| c.is_control() || "\\/@\"[]:;|=+*?<>".contains(c);
        if domain.trim().is_empty() || user.trim().is_empty() {
            return Err(format!(
                "{source}: {typed:?} has an empty domain or user name; {hint}"
            ));
        }
        if user.chars().any(bad) || domain.chars().any(bad) {
            return Err(format!(
                "{source}: {typed:?} holds characters no Windows account name can; {hint}"
            ));
        }
        Ok(Self {
            domain: domain.trim().to_owned(),
            user: user.trim().to_owned(),
            password,
        })
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// `DOMAIN\user`, for logs and messages.
    pub fn display(&self) -> String {
        format!("{}\\{}", self.domain, self.user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(typed: &str) -> Result<(String, String), String> {
        HostCredentials::parse(typed, Secret::new("pw-4711"), "--host-user")
            .map(|c| (c.domain().to_owned(), c.user().to_owned()))
    }

    #[test]
    fn the_typed_forms_split_into_ntlm_domain_and_user() {
        let pair = |d: &str, u: &str| Ok((d.to_owned(), u.to_owned()));
        assert_eq!(split("CORP\\admin"), pair("CORP", "admin"));
        assert_eq!(
            split("admin@corp.example.com"),
            pair("corp.example.com", "admin")
        );
        assert_eq!(split(".\\localadmin"), pair(".", "localadmin"));
        assert_eq!(
            split(" HOSTS\\Administrator "),
            pair("HOSTS", "Administrator")
        );
    }

    #[test]
    fn forms_without_a_usable_domain_say_what_to_type() {
        for (typed, why) in [
            ("admin", "names no domain"),
            ("CN=Administrator,CN=Users,DC=corp,DC=test", "is a DN"),
            ("CORP\\", "empty domain or user"),
            ("@corp.test", "empty domain or user"),
            ("CORP\\a/b", "characters"),
        ] {
            let e = split(typed).unwrap_err();
            assert!(
                e.starts_with("--host-user: ") && e.contains(why) && e.contains("DOMAIN\\user"),
                "{typed}: {e}"
            );
        }
    }

    #[test]
    fn debug_and_errors_never_show_the_password() {
        let c = HostCredentials::parse("CORP\\a", Secret::new("pw-4711"), "x").unwrap();
        assert!(!format!("{c:?}").contains("pw-4711"));
        assert_eq!(c.display(), "CORP\\a");
    }
}
