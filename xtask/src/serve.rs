//! `cargo xtask serve`: builds the release site and serves `dist/` with a small static server,
//! which the end-to-end tests also use on a free port.

use crate::util::Result;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use tiny_http::{Header, Method, Request, Response, Server};

/// Setup, release build, then serve `dist/` on `address:port` until Ctrl-C.
pub fn run(address: &str, port: u16) -> Result<()> {
    crate::setup::run(false)?;
    crate::bundle::trunk_release()?;
    let dist = crate::bundle::dist_dir();
    if !dist.join("index.html").is_file() {
        return Err(format!("{} has no index.html", dist.display()));
    }
    let server = StaticServer::start(&dist, &format!("{address}:{port}"), true)?;
    println!(
        "otadeck is served on http://{}:{} (Ctrl-C to stop)",
        address,
        server.addr.port()
    );
    loop {
        std::thread::park();
    }
}

/// A running static file server; its worker threads live as long as the process.
pub struct StaticServer {
    server: Arc<Server>,
    pub addr: SocketAddr,
    workers: usize,
}

impl StaticServer {
    /// Binds `addr` (`127.0.0.1:0` picks a free port) and serves `dir` from worker threads.
    pub fn start(dir: &Path, addr: &str, log_misses: bool) -> Result<StaticServer> {
        let server = Server::http(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| format!("{addr} is not an IP address"))?;
        let server = Arc::new(server);
        let workers = 4;
        for _ in 0..workers {
            let server = server.clone();
            let dir = dir.to_path_buf();
            std::thread::spawn(move || {
                while let Ok(req) = server.recv() {
                    handle(&dir, req, log_misses);
                }
            });
        }
        Ok(StaticServer {
            server,
            addr,
            workers,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        for _ in 0..self.workers {
            self.server.unblock();
        }
    }
}

/// Answers one request from `dir`.
fn handle(dir: &Path, req: Request, log_misses: bool) {
    let Some(req) = crate::proxy::try_forward(req) else {
        return;
    };
    if !matches!(req.method(), Method::Get | Method::Head) {
        let _ = req.respond(Response::from_string("method not allowed").with_status_code(405));
        return;
    }
    let url = req.url().to_string();
    let file = resolve(dir, &url).and_then(|p| std::fs::File::open(&p).ok().map(|f| (p, f)));
    match file {
        Some((path, f)) => {
            let resp = Response::from_file(f)
                .with_header(header("Content-Type", content_type(&path)))
                .with_header(header("Cache-Control", "no-cache"));
            let _ = req.respond(resp);
        }
        None => {
            if log_misses {
                eprintln!("404 {url}");
            }
            let resp = Response::from_string("not found")
                .with_status_code(404)
                .with_header(header("Content-Type", "text/plain; charset=utf-8"));
            let _ = req.respond(resp);
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

/// Maps a request URL to a file under `dir`: `/` and folders give their index.html; `..` and
/// missing files give None.
fn resolve(dir: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("/");
    let decoded = percent_decode(path)?;
    let rel = Path::new(decoded.trim_start_matches('/'));
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return None;
    }
    let mut full = dir.join(rel);
    if full.is_dir() {
        full.push("index.html");
    }
    full.is_file().then_some(full)
}

/// Decodes `%XX` escapes; None for malformed escapes or non-UTF-8 results.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The Content-Type for a file, by extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        "bin" => "application/octet-stream",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type(Path::new("a/app_bg.wasm")), "application/wasm");
        assert!(content_type(Path::new("x.JS")).starts_with("text/javascript"));
        assert!(content_type(Path::new("s.css")).starts_with("text/css"));
        assert!(content_type(Path::new("index.html")).starts_with("text/html"));
        assert_eq!(content_type(Path::new("f.svg")), "image/svg+xml");
        assert_eq!(content_type(Path::new("f.png")), "image/png");
        assert_eq!(
            content_type(Path::new("fw.bin")),
            "application/octet-stream"
        );
    }

    #[test]
    fn decodes_and_rejects() {
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(percent_decode("/bad%2"), None);
        let dir = std::env::temp_dir().join(format!("xtask-serve-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("index.html"), "<p>hi</p>").unwrap();
        std::fs::write(dir.join("sub/a b.js"), "1").unwrap();
        assert_eq!(resolve(&dir, "/"), Some(dir.join("index.html")));
        assert_eq!(resolve(&dir, "/?x=1"), Some(dir.join("index.html")));
        assert_eq!(resolve(&dir, "/sub/a%20b.js"), Some(dir.join("sub/a b.js")));
        assert_eq!(resolve(&dir, "/../etc/passwd"), None);
        assert_eq!(resolve(&dir, "/sub/%2e%2e/index.html"), None);
        assert_eq!(resolve(&dir, "/missing.js"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn serves_over_http() {
        let dir = std::env::temp_dir().join(format!("xtask-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), "<p>hi</p>").unwrap();
        std::fs::write(dir.join("m.wasm"), [0u8, 97, 115, 109]).unwrap();
        let srv = StaticServer::start(&dir, "127.0.0.1:0", false).unwrap();
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .proxy(None)
                .build(),
        );
        let mut r = agent.get(format!("{}/", srv.base_url())).call().unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.body_mut().read_to_string().unwrap(), "<p>hi</p>");
        let r = agent
            .get(format!("{}/m.wasm", srv.base_url()))
            .call()
            .unwrap();
        assert_eq!(r.headers()["content-type"], "application/wasm");
        let r = agent
            .get(format!("{}/nope", srv.base_url()))
            .call()
            .unwrap();
        assert_eq!(r.status(), 404);
        drop(srv);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
