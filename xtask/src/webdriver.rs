//! A minimal W3C WebDriver client for chromedriver: sessions, navigation, elements, scripts,
//! screenshots. Blocking HTTP on localhost (ureq), JSON by serde_json.

use crate::setup::{CHROMEDRIVER, CHROMIUM};
use crate::util::{self, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key under which W3C WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chrome flags for a headless run on a machine with no network and no GPU.
const CHROME_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
];

/// An HTTP agent that returns 4xx/5xx bodies (WebDriver errors are JSON) and ignores proxies.
pub fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(120)))
            .build(),
    )
}

/// A chromedriver process on a free localhost port; killed (with the browsers it started)
/// when dropped.
pub struct ChromeDriver {
    child: Child,
    pub url: String,
}

impl ChromeDriver {
    /// Starts `/usr/bin/chromedriver --port=<free>`, logging to `log`, and waits until ready.
    pub fn start(log: &Path) -> Result<ChromeDriver> {
        let port = util::free_port()?;
        let logfile = std::fs::File::create(log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let errfile = logfile.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(logfile)
            .stderr(errfile)
            .spawn()
            .map_err(|e| format!("cannot start {CHROMEDRIVER}: {e}"))?;
        let mut driver = ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let agent = agent();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = driver.child.try_wait() {
                return Err(format!(
                    "chromedriver exited at start ({status}); see {}",
                    log.display()
                ));
            }
            let ready = agent
                .get(format!("{}/status", driver.url))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .map(|v| v["value"]["ready"] == json!(true))
                .unwrap_or(false);
            if ready {
                return Ok(driver);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "chromedriver not ready after 20 s; see {}",
                    log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // Browsers a lost session left behind first, then chromedriver itself: all by pid.
        let pids: Vec<String> = util::descendants(self.child.id())
            .iter()
            .map(u32::to_string)
            .collect();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(&pids)
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// An element reference of the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

/// One browser session; deleted (browser closed) when dropped.
pub struct Session {
    agent: ureq::Agent,
    base: String,
    open: bool,
}

impl Session {
    /// Opens headless Chromium through `driver`.
    pub fn new(driver: &ChromeDriver) -> Result<Session> {
        let agent = agent();
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": CHROMIUM, "args": CHROME_ARGS },
            }}
        });
        let value = call(
            &agent,
            "POST",
            &format!("{}/session", driver.url),
            Some(caps),
        )?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| format!("new session: no sessionId in {value}"))?;
        Ok(Session {
            agent,
            base: format!("{}/session/{id}", driver.url),
            open: true,
        })
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        call(&self.agent, method, &format!("{}{path}", self.base), body)
    }

    /// A Chrome DevTools Protocol command through chromedriver (`goog/cdp/execute`).
    pub fn cdp(&self, cmd: &str, params: Value) -> Result<Value> {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({ "cmd": cmd, "params": params })),
        )
    }

    /// Navigates and waits for the page load.
    pub fn goto(&self, url: &str) -> Result<()> {
        self.cmd("POST", "/url", Some(json!({ "url": url })))
            .map(drop)
    }

    /// The first element matching a CSS selector, or None.
    pub fn find(&self, css: &str) -> Result<Option<Element>> {
        let body = json!({ "using": "css selector", "value": css });
        match self.cmd("POST", "/element", Some(body)) {
            Ok(v) => v[ELEMENT_KEY]
                .as_str()
                .map(|id| Some(Element(id.to_string())))
                .ok_or_else(|| format!("find {css}: no element id in {v}")),
            Err(e) if e.contains("no such element") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Clicks an element (scrolled into view by the driver).
    pub fn click(&self, el: &Element) -> Result<()> {
        self.cmd("POST", &format!("/element/{}/click", el.0), Some(json!({})))
            .map(drop)
    }

    /// Types `text` into an element; for a file input, `text` is the path of the file to choose.
    pub fn send_keys(&self, el: &Element, text: &str) -> Result<()> {
        let body = json!({ "text": text });
        self.cmd("POST", &format!("/element/{}/value", el.0), Some(body))
            .map(drop)
    }

    /// The rendered text of an element.
    pub fn text(&self, el: &Element) -> Result<String> {
        let v = self.cmd("GET", &format!("/element/{}/text", el.0), None)?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// An attribute of an element, or None when absent.
    pub fn attr(&self, el: &Element, name: &str) -> Result<Option<String>> {
        let v = self.cmd("GET", &format!("/element/{}/attribute/{name}", el.0), None)?;
        Ok(v.as_str().map(str::to_string))
    }

    /// Runs a synchronous script in the page and returns its value.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Reloads the page as the browser's reload button does (a leave-page prompt is accepted).
    pub fn refresh(&self) -> Result<()> {
        self.cmd("POST", "/refresh", Some(json!({}))).map(drop)
    }

    /// Sets the browser window to `width` × `height` CSS pixels.
    pub fn set_window_size(&self, width: u32, height: u32) -> Result<()> {
        let body = json!({ "width": width, "height": height });
        self.cmd("POST", "/window/rect", Some(body)).map(drop)
    }

    /// Saves a PNG screenshot of the viewport.
    pub fn screenshot(&self, path: &Path) -> Result<()> {
        let v = self.cmd("GET", "/screenshot", None)?;
        let b64 = v.as_str().ok_or("screenshot: no data")?;
        let png = base64_decode(b64).ok_or("screenshot: bad base64")?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, png).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Ends the session and closes the browser.
    pub fn delete(&mut self) -> Result<()> {
        if !self.open {
            return Ok(());
        }
        self.open = false;
        call(&self.agent, "DELETE", &self.base, None).map(drop)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.delete();
    }
}

/// One WebDriver command: returns the `value` of the reply, or `error: message`.
fn call(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Result<Value> {
    let what = format!("{method} {url}");
    let resp = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, Some(b)) => agent.post(url).send_json(b),
        (_, None) => agent.post(url).send_empty(),
    };
    let mut resp = resp.map_err(|e| format!("{what}: {e}"))?;
    let ok = resp.status().is_success();
    let reply: Value = resp
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_json()
        .map_err(|e| format!("{what}: unreadable reply: {e}"))?;
    let value = reply.get("value").cloned().unwrap_or(Value::Null);
    if ok {
        return Ok(value);
    }
    let error = value["error"].as_str().unwrap_or("unknown error");
    let message = value["message"].as_str().unwrap_or_default();
    let first = message.lines().next().unwrap_or_default();
    Err(format!("webdriver: {error}: {first}"))
}

/// Errors that mean "the page is still changing": worth retrying within a wait.
pub fn is_transient(err: &str) -> bool {
    [
        "no such element",
        "stale element reference",
        "element click intercepted",
        "element not interactable",
    ]
    .iter()
    .any(|t| err.contains(t))
}

/// Standard base64 (with or without padding); None on bad input.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_roundtrips_known_values() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Zg==").unwrap(), b"f");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64_decode("iVBORw0KGgo=").unwrap(), b"\x89PNG\r\n\x1a\n");
        assert!(base64_decode("Zm9v!").is_none());
    }

    #[test]
    fn transient_errors() {
        assert!(is_transient("webdriver: stale element reference: gone"));
        assert!(!is_transient("webdriver: invalid session id: x"));
    }
}
