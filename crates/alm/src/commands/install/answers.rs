//! The answers of `alm install`: each from its flag (or `ALM_INSTALL_*` variable), else asked
//! (with the current value as the default), else the existing file's value, else alm's default.
//! An answer that cannot be right is refused at once: asked again when interactive, an error
//! naming the flag otherwise.

use super::{InstallArgs, TlsChoice};
use alm_core::Email;
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// What the configuration file is made from.
#[derive(Debug, Clone)]
pub struct Answers {
    pub data_dir: PathBuf,
    pub public_url: String,
    pub listen: String,
    pub tls: TlsChoice,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub acme_email: Option<String>,
    pub acme_directory: Option<String>,
    pub redirect_listen: Option<String>,
    /// None: SQLite in the data directory.
    pub database_url: Option<String>,
    pub admin_name: String,
    /// None on a re-run without `--admin-email`: the administrator exists.
    pub admin_email: Option<String>,
    /// (issuer, client id, client secret); None: no single sign-on.
    pub oidc: Option<(String, String, String)>,
    pub smtp: Option<Smtp>,
}

#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
}

/// Asks on the terminal, or takes what is given.
struct Asker {
    interactive: bool,
}

impl Asker {
    /// `given` when set; else asked (default shown) when interactive; else the default; a value
    /// `check` refuses is asked again, or refused naming `flag`.
    fn text(
        &self,
        flag: &str,
        question: &str,
        given: Option<String>,
        default: Option<String>,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> anyhow::Result<String> {
        if let Some(v) = given {
            check(&v).map_err(|why| super::refused(flag, why))?;
            return Ok(v);
        }
        if !self.interactive {
            let v =
                default.ok_or_else(|| super::refused(flag, "required (no terminal to ask on)"))?;
            check(&v).map_err(|why| super::refused(flag, why))?;
            return Ok(v);
        }
        loop {
            match &default {
                Some(d) => print!("{question} [{d}]: "),
                None => print!("{question}: "),
            }
            std::io::stdout().flush()?;
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line)? == 0 {
                anyhow::bail!("{flag}: no answer (end of input)");
            }
            let line = line.trim().to_owned();
            let v = if line.is_empty() {
                match &default {
                    Some(d) => d.clone(),
                    None => {
                        println!("  an answer is required");
                        continue;
                    }
                }
            } else {
                line
            };
            match check(&v) {
                Ok(()) => return Ok(v),
                Err(why) => println!("  {why}"),
            }
        }
    }

    /// A secret: never shown, never echoed (a kept value is offered as "keep").
    fn secret(
        &self,
        flag: &str,
        question: &str,
        given: Option<String>,
        current: Option<String>,
    ) -> anyhow::Result<String> {
        if let Some(v) = given {
            return Ok(v);
        }
        if !self.interactive {
            return current.ok_or_else(|| super::refused(flag, "required (no terminal to ask on)"));
        }
        loop {
            let prompt = if current.is_some() {
                format!("{question} (empty keeps the current one): ")
            } else {
                format!("{question}: ")
            };
            let v = rpassword::prompt_password(prompt)?;
            match (v.is_empty(), &current) {
                (true, Some(c)) => return Ok(c.clone()),
                (true, None) => println!("  an answer is required"),
                (false, _) => return Ok(v),
            }
        }
    }

    fn yes(&self, question: &str, default: bool) -> anyhow::Result<bool> {
        let answer = self.text(
            "",
            &format!("{question} (yes/no)"),
            None,
            Some(if default { "yes" } else { "no" }.into()),
            |v| {
                matches!(v, "yes" | "no" | "y" | "n")
                    .then_some(())
                    .ok_or_else(|| "answer yes or no".to_owned())
            },
        )?;
        Ok(answer.starts_with('y'))
    }
}

fn existing_str(t: &toml::Table, path: &[&str]) -> Option<String> {
    let mut v = t.get(path[0])?;
    for key in &path[1..] {
        v = v.get(key)?;
    }
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Array(a) => a.first().and_then(|x| x.as_str()).map(str::to_owned),
        _ => None,
    }
}

fn url_check(v: &str) -> Result<(), String> {
    match url::Url::parse(v) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => {
            Ok(())
        }
        _ => Err(format!(
            "expected an http:// or https:// URL such as https://alm.example.com, found {v:?}"
        )),
    }
}

fn addr_check(v: &str) -> Result<(), String> {
    v.parse::<std::net::SocketAddr>()
        .map(drop)
        .map_err(|_| format!("expected an address and port such as 0.0.0.0:443, found {v:?}"))
}

fn email_check(v: &str) -> Result<(), String> {
    Email::parse("email", v).map(drop).map_err(|e| e.message)
}

fn file_check(v: &str) -> Result<(), String> {
    std::path::Path::new(v)
        .is_file()
        .then_some(())
        .ok_or_else(|| format!("{v} is not a file"))
}

pub fn gather(
    args: &InstallArgs,
    existing: &toml::Table,
    interactive: bool,
) -> anyhow::Result<Answers> {
    let ask = Asker { interactive };
    let had = |path: &[&str]| existing_str(existing, path);
    if interactive {
        println!("alm install — answers in [brackets] are kept when you press Enter.");
    }
    let data_dir = PathBuf::from(ask.text(
        "--data-dir",
        "Data directory",
        args.data_dir.as_ref().map(|p| p.display().to_string()),
        had(&["data_dir"]).or(Some("/var/lib/alm".into())),
        |v| {
            (!v.is_empty())
                .then_some(())
                .ok_or_else(|| "a directory".into())
        },
    )?);
    let public_url = ask.text(
        "--public-url",
        "Public URL (how people reach alm)",
        args.public_url.clone(),
        had(&["public_url"]),
        url_check,
    )?;
    let current_tls = if had(&["tls", "acme", "email"]).is_some() {
        "acme"
    } else if had(&["tls", "cert_file"]).is_some() {
        "files"
    } else {
        "none"
    };
    let tls = match args.tls {
        Some(t) => t,
        None => match ask
            .text(
                "--tls",
                "TLS: none (behind a reverse proxy), files (your certificate) or acme (Let's Encrypt)",
                None,
                Some(current_tls.into()),
                |v| matches!(v, "none" | "files" | "acme").then_some(()).ok_or_else(|| "answer none, files or acme".into()),
            )?
            .as_str()
        {
            "files" => TlsChoice::Files,
            "acme" => TlsChoice::Acme,
            _ => TlsChoice::None,
        },
    };
    if tls != TlsChoice::None && !public_url.starts_with("https://") {
        return Err(super::refused(
            "--public-url",
            "an https:// URL when alm serves HTTPS",
        ));
    }
    let (mut tls_cert, mut tls_key, mut acme_email, mut acme_directory, mut redirect_listen) =
        (None, None, None, None, None);
    match tls {
        TlsChoice::Files => {
            tls_cert = Some(PathBuf::from(ask.text(
                "--tls-cert",
                "Certificate chain (PEM file)",
                args.tls_cert.as_ref().map(|p| p.display().to_string()),
                had(&["tls", "cert_file"]),
                file_check,
            )?));
            tls_key = Some(PathBuf::from(ask.text(
                "--tls-key",
                "Its private key (PEM file)",
                args.tls_key.as_ref().map(|p| p.display().to_string()),
                had(&["tls", "key_file"]),
                file_check,
            )?));
            redirect_listen = args
                .redirect_listen
                .clone()
                .or(had(&["tls", "redirect_listen"]));
        }
        TlsChoice::Acme => {
            acme_email = Some(ask.text(
                "--acme-email",
                "Contact address for the ACME CA",
                args.acme_email.clone(),
                had(&["tls", "acme", "email"]),
                email_check,
            )?);
            acme_directory = args
                .acme_directory
                .clone()
                .or(had(&["tls", "acme", "directory_url"]));
            redirect_listen = Some(ask.text(
                "--redirect-listen",
                "Plain-HTTP address for the challenge and redirects (port 80)",
                args.redirect_listen.clone(),
                had(&["tls", "redirect_listen"]).or(Some("0.0.0.0:80".into())),
                addr_check,
            )?);
        }
        TlsChoice::None => {}
    }
    let default_listen = if tls == TlsChoice::None {
        "127.0.0.1:8080"
    } else {
        "0.0.0.0:443"
    };
    let listen = ask.text(
        "--listen",
        "Listen on",
        args.listen.clone(),
        had(&["listen"]).or(Some(default_listen.into())),
        addr_check,
    )?;

    let database = ask.text(
        "--database-url",
        "Database: sqlite (in the data directory) or a postgres:// URL",
        args.database_url.clone(),
        had(&["database", "url"]).or(Some("sqlite".into())),
        |v| {
            (v == "sqlite" || v.starts_with("postgres://") || v.starts_with("postgresql://"))
                .then_some(())
                .ok_or_else(|| {
                    "answer sqlite or a postgres://user:password@host/database URL".into()
                })
        },
    )?;
    let database_url = (database != "sqlite").then_some(database);

    // The administrator is asked for at the first install only; a re-run leaves them alone
    // (given flags are used only when the database has no user yet).
    let first_install = existing.is_empty();
    let name_check = |v: &str| {
        (!v.trim().is_empty() && v.chars().count() <= 128)
            .then_some(())
            .ok_or_else(|| "a name of 1 to 128 characters".to_owned())
    };
    let (admin_name, admin_email) = if first_install {
        (
            ask.text(
                "--admin-name",
                "First administrator's name",
                args.admin_name.clone(),
                Some("Administrator".into()),
                name_check,
            )?,
            Some(ask.text(
                "--admin-email",
                "First administrator's email address",
                args.admin_email.clone(),
                None,
                email_check,
            )?),
        )
    } else {
        if let Some(e) = &args.admin_email {
            email_check(e).map_err(|why| super::refused("--admin-email", why))?;
        }
        (
            args.admin_name
                .clone()
                .unwrap_or_else(|| "Administrator".into()),
            args.admin_email.clone(),
        )
    };

    let had_oidc = had(&["auth", "oidc", "issuer"]);
    let want_oidc = if args.no_oidc {
        false
    } else if args.oidc_issuer.is_some() {
        true
    } else if interactive {
        ask.yes(
            "Sign in with an OpenID Connect provider?",
            had_oidc.is_some(),
        )?
    } else {
        had_oidc.is_some()
    };
    let oidc = if want_oidc {
        let issuer = ask.text(
            "--oidc-issuer",
            "OIDC issuer URL",
            args.oidc_issuer.clone(),
            had_oidc,
            url_check,
        )?;
        let client_id = ask.text(
            "--oidc-client-id",
            "OIDC client id",
            args.oidc_client_id.clone(),
            had(&["auth", "oidc", "client_id"]),
            |v| {
                (!v.trim().is_empty())
                    .then_some(())
                    .ok_or_else(|| "the client id registered at the provider".into())
            },
        )?;
        let secret = ask.secret(
            "--oidc-client-secret",
            "OIDC client secret",
            args.oidc_client_secret.clone(),
            had(&["auth", "oidc", "client_secret"]),
        )?;
        Some((issuer, client_id, secret))
    } else {
        None
    };

    let had_smtp = had(&["smtp", "host"]);
    let want_smtp = if args.no_smtp {
        false
    } else if args.smtp_host.is_some() {
        true
    } else if interactive {
        ask.yes("Send email through an SMTP server?", had_smtp.is_some())?
    } else {
        had_smtp.is_some()
    };
    let smtp = if want_smtp {
        let host = ask.text(
            "--smtp-host",
            "SMTP host",
            args.smtp_host.clone(),
            had_smtp,
            |v| {
                (!v.trim().is_empty())
                    .then_some(())
                    .ok_or_else(|| "a host name".into())
            },
        )?;
        let security = ask.text(
            "--smtp-security",
            "SMTP security: none, starttls or tls",
            args.smtp_security.clone(),
            had(&["smtp", "security"]).or(Some("starttls".into())),
            |v| {
                matches!(v, "none" | "starttls" | "tls")
                    .then_some(())
                    .ok_or_else(|| "answer none, starttls or tls".into())
            },
        )?;
        let default_port = match security.as_str() {
            "tls" => "465",
            "none" => "25",
            _ => "587",
        };
        let port = ask.text(
            "--smtp-port",
            "SMTP port",
            args.smtp_port.map(|p| p.to_string()),
            had(&["smtp", "port"]).or(Some(default_port.into())),
            |v| {
                v.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .map(drop)
                    .ok_or_else(|| "a port number".into())
            },
        )?;
        let username = match (&args.smtp_username, interactive) {
            (Some(u), _) => Some(u.clone()),
            (None, true) => Some(ask.text(
                "--smtp-username",
                "SMTP user name (- for none)",
                None,
                had(&["smtp", "username"]).or(Some("-".into())),
                |_| Ok(()),
            )?)
            .filter(|u| u != "-"),
            (None, false) => had(&["smtp", "username"]),
        };
        let password = match &username {
            Some(_) => Some(ask.secret(
                "--smtp-password",
                "SMTP password",
                args.smtp_password.clone(),
                had(&["smtp", "password"]),
            )?),
            None => None,
        };
        let from = ask.text(
            "--smtp-from",
            "Sender address of alm's emails",
            args.smtp_from.clone(),
            had(&["smtp", "from"]),
            email_check,
        )?;
        Some(Smtp {
            host,
            port: port.parse().expect("checked"),
            security,
            username,
            password,
            from,
        })
    } else {
        None
    };
    Ok(Answers {
        data_dir,
        public_url,
        listen,
        tls,
        tls_cert,
        tls_key,
        acme_email,
        acme_directory,
        redirect_listen,
        database_url,
        admin_name,
        admin_email,
        oidc,
        smtp,
    })
}
