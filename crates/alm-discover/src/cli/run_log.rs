//! The run's log file (`OUT/logs/discover.log`) and one file per host that could not be
//! scanned. Only lines composed here are written, none carries a credential.

use crate::host_scan::{HostOutcome, HostResult};
use alm_core::Clock;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct RunLog {
    dir: PathBuf,
    file: Mutex<std::fs::File>,
    clock: std::sync::Arc<dyn Clock>,
}

impl RunLog {
    pub fn create(out: &Path, clock: std::sync::Arc<dyn Clock>) -> std::io::Result<Self> {
        let dir = out.join("logs");
        std::fs::create_dir_all(&dir)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("discover.log"))?;
        Ok(Self {
            dir,
            file: Mutex::new(file),
            clock,
        })
    }

    pub fn line(&self, text: &str) {
        let at = crate::report::instant_text(Some(self.clock.now()));
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "{at} {text}");
        }
    }

    /// A failed host: one line here and its own file `logs/<host>.log`.
    pub fn host(&self, outcome: &HostOutcome) {
        let HostResult::Failed(e) = &outcome.result else {
            return;
        };
        let host = outcome
            .computer
            .dns_host_name
            .as_deref()
            .unwrap_or(&outcome.computer.name);
        self.line(&format!("host {host}: {e}"));
        let safe: String = host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let at = crate::report::instant_text(Some(self.clock.now()));
        let _ = std::fs::write(
            self.dir.join(format!("{safe}.log")),
            format!(
                "{at} {host} ({})\n{}: {}\n",
                outcome.computer.dn,
                e.kind.label(),
                e.message
            ),
        );
    }
}
