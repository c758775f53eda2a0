//! Records the commit the binary is built from, for `alm --version`: `ALM_BUILD_COMMIT` when
//! set (a package built from a source tarball has no Git), else `git rev-parse`. A build from
//! neither says "unknown commit" rather than guess.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    println!("cargo:rerun-if-env-changed=ALM_BUILD_COMMIT");
    let commit = std::env::var("ALM_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    // Rebuilt when HEAD moves: HEAD itself, and the branch file it points at.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={dir}/{reference}");
        }
        println!("cargo:rerun-if-changed={dir}/packed-refs");
    }
    let described = match commit {
        Some(c) => format!("commit {c}"),
        None => "unknown commit".to_owned(),
    };
    println!(
        "cargo:rustc-env=ALM_VERSION_LONG={} ({described})",
        env!("CARGO_PKG_VERSION")
    );
}
