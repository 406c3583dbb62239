//! A path prefix of the static server forwarded to another local server, as a reverse proxy
//! puts otadeck and a hawkBit server on one origin (goosebit sends no CORS headers, so a page
//! from another origin may not read it). The `Host` header is passed on, so the server builds
//! its links to the proxy.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use tiny_http::{Header, Request, Response};

/// `(prefix, host:port)`: requests whose path starts with `prefix` go to `host:port`.
static ROUTE: Mutex<Option<(String, String)>> = Mutex::new(None);

/// Forward `prefix` to `target` from now on; `None` stops forwarding.
pub fn set(route: Option<(&str, &str)>) {
    *ROUTE.lock().expect("proxy route") = route.map(|(p, t)| (p.to_string(), t.to_string()));
}

/// Answers `req` by forwarding it when its path is routed; otherwise gives it back.
pub fn try_forward(mut req: Request) -> Option<Request> {
    let route = ROUTE.lock().expect("proxy route").clone();
    let Some((_, target)) = route.filter(|(p, _)| req.url().starts_with(p.as_str())) else {
        return Some(req);
    };
    let mut body = Vec::new();
    let _ = req.as_reader().read_to_end(&mut body);
    let header = |name: &'static str| {
        req.headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    };
    let mut head = format!("{} {} HTTP/1.0\r\n", req.method(), req.url());
    for name in ["Host", "Content-Type", "Authorization", "Accept"] {
        if let Some(v) = header(name) {
            head.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let answer = TcpStream::connect(&target).and_then(|mut s| {
        s.write_all(head.as_bytes())?;
        s.write_all(&body)?;
        let mut out = Vec::new();
        s.read_to_end(&mut out)?;
        Ok(out)
    });
    let response = match answer.ok().and_then(|raw| parse(&raw)) {
        Some((status, content_type, body)) => {
            let mut r = Response::from_data(body).with_status_code(status);
            if let Some(ct) = content_type.and_then(|c| Header::from_bytes("Content-Type", c).ok())
            {
                r = r.with_header(ct);
            }
            r
        }
        None => Response::from_string("the proxied server did not answer").with_status_code(502),
    };
    let _ = req.respond(response);
    None
}

/// Status, `Content-Type` and body of a raw HTTP/1.0 answer (ended by closing).
fn parse(raw: &[u8]) -> Option<(u16, Option<String>, Vec<u8>)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let content_type = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-type")
            .then(|| v.trim().to_string())
    });
    Some((status, content_type, raw[end + 4..].to_vec()))
}
