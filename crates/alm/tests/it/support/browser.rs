//! Real browsers for the web UI tests: Debian's Chromium through chromedriver and Firefox ESR
//! through geckodriver (built from crates.io by `scripts/test.sh`), driven over WebDriver by
//! fantoccini. Each test gets its own driver process on a free port and a fresh profile.
//! Screenshots go to `$ALMTEST_SCREENSHOTS` (else the target's tmp dir), named
//! `<browser>/<page>-<width>x<height>.png`: they are the reviewer's evidence.

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Chromium,
    Firefox,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Chromium, Kind::Firefox];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Chromium => "chromium",
            Kind::Firefox => "firefox",
        }
    }
}

/// The desktop and phone sizes every page is looked at in (SPEC §10).
pub const DESKTOP: (u32, u32) = (1280, 800);
pub const PHONE: (u32, u32) = (390, 844);

pub struct Browser {
    pub kind: Kind,
    pub client: Client,
    /// Whether scripts run (the accessibility check needs them).
    pub javascript: bool,
    driver: Child,
    _profile: tempdir::Dir,
}

mod tempdir {
    /// A directory removed when dropped.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn driver_command(kind: Kind) -> String {
    match kind {
        Kind::Chromium => std::env::var("ALMTEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()),
        Kind::Firefox => std::env::var("ALMTEST_GECKODRIVER").unwrap_or_else(|_| {
            panic!("ALMTEST_GECKODRIVER is not set: the browser tests need the geckodriver that `bash scripts/test.sh` installs")
        }),
    }
}

fn capabilities(kind: Kind, profile: &std::path::Path, javascript: bool) -> Map<String, Value> {
    let mut caps = Map::new();
    match kind {
        Kind::Chromium => {
            let mut args = vec![
                "--headless=new".to_owned(),
                "--no-sandbox".into(),
                "--disable-gpu".into(),
                "--disable-dev-shm-usage".into(),
                "--disable-quic".into(),
                "--no-first-run".into(),
                "--disable-background-networking".into(),
                "--disable-component-update".into(),
                "--disable-sync".into(),
                "--hide-scrollbars".into(),
                format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                format!("--user-data-dir={}", profile.display()),
            ];
            let mut prefs = json!({});
            if !javascript {
                prefs = json!({"profile.managed_default_content_settings.javascript": 2});
                args.push("--blink-settings=scriptEnabled=false".into());
            }
            caps.insert(
                "goog:chromeOptions".into(),
                json!({"binary": std::env::var("ALMTEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                       "args": args, "prefs": prefs}),
            );
        }
        Kind::Firefox => {
            caps.insert(
                "moz:firefoxOptions".into(),
                json!({"binary": std::env::var("ALMTEST_FIREFOX").unwrap_or_else(|_| "/usr/bin/firefox-esr".into()),
                       "args": ["-headless", "-profile", profile.display().to_string()],
                       "prefs": {"javascript.enabled": javascript, "app.update.enabled": false,
                                 "browser.shell.checkDefaultBrowser": false,
                                 "datareporting.policy.dataSubmissionEnabled": false,
                                 "toolkit.telemetry.enabled": false,
                                 "network.captive-portal-service.enabled": false}}),
            );
        }
    }
    caps
}

impl Browser {
    /// Starts the driver and a headless browser, with JavaScript on or off.
    pub async fn start_with(kind: Kind, javascript: bool) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "alm-browser-{}-{}",
            kind.name(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(dir.join("profile")).expect("profile dir");
        let log = dir.join("driver.log");
        let log_file = std::fs::File::create(&log).expect("driver log");
        let mut cmd = Command::new(driver_command(kind));
        match kind {
            Kind::Chromium => cmd.arg(format!("--port={port}")),
            Kind::Firefox => cmd.args(["--port", &port.to_string(), "--host", "127.0.0.1"]),
        };
        let driver = cmd
            .stdout(Stdio::from(log_file.try_clone().unwrap()))
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {} driver: {e}", kind.name()));
        let profile = tempdir::Dir(dir.clone());
        let caps = capabilities(kind, &dir.join("profile"), javascript);
        let url = format!("http://127.0.0.1:{port}");
        let mut last = String::new();
        for _ in 0..150 {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    let browser = Self {
                        kind,
                        client,
                        javascript,
                        driver,
                        _profile: profile,
                    };
                    browser.resize(DESKTOP).await;
                    return browser;
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        panic!(
            "the {} browser did not start: {last}\n--- driver log ---\n{text}",
            kind.name()
        );
    }

    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("{}: resize to {width}x{height}: {e}", self.kind.name()));
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("{}: open {url}: {e}", self.kind.name()));
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no {css} on the page: {e}", self.kind.name()))
            .text()
            .await
            .expect("text")
    }

    /// The texts of every element matching `css`. A page that is replaced while they are read
    /// (a form's answer arriving) leaves stale elements: they are read again from the new page.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        'page: for _ in 0..50 {
            let mut out = Vec::new();
            for e in self
                .client
                .find_all(Locator::Css(css))
                .await
                .expect("find_all")
            {
                match e.text().await {
                    Ok(text) => out.push(text),
                    Err(e) if e.is_stale_element_reference() => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue 'page;
                    }
                    Err(e) => panic!("{}: text of {css}: {e}", self.kind.name()),
                }
            }
            return out;
        }
        panic!("{}: {css} kept going stale for 5 s", self.kind.name())
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no field {css}: {e}", self.kind.name()));
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: nothing to click at {css}: {e}", self.kind.name()))
            .click()
            .await
            .unwrap_or_else(|e| panic!("{}: click {css}: {e}", self.kind.name()));
    }

    /// Clicks `css` and waits for the page it leads to: the old page's main part gone stale,
    /// by a page load or by the script putting the answer in its place (a boosted form).
    pub async fn submit(&self, css: &str) {
        let old = match self.client.find(Locator::Css("main")).await {
            Ok(main) => main,
            Err(_) => self
                .client
                .find(Locator::Css("html"))
                .await
                .expect("the page has a root"),
        };
        self.click(css).await;
        for _ in 0..100 {
            if old.tag_name().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{}: clicking {css} loaded no new page", self.kind.name());
    }

    /// Ticks a checkbox or picks a radio button (a click when not selected yet).
    pub async fn check(&self, css: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no {css}: {e}", self.kind.name()));
        if !field.is_selected().await.expect("selected") {
            field.click().await.expect("click");
        }
    }

    /// The current value of a form field.
    pub async fn value(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{}: no {css}: {e}", self.kind.name()))
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    /// Sends a key (Tab, Enter, Space) or text to whatever has the focus, as a keyboard does.
    pub async fn press(&self, keys: &str) {
        self.client
            .active_element()
            .await
            .expect("something has the focus")
            .send_keys(keys)
            .await
            .unwrap_or_else(|e| panic!("{}: keys: {e}", self.kind.name()));
    }

    /// The id (else the tag and text) of the element that has the focus.
    pub async fn focused(&self) -> String {
        let e = self.client.active_element().await.expect("focus");
        match e.attr("id").await.expect("id") {
            Some(id) if !id.is_empty() => id,
            _ => format!(
                "{}:{}",
                e.tag_name().await.expect("tag"),
                e.text().await.unwrap_or_default().trim()
            ),
        }
    }

    /// Whether anything on the page matches `css`.
    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
            .is_empty()
    }

    /// Waits (up to 10 s) until the path starts with `prefix`; returns the path.
    pub async fn wait_for_path_starting(&self, prefix: &str) -> String {
        for _ in 0..100 {
            let path = self.path().await;
            if path.starts_with(prefix) {
                return path;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{}: still at {} instead of {prefix}…",
            self.kind.name(),
            self.path().await
        );
    }

    /// Waits (up to 10 s) until the first `css` element's text contains `want`.
    pub async fn wait_for_text(&self, css: &str, want: &str) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                last = e.text().await.unwrap_or_default();
                if last.contains(want) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{}: {css} says {last:?}, not {want:?}", self.kind.name());
    }

    /// Waits (up to 10 s, a bound against hanging) until the path is `want`.
    pub async fn wait_for_path(&self, want: &str) {
        for _ in 0..100 {
            if self.path().await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{}: still at {} instead of {want}",
            self.kind.name(),
            self.path().await
        );
    }

    /// Runs axe-core (npm, from `$ALMTEST_AXE_JS`, which `scripts/test.sh` installs) on the
    /// page against WCAG 2.2 A/AA and fails on any serious or critical violation, naming the
    /// rule and the elements.
    pub async fn assert_accessible(&self, name: &str) {
        let found = self.violations().await;
        let serious: Vec<&Value> = found
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(
            serious.is_empty(),
            "{}: {name}: serious or critical accessibility violations: {}",
            self.kind.name(),
            serde_json::to_string_pretty(&serious).unwrap()
        );
    }

    /// axe-core's WCAG 2.2 A/AA violations on the page (`id`, `impact`, `help`, `nodes`).
    pub async fn violations(&self) -> Vec<Value> {
        let path = std::env::var("ALMTEST_AXE_JS").unwrap_or_else(|_| {
            panic!("ALMTEST_AXE_JS is not set: the accessibility checks need the axe-core that `bash scripts/test.sh` installs")
        });
        let source =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        self.client
            .execute(&source, vec![])
            .await
            .unwrap_or_else(|e| panic!("{}: inject axe-core: {e}", self.kind.name()));
        let found = self
            .client
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                   axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})
                     .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                                              nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}))))
                     .catch(e => done([{id: "axe-error", impact: "critical", help: String(e), nodes: []}]));"#,
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("{}: run axe-core: {e}", self.kind.name()));
        found.as_array().expect("a list of violations").clone()
    }

    /// Marks the loaded document (a value in `window`): a full page load forgets it, a partial
    /// update keeps it — see [`Self::still_marked`].
    pub async fn mark(&self) {
        assert!(self.javascript, "marking needs the script");
        self.client
            .execute("window.almTestMark = 'kept'; return null;", vec![])
            .await
            .expect("mark the page");
    }

    /// Whether the document marked by [`Self::mark`] is still the one shown (no page load).
    pub async fn still_marked(&self) -> bool {
        self.client
            .execute("return window.almTestMark === 'kept';", vec![])
            .await
            .expect("read the mark")
            .as_bool()
            .unwrap_or(false)
    }

    /// Saves the page at both sizes: `<browser>/<name>-1280x800.png` and `-390x844.png`;
    /// with scripts on, checks its accessibility first ([`Self::assert_accessible`]), so every
    /// page the tests look at is checked in both browsers.
    pub async fn screenshots(&self, name: &str) {
        if self.javascript {
            self.assert_accessible(name).await;
        }
        for size in [DESKTOP, PHONE] {
            self.resize(size).await;
            tokio::time::sleep(Duration::from_millis(150)).await;
            let png = self.client.screenshot().await.expect("screenshot");
            let dir = screenshot_dir().join(self.kind.name());
            std::fs::create_dir_all(&dir).expect("screenshot dir");
            let file = dir.join(format!("{name}-{}x{}.png", size.0, size.1));
            std::fs::write(&file, png).expect("write screenshot");
        }
        self.resize(DESKTOP).await;
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("ALMTEST_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots"))
}
