//! The shape ARCHITECTURE.md promises, checked on the source: HTTP handlers hold no
//! transaction (they call services), and the job queue imports no feature module (each feature
//! registers its job handler with the queue, never the other way round).

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn handlers_open_no_transaction_or_connection() {
    let mut found = Vec::new();
    for dir in ["api", "ui"] {
        let dir = src().join(dir);
        if !dir.exists() {
            continue;
        }
        for file in sources(&dir) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                if [".begin_write(", "db.read()", ".begin_read("]
                    .iter()
                    .any(|p| line.contains(p))
                {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "handlers must call a service instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_job_queue_imports_no_feature_module() {
    let queue = std::fs::read_to_string(src().join("services/jobs.rs")).unwrap();
    let services: Vec<String> = sources(&src().join("services"))
        .iter()
        .filter_map(|p| {
            let name = if p.file_name()? == "mod.rs" {
                p.parent()?.file_name()?.to_str()?.to_owned()
            } else {
                p.file_stem()?.to_str()?.to_owned()
            };
            (name != "services" && name != "jobs").then_some(name)
        })
        .collect();
    // What the queue may use: the shared service types, audit records and the refusal kinds.
    let allowed = ["audit", "refusal"];
    let mut found = Vec::new();
    for line in queue
        .lines()
        .filter(|l| l.trim_start().starts_with("use ") || l.contains("super::"))
    {
        for s in &services {
            if allowed.contains(&s.as_str()) {
                continue;
            }
            if line.contains(&format!("super::{s}::"))
                || line.contains(&format!("services::{s}::"))
                || line.contains(&format!("super::{s};"))
                || line.contains(&format!("super::{{{s}"))
            {
                found.push(format!("{s}: {}", line.trim()));
            }
        }
    }
    assert!(!services.is_empty());
    assert!(
        found.is_empty(),
        "services/jobs.rs imports feature modules:\n{}",
        found.join("\n")
    );
}
