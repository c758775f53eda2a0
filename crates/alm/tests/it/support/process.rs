//! A real `alm serve` process (the binary under test, not an in-process state), whose wall
//! clock reads a file the test writes: libfaketime (preloaded; `ALMTEST_FAKETIME_LIB`, set by
//! `.ci/run`) answers the process's realtime clock from that file, re-read on every call.
//! The monotonic clock stays real, so the process's timers and timeouts behave.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use time::OffsetDateTime;

/// The file a group of processes reads its time from.
pub struct SharedClock {
    path: PathBuf,
}

impl SharedClock {
    pub fn new(dir: &Path, at: OffsetDateTime) -> Self {
        let clock = Self {
            path: dir.join("faketime"),
        };
        clock.set(at);
        clock
    }

    /// Sets every process's time to `at` (frozen there until the next `set`).
    pub fn set(&self, at: OffsetDateTime) {
        let text = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}\n",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
        // Written whole then renamed, so a process never reads half a time.
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &self.path).unwrap();
    }
}

/// The `alm` binary the tests start: cargo's (`CARGO_BIN_EXE_alm`), or `ALMTEST_ALM_BIN`. Cargo
/// puts the binary at one path per target directory, so a target directory shared by several
/// checkouts can have another checkout's build there at any moment; a long run (the crash
/// suite's 1,000 rounds) points this at a copy of its own build.
pub fn alm_binary() -> PathBuf {
    std::env::var_os("ALMTEST_ALM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_alm")))
}

pub struct AlmProcess {
    child: Child,
    pub base: String,
    pub log: PathBuf,
    /// Everything the process printed on stdout so far.
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl AlmProcess {
    /// Starts `alm serve` with these `ALM_*` settings on a free port; waits until it listens.
    pub fn start(name: &str, dir: &Path, clock: &SharedClock, env: &[(&str, String)]) -> Self {
        let lib = std::env::var("ALMTEST_FAKETIME_LIB").unwrap_or_else(|_| {
            panic!("ALMTEST_FAKETIME_LIB is not set: run the tests through .ci/run (it installs libfaketime)")
        });
        assert!(Path::new(&lib).exists(), "{lib} does not exist");
        let log = dir.join(format!("{name}.log"));
        let mut cmd = Command::new(alm_binary());
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LD_PRELOAD", &lib)
            .env("FAKETIME_TIMESTAMP_FILE", &clock.path)
            .env("FAKETIME_NO_CACHE", "1")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .env("RUST_LOG", "info");
        Self::spawn(name, cmd, log, env)
    }

    /// Starts `alm serve` with these `ALM_*` settings on the machine's real clock, `--data-dir`
    /// `dir`; waits until it listens.
    pub fn start_on_real_clock(name: &str, dir: &Path, env: &[(&str, String)]) -> Self {
        let log = dir.join(format!("{name}.log"));
        let mut cmd = Command::new(alm_binary());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ALM_LOG", "info");
        Self::spawn(name, cmd, log, env)
    }

    fn spawn(name: &str, mut cmd: Command, log: PathBuf, env: &[(&str, String)]) -> Self {
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        cmd.stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("alm serve starts");
        let stdout = child.stdout.take().unwrap();
        let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = printed.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line.clone());
                if let Some(rest) = line.strip_prefix("alm is listening on ") {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                    let _ = tx.send(addr);
                }
            }
        });
        let Ok(base) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!(
                "{name} did not start listening within 60 s; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Self {
            child,
            base,
            log,
            stdout: printed,
        }
    }

    /// The operating-system process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL): no graceful shutdown, as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for AlmProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
