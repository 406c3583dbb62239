//! A small HTTP server that serves update sources the way real servers do, and the ways they go
//! wrong, for the CLI's and the browser's tests: CORS headers on or off, HTTP/1.0 with no
//! `Content-Length` and URLs built from the `Host` header (Pycom's `OTA_server.py`), a body cut
//! short, a redirect to plain http, an error status. It records every request, so a test can
//! check the feedback a client POSTed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

/// How one path is answered.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// HTTP status (200 when left at 0).
    pub status: u16,
    /// The body; `{host}` is replaced by the request's `Host` header when [`Reply::host`] is set.
    pub body: Vec<u8>,
    /// `Content-Type` (application/octet-stream when empty).
    pub content_type: String,
    /// Send `Access-Control-Allow-Origin: *` (and answer preflight requests).
    pub cors: bool,
    /// Answer as Pycom's server does: HTTP/1.0, no `Content-Length`, the body ended by closing.
    pub http10: bool,
    /// Declare the whole length but send only this many bytes, then close.
    pub cut_at: Option<usize>,
    /// `Location` of a redirect (set `status` to 301/302).
    pub location: Option<String>,
    /// Replace `{host}` in the body by the `Host` header of the request.
    pub host: bool,
    /// A PUT or POST here changes the reply of another path (a hawkBit server offers a
    /// deployment once the controller registered): that path and its new reply.
    pub on_write: Option<(String, Box<Reply>)>,
}

impl Reply {
    /// 200 with `body`, with CORS.
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status: 200,
            body: body.into(),
            cors: true,
            ..Reply::default()
        }
    }

    /// 200 JSON with CORS.
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Reply {
            content_type: "application/json".into(),
            ..Reply::ok(body)
        }
    }

    /// The same reply without CORS headers.
    pub fn no_cors(mut self) -> Self {
        self.cors = false;
        self
    }
}

/// A request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, `OPTIONS`…
    pub method: String,
    /// Path and query.
    pub target: String,
    /// `Authorization`, when sent.
    pub authorization: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

type Routes = Arc<Mutex<Vec<(String, Reply)>>>;

/// A running fixture server (it stops with the process).
#[derive(Clone)]
pub struct FixtureServer {
    /// `127.0.0.1:port`.
    pub addr: String,
    routes: Routes,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FixtureServer {
    /// Listen on `addr` (`127.0.0.1:0` for any free port).
    pub fn start(addr: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let server = FixtureServer {
            addr: listener.local_addr()?.to_string(),
            routes: Arc::default(),
            requests: Arc::default(),
        };
        let s = server.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = s.clone();
                thread::spawn(move || {
                    let _ = s.answer(stream);
                });
            }
        });
        Ok(server)
    }

    /// `http://127.0.0.1:port` and `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answer `path` (matched without its query, unless it has one) with `reply`.
    pub fn route(&self, path: &str, reply: Reply) {
        let mut routes = self.routes.lock().expect("routes");
        routes.retain(|(p, _)| p != path);
        routes.push((path.to_string(), reply));
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("requests").clone()
    }

    fn find(&self, target: &str) -> Option<Reply> {
        let routes = self.routes.lock().expect("routes");
        let path = target.split('?').next().unwrap_or(target);
        routes
            .iter()
            .find(|(p, _)| p == target)
            .or_else(|| routes.iter().find(|(p, _)| p == path))
            .map(|(_, r)| r.clone())
    }

    fn answer(&self, mut stream: TcpStream) -> std::io::Result<()> {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte)? == 0 || head.len() > 64 * 1024 {
                return Ok(());
            }
            head.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&head).to_string();
        let mut lines = text.lines();
        let mut first = lines.next().unwrap_or("").split(' ');
        let (method, target) = (
            first.next().unwrap_or("").to_string(),
            first.next().unwrap_or("/").to_string(),
        );
        let header = |name: &str| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length.min(1 << 20)];
        stream.read_exact(&mut body)?;
        self.requests.lock().expect("requests").push(Request {
            method: method.clone(),
            target: target.clone(),
            authorization: header("authorization"),
            body,
        });
        if target == "/fx/requests" {
            let list: Vec<serde_json::Value> = self
                .requests()
                .iter()
                .map(|r| {
                    serde_json::json!({"method": r.method, "target": r.target,
                        "authorization": r.authorization,
                        "body": String::from_utf8_lossy(&r.body)})
                })
                .collect();
            let body = serde_json::to_vec(&list).unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes())?;
            return stream.write_all(&body);
        }
        let Some(reply) = self.find(&target) else {
            return stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\nnot found",
            );
        };
        if method == "OPTIONS" {
            let allow = if reply.cors {
                "Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Headers: Authorization, Content-Type\r\nAccess-Control-Allow-Methods: GET, POST, PUT\r\n"
            } else {
                ""
            };
            let out = format!("HTTP/1.1 204 No Content\r\n{allow}Connection: close\r\n\r\n");
            return stream.write_all(out.as_bytes());
        }
        if matches!(method.as_str(), "PUT" | "POST") {
            if let Some((path, next)) = &reply.on_write {
                self.route(path, (**next).clone());
            }
        }
        let mut body = reply.body.clone();
        if reply.host {
            let host = header("host").unwrap_or_else(|| "None".into());
            body = String::from_utf8_lossy(&body)
                .replace("{host}", &host)
                .into_bytes();
        }
        let status = if reply.status == 0 { 200 } else { reply.status };
        let mut out = format!(
            "HTTP/{} {status} {}\r\n",
            if reply.http10 { "1.0" } else { "1.1" },
            reason(status)
        );
        let content_type = if reply.content_type.is_empty() {
            "application/octet-stream"
        } else {
            &reply.content_type
        };
        out.push_str(&format!("Content-Type: {content_type}\r\n"));
        if reply.cors {
            out.push_str("Access-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: Content-Length\r\n");
        }
        if let Some(l) = &reply.location {
            out.push_str(&format!("Location: {l}\r\n"));
        }
        if !reply.http10 {
            out.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        out.push_str("Connection: close\r\n\r\n");
        stream.write_all(out.as_bytes())?;
        let send = reply.cut_at.unwrap_or(body.len()).min(body.len());
        stream.write_all(&body[..send])?;
        stream.flush()?;
        if send < body.len() {
            // The link drops a moment after the last bytes, as a real one does: a browser that
            // sees the close at once may fail the body before handing on what arrived.
            thread::sleep(std::time::Duration::from_millis(300));
        }
        Ok(())
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        404 => "Not Found",
        410 => "Gone",
        500 => "Internal Server Error",
        _ => "Status",
    }
}
