//! Seeds an OU of the main DC for the host scan: computer objects whose `dNSHostName` points
//! at test hosts (the SMB DC, a closed address, a silent listener), and optionally the
//! service account `svc_wins` that the SMB DC's WINS service runs as (tests/peers/samba_smb.sh
//! sets its start name to `DOMAIN\svc_wins`), so the usage join has something to find.

use crate::seed::{a, add, connect, env, user};
use ldap3::{Scope, SearchEntry};

/// The sAMAccountName tests/peers/samba_smb.sh gives the SMB DC's WINS service.
pub const WINS_ACCOUNT: &str = "svc_wins";

pub struct HostSeed {
    pub ou: String,
    ldap: ldap3::Ldap,
}

impl HostSeed {
    /// A fresh OU with one enabled computer per `(cn prefix, dNSHostName)`, plus `svc_wins`
    /// when `with_wins_account`.
    pub async fn new(label: &str, hosts: &[(&str, &str)], with_wins_account: bool) -> Self {
        let mut ldap = connect().await;
        let base = env("ALMTEST_AD_BASE_DN");
        let run = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        let ou = format!("OU=disc-{label}-{run},{base}");
        add(
            &mut ldap,
            &ou,
            vec![a("objectClass", &[b"organizationalUnit"])],
        )
        .await;
        for (cn, dns) in hosts {
            let cn = format!("{cn}{run}");
            add(
                &mut ldap,
                &format!("CN={cn},{ou}"),
                vec![
                    a("objectClass", &[b"computer"]),
                    a("sAMAccountName", &[format!("{cn}$").as_bytes()]),
                    a("dNSHostName", &[dns.as_bytes()]),
                    // WORKSTATION_TRUST_ACCOUNT: an enabled computer.
                    a("userAccountControl", &[b"4096"]),
                ],
            )
            .await;
        }
        if with_wins_account {
            // sAMAccountNames are unique in the domain: a run that died before its cleanup
            // may have left one behind.
            remove_leftover(&mut ldap, &base, WINS_ACCOUNT).await;
            user(&mut ldap, &ou, WINS_ACCOUNT, 0x200, &[]).await;
        }
        HostSeed { ou, ldap }
    }

    /// Deletes the OU with everything in it.
    pub async fn remove(mut self) {
        let tree_delete = ldap3::controls::RawControl {
            ctype: "1.2.840.113556.1.4.805".into(),
            crit: true,
            val: None,
        };
        let _ = self
            .ldap
            .with_controls(vec![tree_delete])
            .delete(&self.ou)
            .await;
        let _ = self.ldap.unbind().await;
    }
}

async fn remove_leftover(ldap: &mut ldap3::Ldap, base: &str, sam: &str) {
    let (entries, _) = ldap
        .search(
            base,
            Scope::Subtree,
            &format!("(sAMAccountName={sam})"),
            vec!["1.1"],
        )
        .await
        .expect("search")
        .success()
        .expect("search for a leftover account");
    for e in entries {
        let dn = SearchEntry::construct(e).dn;
        // alm's own dependencies test (crates/alm/tests/it/dependencies.rs) seeds it in a
        // template test OU.
        assert!(
            dn.contains(",OU=disc-hosts-") || dn.contains(",OU=tmpl-"),
            "{sam} exists outside a test OU ({dn}); the host scan test needs that name"
        );
        ldap.delete(&dn)
            .await
            .expect("delete")
            .success()
            .unwrap_or_else(|e| panic!("delete the leftover {dn}: {e}"));
    }
}
