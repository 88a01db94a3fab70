//! A small W3C WebDriver client for the console's browser tests: starts
//! Debian's `chromedriver` on a free loopback port, opens one headless
//! Chromium session (a fresh profile in a temporary directory, downloads
//! into another), and speaks the protocol's JSON over HTTP with the
//! blocking `reqwest` client the other tests already use. It fails, never
//! skips, when Chromium or chromedriver is missing.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Where Debian installs them.
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
pub(crate) const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium driven through chromedriver.
pub(crate) struct Browser {
    http: reqwest::blocking::Client,
    base: String,
    driver: Child,
    /// Where downloads land.
    pub(crate) downloads: PathBuf,
    _profile: tempfile::TempDir,
    _downloads: tempfile::TempDir,
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub(crate) struct Element(String);

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("its address").port()
}

impl Browser {
    /// Starts chromedriver and a browser session, or panics saying how to
    /// install what is missing.
    pub(crate) fn start() -> Browser {
        for (path, what) in [(CHROMIUM, "Chromium"), (CHROMEDRIVER, "chromedriver")] {
            assert!(
                Path::new(path).exists(),
                "{what} is missing at {path}: the console's browser tests need Debian's Chromium and its \
                 driver. Install them with `apt-get install -y chromium chromium-driver` (see README.md, Set up)."
            );
        }
        // reqwest is built with rustls and no provider of its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            let ready = http
                .get(format!("{base}/status"))
                .send()
                .ok()
                .and_then(|r| r.json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().expect("a profile directory");
        let downloads = tempfile::tempdir().expect("a download directory");
        let mut browser = Browser {
            http,
            base,
            driver,
            downloads: downloads.path().to_owned(),
            _profile: profile,
            _downloads: downloads,
        };
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1400,1000".to_owned(),
            "--lang=zh-CN".to_owned(),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": args,
                "prefs": {
                    "download.default_directory": browser.downloads.display().to_string(),
                    "download.prompt_for_download": false,
                    "intl.accept_languages": "zh-CN,zh",
                },
            },
        } } });
        let session = browser.call("POST", "/session", Some(caps));
        let id = session["sessionId"].as_str().expect("a session id").to_owned();
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.post(&url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let answer: Value =
            request.send().and_then(|r| r.json()).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if answer["value"].get("error").is_some() {
            panic!("{method} {path}: {}", answer["value"]);
        }
        answer["value"].clone()
    }

    /// Opens `url` and waits for the page to load.
    pub(crate) fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// The page's address.
    pub(crate) fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap_or_default().to_owned()
    }

    /// The page's HTML.
    pub(crate) fn source(&self) -> String {
        self.call("GET", "/source", None).as_str().unwrap_or_default().to_owned()
    }

    /// The first element matching a CSS selector, or `None`.
    pub(crate) fn find(&self, css: &str) -> Option<Element> {
        self.find_all(css).into_iter().next()
    }

    /// The first element matching a CSS selector; panics naming it.
    pub(crate) fn get(&self, css: &str) -> Element {
        self.find(css).unwrap_or_else(|| panic!("no `{css}` on {}:\n{}", self.url(), self.source()))
    }

    /// Every element matching a CSS selector.
    pub(crate) fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self.call("POST", "/elements", Some(json!({ "using": "css selector", "value": css })));
        found
            .as_array()
            .map(|all| {
                all.iter().filter_map(|e| e[ELEMENT].as_str()).map(|id| Element(id.to_owned())).collect()
            })
            .unwrap_or_default()
    }

    /// Clicks an element.
    pub(crate) fn click(&self, e: &Element) {
        self.call("POST", &format!("/element/{}/click", e.0), None);
    }

    /// Clicks an element that loads another page (a submit button, a
    /// link), and waits until the new page has loaded.
    pub(crate) fn click_and_wait(&self, e: &Element) {
        self.mark_page();
        self.click(e);
        self.wait_new_page();
    }

    /// Marks the current page, for [`Browser::wait_new_page`].
    pub(crate) fn mark_page(&self) {
        self.script("window.__gridsyncOldPage = true;", json!([]));
    }

    /// Waits until the page marked by [`Browser::mark_page`] has been
    /// replaced by a new one, loaded.
    pub(crate) fn wait_new_page(&self) {
        let started = Instant::now();
        loop {
            let loaded = self.script(
                "return window.__gridsyncOldPage === undefined && document.readyState === 'complete';",
                json!([]),
            );
            if loaded == json!(true) {
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no new page after {}", self.url());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Submits with the element at `css` and waits for the next page.
    pub(crate) fn submit(&self, css: &str) {
        self.click_and_wait(&self.get(css));
    }

    /// Clears an input and types `text` into it.
    pub(crate) fn fill(&self, css: &str, text: &str) {
        let e = self.get(css);
        self.call("POST", &format!("/element/{}/clear", e.0), None);
        self.call("POST", &format!("/element/{}/value", e.0), Some(json!({ "text": text })));
    }

    /// An element's visible text.
    pub(crate) fn text(&self, e: &Element) -> String {
        self.call("GET", &format!("/element/{}/text", e.0), None).as_str().unwrap_or_default().to_owned()
    }

    /// An element's attribute.
    pub(crate) fn attr(&self, e: &Element, name: &str) -> Option<String> {
        self.call("GET", &format!("/element/{}/attribute/{name}", e.0), None).as_str().map(str::to_owned)
    }

    /// Runs a script in the page (WebDriver's own channel: the page's
    /// content security policy forbids the page any script of its own).
    pub(crate) fn script(&self, script: &str, args: Value) -> Value {
        self.call("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    /// The browser's cookies for the page.
    pub(crate) fn cookies(&self) -> Vec<Value> {
        self.call("GET", "/cookie", None).as_array().cloned().unwrap_or_default()
    }

    /// Saves a PNG of the page, full height, to `path`.
    pub(crate) fn screenshot(&self, path: &Path) {
        let height =
            self.script("return document.documentElement.scrollHeight", json!([])).as_u64().unwrap_or(1000);
        self.call(
            "POST",
            "/window/rect",
            Some(json!({ "width": 1400, "height": height.clamp(600, 4000) + 140 })),
        );
        let png = self.call("GET", "/screenshot", None);
        let bytes = b64_decode(png.as_str().unwrap_or_default());
        std::fs::write(path, bytes).expect("the screenshot is written");
        self.call("POST", "/window/rect", Some(json!({ "width": 1400, "height": 1000 })));
    }

    /// Waits until a file named `name` is completely downloaded.
    pub(crate) fn downloaded(&self, name: &str) -> PathBuf {
        let path = self.downloads.join(name);
        let started = Instant::now();
        while !path.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{name} was not downloaded; the download directory holds {:?}",
                std::fs::read_dir(&self.downloads)
                    .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.base).send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Decodes standard base64 (the screenshot's encoding).
fn b64_decode(text: &str) -> Vec<u8> {
    let url_safe: String = text
        .chars()
        .filter(|c| *c != '=')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    gridsync_proto::auth::unb64(&url_safe).expect("a screenshot in base64")
}
