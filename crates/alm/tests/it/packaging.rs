//! The Debian package (`packaging/deb/build.sh`) built around the binary under test: it
//! installs, creates its system user and private directories, its systemd units verify cleanly
//! and rate as hardened, the installed `alm` runs as that user against the installed
//! configuration, and it removes cleanly — keeping the data, as promised.
//!
//! It installs into this machine (root; CI machines are thrown away), so it refuses to run
//! where a real alm is installed rather than remove it.

use std::path::Path;
use std::process::{Command, Output};

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn mode_owner(path: &str) -> String {
    text(&run("stat", &["-c", "%a %U:%G", path]))
        .trim()
        .to_owned()
}

#[test]
fn the_debian_package_installs_verifies_runs_and_removes_cleanly() {
    assert_eq!(
        text(&run("id", &["-u"])).trim(),
        "0",
        "installing a package needs root (CI runs as root)"
    );
    assert!(
        !Path::new("/var/lib/alm/alm.db").exists(),
        "this machine has a real alm installation (/var/lib/alm/alm.db): not touching it"
    );
    // A run that failed half-way left the test package installed: take it away first.
    let _ = run("dpkg", &["-P", "alm"]);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out_dir = crate::support::db::temp_dir("deb");
    let built = run(
        "bash",
        &[
            &format!("{root}/packaging/deb/build.sh"),
            "--binary",
            env!("CARGO_BIN_EXE_alm"),
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert!(built.status.success(), "{}", text(&built));
    let deb = String::from_utf8_lossy(&built.stdout)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let version = env!("CARGO_PKG_VERSION").replace('-', "~");
    assert!(
        deb.ends_with(&format!("alm_{version}_amd64.deb"))
            || deb.ends_with(&format!("alm_{version}_arm64.deb")),
        "{deb}"
    );
    let info = text(&run(
        "dpkg-deb",
        &["--field", &deb, "Package", "Version", "Depends"],
    ));
    assert!(
        info.contains("Package: alm") && info.contains(&format!("Version: {version}")),
        "{info}"
    );

    let installed = run("dpkg", &["-i", &deb]);
    assert!(installed.status.success(), "{}", text(&installed));
    let version_out = run("/usr/bin/alm", &["--version"]);
    assert!(
        text(&version_out).starts_with(&format!("alm {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{}",
        text(&version_out)
    );
    assert_eq!(mode_owner("/etc/alm"), "750 root:alm");
    assert_eq!(mode_owner("/etc/alm/alm.toml"), "640 root:alm");
    assert_eq!(mode_owner("/var/lib/alm"), "700 alm:alm");
    let shell = text(&run("getent", &["passwd", "alm"]));
    assert!(
        shell.trim().ends_with(":/usr/sbin/nologin"),
        "a system user without a login: {shell}"
    );

    // Both units verify without a single warning (an unknown key is only a warning there).
    for unit in ["alm.service", "alm-engine.service"] {
        let path = format!("/lib/systemd/system/{unit}");
        let verified = run("systemd-analyze", &["verify", &path]);
        assert!(
            verified.status.success() && text(&verified).trim().is_empty(),
            "{unit}: {}",
            text(&verified)
        );
        let security = text(&run(
            "systemd-analyze",
            &["security", "--offline=true", &path],
        ));
        let level = security
            .lines()
            .find_map(|l| {
                l.split_once("Overall exposure level for ")
                    .map(|(_, rest)| rest.to_owned())
            })
            .unwrap_or_else(|| panic!("{unit}: {security}"));
        // systemd's scale: SAFE and OK are the two best of five.
        assert!(
            level.contains(" OK") || level.contains(" SAFE"),
            "{unit}: {level}"
        );
    }

    // The installed binary, as the package's user, with the package's configuration.
    // A clean environment, as systemd gives it (the test run's own ALM_* variables would be refused).
    let migrated = Command::new("runuser")
        .args([
            "-u",
            "alm",
            "--",
            "/usr/bin/alm",
            "db",
            "migrate",
            "--config",
            "/etc/alm/alm.toml",
        ])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .expect("runuser");
    assert!(
        migrated.status.success() && text(&migrated).contains("applied migrations"),
        "{}",
        text(&migrated)
    );
    assert_eq!(mode_owner("/var/lib/alm/alm.db"), "600 alm:alm");

    let removed = run("dpkg", &["-r", "alm"]);
    assert!(removed.status.success(), "{}", text(&removed));
    for gone in [
        "/usr/bin/alm",
        "/lib/systemd/system/alm.service",
        "/lib/systemd/system/alm-engine.service",
    ] {
        assert!(
            !Path::new(gone).exists(),
            "{gone} is still there after dpkg -r"
        );
    }
    assert!(
        Path::new("/etc/alm/alm.toml").exists(),
        "a removed (not purged) package keeps its conffile"
    );
    let purged = run("dpkg", &["-P", "alm"]);
    assert!(purged.status.success(), "{}", text(&purged));
    assert!(!Path::new("/etc/alm").exists(), "purge removes /etc/alm");
    assert!(
        Path::new("/var/lib/alm/alm.db").exists(),
        "the data stays: nobody loses a database to dpkg"
    );
    let listed = text(&run("dpkg-query", &["-W", "-f=${Status}", "alm"]));
    assert!(!listed.contains("installed"), "{listed}");

    // Leave the machine as it was.
    let _ = std::fs::remove_dir_all("/var/lib/alm");
    let _ = std::fs::remove_dir_all("/var/lib/alm-engine");
    let _ = run("userdel", &["alm"]);
    let _ = std::fs::remove_dir_all(&out_dir);
}
