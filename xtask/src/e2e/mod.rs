//! End-to-end scenarios: the release site served on localhost, driven in headless Chromium
//! through chromedriver. One scenario per file; each counts as one test.

mod admission;
mod bridge;
mod cable_pulled;
mod campaign;
mod campaign_bench;
mod demo_unavailable;
mod dfu;
mod esp_rom;
mod flash_demo;
mod install_goosebit;
mod install_pycom;
mod install_source;
mod layout;
mod monitor;
mod quecpython_download;
mod relay;
mod reload;
pub mod reload_faults;
mod sim_cli;
mod trial;

use crate::util::{self, Result};
use crate::webdriver::{base64_decode, is_transient, ChromeDriver, Element, Session};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A named scenario: a function that drives one browser session.
pub struct Scenario {
    pub name: &'static str,
    pub run: fn(&Ctx) -> Result<()>,
}

/// Every scenario, in the order they run.
pub const SCENARIOS: &[Scenario] = &[
    flash_demo::SCENARIO,
    cable_pulled::SCENARIO,
    demo_unavailable::SCENARIO,
    trial::ESP32,
    trial::NODEMCU,
    trial::MCUBOOT,
    quecpython_download::SCENARIO,
    esp_rom::SCENARIO,
    dfu::SCENARIO,
    bridge::SCENARIO,
    monitor::SCENARIO,
    install_source::SCENARIO,
    install_pycom::SCENARIO,
    install_goosebit::SCENARIO,
    campaign::SCENARIO,
    campaign_bench::SCENARIO,
    admission::SCENARIO,
    layout::SCENARIO,
    reload::SCENARIO,
    reload_faults::SCENARIO,
];

/// The folder for screenshots and logs (git-ignored).
pub fn artifacts_dir() -> PathBuf {
    util::repo_root().join("e2e-artifacts")
}

/// What a scenario gets: the browser session, the site's address and helpers that wait.
pub struct Ctx<'a> {
    pub session: &'a Session,
    pub base_url: String,
    pub artifacts: PathBuf,
}

impl Ctx<'_> {
    /// `base_url` + `path` (path starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Polls `f` every 200 ms until it gives Some, an error, or `timeout` passes. Errors that
    /// mean the page is still changing (stale or missing elements) count as "not yet".
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut() -> Result<Option<T>>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        let mut last_err = String::new();
        loop {
            match f() {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e) if is_transient(&e) => last_err = e,
                Err(e) => return Err(format!("{what}: {e}")),
            }
            if Instant::now() >= deadline {
                let extra = if last_err.is_empty() {
                    String::new()
                } else {
                    format!(" (last: {last_err})")
                };
                return Err(format!(
                    "timed out after {timeout:?} waiting for {what}{extra}"
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until an element matching `css` exists.
    pub fn wait_element(&self, css: &str, timeout: Duration) -> Result<Element> {
        self.wait_for(&format!("{css} to exist"), timeout, || {
            self.session.find(css)
        })
    }

    /// Waits for `css` to exist and be enabled, scrolls it to the middle of the window (clear of
    /// the sticky header), then clicks it (retrying while something covers it). A click on a
    /// disabled button does nothing, as for a person.
    pub fn click(&self, css: &str, timeout: Duration) -> Result<()> {
        println!("    click {css}");
        self.wait_for(&format!("{css} to be clickable"), timeout, || {
            match self.session.find(css)? {
                Some(el) if self.session.attr(&el, "disabled")?.is_some() => Ok(None),
                Some(el) => {
                    self.scroll_to(css)?;
                    self.session.click(&el).map(Some)
                }
                None => Ok(None),
            }
        })
    }

    /// Chooses the demo module `key` in the menu, connects it and waits until the header names
    /// it (`name` in its identity).
    pub fn connect_demo(&self, key: &str, name: &str) -> Result<()> {
        let timeout = Duration::from_secs(20);
        // The connect buttons wait for the module connected now to be let go.
        if self.attr("#disconnect", "id")?.is_some() {
            self.click("#disconnect", timeout)?;
            self.wait_text("#connection-status", "Not connected", timeout, |t| {
                t.contains("Not connected")
            })?;
        }
        self.select("#demo-family", key)?;
        self.click("#connect-demo", timeout)?;
        // Read as text content: a phone-wide header hides the identity.
        self.wait_for(&format!("#module-identity naming {name}"), timeout, || {
            let text = self.session.execute(
                "return document.querySelector('#module-identity')?.textContent ?? '';",
                vec![],
            )?;
            Ok(text
                .as_str()
                .is_some_and(|t| t.contains(name))
                .then_some(()))
        })?;
        Ok(())
    }

    /// The bytes behind the backup's download link, as the browser would save them.
    pub fn saved_backup(&self) -> Result<Vec<u8>> {
        let b64 = self.session.execute(
            "const a = document.querySelector('#backup-save');
             return fetch(a.href).then(r => r.arrayBuffer()).then(buf => {
               const bytes = new Uint8Array(buf); let s = '';
               for (let i = 0; i < bytes.length; i += 0x8000) {
                 s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
               }
               return btoa(s);
             });",
            vec![],
        )?;
        base64_decode(b64.as_str().unwrap_or_default())
            .ok_or_else(|| "the backup is not base64".into())
    }

    /// Takes the sample firmware (built for the connected module's family) and waits until the
    /// image card shows its SHA-256.
    pub fn use_sample(&self) -> Result<()> {
        let timeout = Duration::from_secs(20);
        self.click("#use-sample", timeout)?;
        self.wait_text("#image-summary", "containing \"SHA-256\"", timeout, |t| {
            t.contains("SHA-256")
        })?;
        Ok(())
    }

    /// Chooses the file at `path` in the file input at `css`, as a person picking it would.
    pub fn choose_file(&self, css: &str, path: &Path) -> Result<()> {
        println!("    choose {} in {css}", path.display());
        let input = self.wait_element(css, Duration::from_secs(10))?;
        self.session.send_keys(&input, &path.to_string_lossy())
    }

    /// Scrolls the element at `css` to the middle of the window.
    pub fn scroll_to(&self, css: &str) -> Result<()> {
        self.session.execute(
            "document.querySelector(arguments[0])?.scrollIntoView({block: 'center'})",
            vec![serde_json::json!(css)],
        )?;
        Ok(())
    }

    /// Waits until the text of `css` passes `ok`; returns that text. The timeout message
    /// shows the last text seen.
    pub fn wait_text(
        &self,
        css: &str,
        want: &str,
        timeout: Duration,
        ok: impl Fn(&str) -> bool,
    ) -> Result<String> {
        println!("    wait for {css} text {want}");
        let mut seen = None;
        let what = format!("{css} text {want}");
        self.wait_for(&what, timeout, || {
            let Some(el) = self.session.find(css)? else {
                return Ok(None);
            };
            let text = self.session.text(&el)?;
            let done = ok(&text);
            seen = Some(text.clone());
            Ok(done.then_some(text))
        })
        .map_err(|e| match &seen {
            Some(t) => format!("{e}; last text: {t:?}"),
            None => format!("{e}; the element never appeared"),
        })
    }

    /// The current value of an attribute of `css`, or None if the element or attribute is absent.
    pub fn attr(&self, css: &str, name: &str) -> Result<Option<String>> {
        match self.session.find(css)? {
            Some(el) => self.session.attr(&el, name),
            None => Ok(None),
        }
    }

    /// The text of `css`, or None when absent.
    pub fn text(&self, css: &str) -> Result<Option<String>> {
        match self.session.find(css)? {
            Some(el) => self.session.text(&el).map(Some),
            None => Ok(None),
        }
    }

    /// Chooses `value` in the `<select>` at `css`, as a person would (the change event fires).
    pub fn select(&self, css: &str, value: &str) -> Result<()> {
        println!("    select {value} in {css}");
        self.wait_element(css, Duration::from_secs(20))?;
        let script = "const s = document.querySelector(arguments[0]); s.value = arguments[1]; \
                      s.dispatchEvent(new Event('change', {bubbles: true})); return s.value;";
        let got = self.session.execute(
            script,
            vec![serde_json::json!(css), serde_json::json!(value)],
        )?;
        if got.as_str() != Some(value) {
            return Err(format!("{css} has no option {value:?}"));
        }
        Ok(())
    }

    /// Waits until `#flash-state` says how the update ended: the result card of a good end
    /// (`success`, `trial`, `restart-pending`), or an error naming a bad end and its text.
    pub fn wait_flash_end(&self, timeout: Duration) -> Result<String> {
        println!("    wait for #flash-state to end well (up to {timeout:?})");
        self.wait_for("#flash-state to end well", timeout, || {
            match self.attr("#flash-state", "data-state")?.as_deref() {
                Some(ok @ ("success" | "trial" | "restart-pending" | "other-version")) => {
                    Ok(Some(ok.to_string()))
                }
                Some(bad @ ("failed" | "cancelled")) => {
                    let text = self.text("#flash-state")?.unwrap_or_default();
                    Err(format!("flash ended in state {bad}: {text}"))
                }
                _ => Ok(None),
            }
        })
    }

    /// Waits until the result card is `state`, whatever it shows before (a restart started from
    /// a restart-pending card, say).
    pub fn wait_flash_state(&self, state: &str, timeout: Duration) -> Result<()> {
        self.wait_for(&format!("#flash-state data-state={state}"), timeout, || {
            let now = self.attr("#flash-state", "data-state")?;
            Ok((now.as_deref() == Some(state)).then_some(()))
        })
    }

    /// Waits for the flash to end well in the result card `expected` (`success`, `trial`,
    /// `restart-pending`).
    pub fn wait_flash_outcome(&self, expected: &str, timeout: Duration) -> Result<()> {
        match self.wait_flash_end(timeout)? {
            state if state == expected => Ok(()),
            state => Err(format!("the flash ended as {state}, not {expected}")),
        }
    }

    /// Saves `e2e-artifacts/<file>`.
    pub fn screenshot(&self, file: &str) -> Result<()> {
        let path = self.artifacts.join(file);
        self.session.screenshot(&path)?;
        println!("    screenshot {}", path.display());
        Ok(())
    }
}

/// Runs the scenarios (all, or those named in `only`) against the site at `base_url`.
/// Returns (passed, failed); an error means the browser could not be started at all.
pub fn run_all(base_url: &str, only: &[String]) -> Result<(usize, usize)> {
    let chosen: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|s| only.is_empty() || only.iter().any(|o| o == s.name))
        .collect();
    if let Some(missing) = only
        .iter()
        .find(|o| !SCENARIOS.iter().any(|s| s.name == *o))
    {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        return Err(format!(
            "no scenario `{missing}` (have: {})",
            names.join(", ")
        ));
    }
    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts)
        .map_err(|e| format!("cannot create {}: {e}", artifacts.display()))?;
    let driver = ChromeDriver::start(&artifacts.join("chromedriver.log"))?;
    let (mut passed, mut failed) = (0, 0);
    for sc in chosen {
        util::step(&format!("e2e scenario {}", sc.name));
        // A failure picture from an earlier run would only mislead.
        let _ = std::fs::remove_file(artifacts.join(format!("{}-failure.png", sc.name)));
        let started = Instant::now();
        match run_one(&driver, sc, base_url, &artifacts) {
            Ok(()) => {
                passed += 1;
                println!(
                    "e2e {} ... ok ({:.1} s)",
                    sc.name,
                    started.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                failed += 1;
                println!("e2e {} ... FAILED: {e}", sc.name);
            }
        }
    }
    drop(driver);
    Ok((passed, failed))
}

/// Prints the page's `#log` (after a failure).
pub fn print_page_log(session: &Session) {
    let log = session.execute(
        "const e = document.querySelector('#log'); return e ? (e.innerText || e.textContent) : null;",
        vec![],
    );
    match log {
        Ok(serde_json::Value::String(text)) if !text.trim().is_empty() => {
            println!("    --- #log of the page ---");
            for line in text.lines() {
                println!("    | {line}");
            }
            println!("    --- end of #log ---");
        }
        Ok(serde_json::Value::String(_)) => println!("    (the page's #log is empty)"),
        _ => println!("    (the page has no #log)"),
    }
}

/// Runs `f` in one browser session on the site at `base_url` (screenshots go where the
/// scenarios put theirs).
pub fn with_session<T>(base_url: &str, f: impl FnOnce(&Ctx) -> T) -> Result<T> {
    let artifacts = artifacts_dir();
    std::fs::create_dir_all(&artifacts)
        .map_err(|e| format!("cannot create {}: {e}", artifacts.display()))?;
    let driver = ChromeDriver::start(&artifacts.join("chromedriver.log"))?;
    let mut session = Session::new(&driver)?;
    let ctx = Ctx {
        session: &session,
        base_url: base_url.to_string(),
        artifacts,
    };
    let out = f(&ctx);
    let _ = session.delete();
    Ok(out)
}

/// One scenario in its own session; on failure saves a screenshot and prints `#log`.
fn run_one(driver: &ChromeDriver, sc: &Scenario, base_url: &str, artifacts: &Path) -> Result<()> {
    let mut session = Session::new(driver)?;
    let ctx = Ctx {
        session: &session,
        base_url: base_url.to_string(),
        artifacts: artifacts.to_path_buf(),
    };
    let result = (sc.run)(&ctx);
    if result.is_err() {
        let _ = ctx.screenshot(&format!("{}-failure.png", sc.name));
        print_page_log(&session);
    }
    let _ = session.delete();
    result
}
