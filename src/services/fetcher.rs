//! HTTP GET and POST through the browser's `fetch`, streamed chunk by chunk, with every way it
//! fails put in words a technician can act on: a server the page may not read (CORS), mixed
//! content, a redirect to plain http, an HTTP error, a body that broke off.

use js_sys::Uint8Array;
use otadeck_core::manifest::safety;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Request, RequestInit, RequestMode, Response};

/// What answered a GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The URL that answered, after redirects.
    pub url: String,
    /// The HTTP status.
    pub status: u16,
}

fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

fn page_is_https() -> bool {
    origin().starts_with("https:")
}

/// The URL checked by the manifest safety rules and, on an https page, for mixed content.
fn checked(url: &str) -> Result<url::Url, String> {
    let parsed = safety::parse_url(url, None).map_err(|e| format!("{url}: {e}"))?;
    if page_is_https() && parsed.scheme() == "http" && !safety::is_loopback(&parsed) {
        return Err(format!(
            "{url} is plain http, and this page is https: the browser blocks it (mixed content). Publish the file over https"
        ));
    }
    Ok(parsed)
}

/// Why a request never got an answer: the browser does not say whether the server is down or
/// refused this page by CORS, so both are named, with what to do.
fn unreachable(url: &str) -> String {
    let https_note = if page_is_https() {
        " (or it redirected to plain http, which an https page may not load)"
    } else {
        ""
    };
    format!(
        "the browser could not read {url}: the server cannot be reached, or it does not allow this page to read it (CORS){https_note}. \
         A server must send the header \"Access-Control-Allow-Origin: *\" (or \"{}\") for a browser to read it; \
         otherwise run `otadeck install {url}` on a computer, which needs no such header",
        origin()
    )
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => {
            ": the server refuses this request (check the token, or whether the link expired)"
        }
        404 => ": no such file on the server (check the address)",
        410 => ": gone (the server closed this action)",
        500..=599 => ": the server failed; try again later or tell its administrator",
        _ => "",
    }
}

async fn send(url: &str, init: &RequestInit) -> Result<Response, String> {
    let window = web_sys::window().ok_or("no window")?;
    let request = Request::new_with_str_and_init(url, init).map_err(|e| format!("{url}: {e:?}"))?;
    let response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| unreachable(url))?;
    Ok(response.unchecked_into())
}

/// GET `url` with `headers`, handing each chunk of the body to `sink` with the declared
/// `Content-Length` (when the server sent one) as it arrives.
pub async fn get(
    url: &str,
    headers: &[(&str, &str)],
    sink: impl FnMut(Option<u64>, &[u8]) -> Result<(), String>,
) -> Result<Answer, String> {
    let answer = fetch(url, headers, false, sink).await?;
    Ok(answer.expect("an error status is an error here"))
}

/// [`get`]; with `absent_ok`, an HTTP error status is `None` (the file is not there).
async fn fetch(
    url: &str,
    headers: &[(&str, &str)],
    absent_ok: bool,
    mut sink: impl FnMut(Option<u64>, &[u8]) -> Result<(), String>,
) -> Result<Option<Answer>, String> {
    let first = checked(url)?;
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_mode(RequestMode::Cors);
    let h = web_sys::Headers::new().map_err(|e| format!("{e:?}"))?;
    for (k, v) in headers {
        h.set(k, v).map_err(|e| format!("{e:?}"))?;
    }
    init.set_headers(&h);
    let response = send(first.as_str(), &init).await?;
    let final_url = response.url();
    if !final_url.is_empty() && final_url != first.as_str() {
        let next = safety::parse_url(&final_url, None)
            .map_err(|e| format!("{url} redirects to {final_url}, which is refused: {e}"))?;
        if first.scheme() == "https" && next.scheme() != "https" {
            return Err(format!(
                "{url} redirects to {final_url}, from https down to plain http: refused"
            ));
        }
    }
    let status = response.status();
    if status >= 400 && absent_ok {
        return Ok(None);
    }
    if status >= 400 {
        return Err(format!(
            "{url} answered HTTP {status}{}",
            status_hint(status)
        ));
    }
    let length = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse().ok());
    let body = response
        .body()
        .ok_or_else(|| format!("{url} answered with no body"))?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut received = 0u64;
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|e| {
            format!(
                "the download of {url} broke off after {received} bytes ({}): try again",
                js_text(&e)
            )
        })?;
        let done = js_sys::Reflect::get(&chunk, &"done".into())
            .map(|v| v.is_truthy())
            .unwrap_or(true);
        if done {
            break;
        }
        let value = js_sys::Reflect::get(&chunk, &"value".into()).unwrap_or(JsValue::UNDEFINED);
        let bytes = Uint8Array::new(&value).to_vec();
        received += bytes.len() as u64;
        if let Err(e) = sink(length, &bytes) {
            let _ = reader.cancel();
            return Err(e);
        }
    }
    Ok(Some(Answer {
        url: if final_url.is_empty() {
            first.to_string()
        } else {
            final_url
        },
        status,
    }))
}

/// GET a small file that may not exist (a detached signature): `None` when the server answers
/// with an error status.
pub async fn get_optional(url: &str, max: usize) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    let answer = fetch(url, &[], true, |_, chunk| {
        if body.len() + chunk.len() > max {
            return Err(format!("{url} is larger than {max} bytes"));
        }
        body.extend_from_slice(chunk);
        Ok(())
    })
    .await?;
    Ok(answer.map(|_| body))
}

/// `method` (POST or PUT) `body` as JSON; the HTTP status.
pub async fn send_json(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<u16, String> {
    checked(url)?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_mode(RequestMode::Cors);
    let h = web_sys::Headers::new().map_err(|e| format!("{e:?}"))?;
    h.set("Content-Type", "application/json")
        .map_err(|e| format!("{e:?}"))?;
    for (k, v) in headers {
        h.set(k, v).map_err(|e| format!("{e:?}"))?;
    }
    init.set_headers(&h);
    init.set_body(&JsValue::from_str(body));
    Ok(send(url, &init).await?.status())
}

fn js_text(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "network error".into())
}
