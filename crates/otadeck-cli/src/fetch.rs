//! HTTP(S) fetches with bounds: a connect timeout, a deadline for the whole transfer, a size cap,
//! and every redirect checked by the same rules as the first URL (https, or http to this machine
//! only; never from https down to http).

use std::io::Read;
use std::time::Duration;

use otadeck_core::admission::MAX_IMAGE_BYTES;
use otadeck_core::manifest::safety;

/// Redirects followed at the most.
const MAX_REDIRECTS: usize = 5;

/// The longest a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What bounds a fetch.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The whole fetch (every redirect, the headers, the body) must end within this.
    pub deadline: Duration,
}

/// A fetched body and the URL it finally came from (after redirects).
pub struct Fetched {
    /// The body.
    pub body: Vec<u8>,
    /// The URL that answered with it.
    pub url: String,
}

/// GET `source`, following checked redirects, within `limits`.
pub fn get(source: &str, limits: Limits) -> Result<Fetched, String> {
    let mut body = Vec::new();
    let url = stream(source, limits, &[], |_, chunk| {
        if body.len() + chunk.len() > MAX_IMAGE_BYTES {
            return Err(format!(
                "{source} sends more than 64 MiB: it is not a firmware image or manifest"
            ));
        }
        body.extend_from_slice(chunk);
        Ok(())
    })?
    .url;
    Ok(Fetched { body, url })
}

/// What answered a streamed GET.
pub struct Answer {
    /// The URL that answered (after redirects).
    pub url: String,
}

fn agent(limits: Limits) -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT.min(limits.deadline)))
        .timeout_global(Some(limits.deadline))
        .build()
        .into()
}

/// GET `source` with `headers`, following checked redirects, and hand the body to `sink` chunk
/// by chunk (with the answer's `Content-Length` first seen through [`Answer`]).
pub fn stream(
    source: &str,
    limits: Limits,
    headers: &[(&str, &str)],
    sink: impl FnMut(Option<u64>, &[u8]) -> Result<(), String>,
) -> Result<Answer, String> {
    stream_status(source, limits, headers, sink).map_err(|(_, e)| e)
}

/// GET a file that may not exist (a detached signature): `None` when the server answers with
/// an error status.
pub fn get_optional(source: &str, limits: Limits) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    let got = stream_status(source, limits, &[], |_, chunk| {
        if body.len() + chunk.len() > 64 * 1024 {
            return Err(format!("{source} is larger than 64 KiB: not a signature"));
        }
        body.extend_from_slice(chunk);
        Ok(())
    });
    match got {
        Ok(_) => Ok(Some(body)),
        // Any error status: the server has no such file for this path.
        Err((Some(_), _)) => Ok(None),
        Err((None, e)) => Err(e),
    }
}

/// [`stream`], with the HTTP status of a refusal kept apart.
fn stream_status(
    source: &str,
    limits: Limits,
    headers: &[(&str, &str)],
    mut sink: impl FnMut(Option<u64>, &[u8]) -> Result<(), String>,
) -> Result<Answer, (Option<u16>, String)> {
    let agent = agent(limits);
    let mut url = safety::parse_url(source, None).map_err(|e| (None, format!("{source}: {e}")))?;
    for _ in 0..=MAX_REDIRECTS {
        let mut request = agent.get(url.as_str());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request
            .call()
            .map_err(|e| (None, describe(source, &e, limits)))?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| (None, format!("{url} answered {status} without a Location")))?;
            url = redirect_target(&url, location).map_err(|e| (None, e))?;
            continue;
        }
        if status >= 400 {
            let message = format!("{url} answered HTTP {status}{}", status_hint(status));
            return Err((Some(status), message));
        }
        let length = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.trim().parse().ok());
        let mut reader = response.into_body().into_reader();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| (None, format!("the download of {url} broke off: {e}")))?;
            if n == 0 {
                break;
            }
            sink(length, &buf[..n]).map_err(|e| (None, e))?;
        }
        return Ok(Answer {
            url: url.to_string(),
        });
    }
    Err((
        None,
        format!("{source} redirects more than {MAX_REDIRECTS} times"),
    ))
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => ": the server refuses this request (check the token or the link's expiry)",
        404 => " (HTTP 404: no such file on the server)",
        410 => ": gone (the server closed this action)",
        _ => "",
    }
}

/// `method` (POST or PUT) `body` as JSON to `target` with `headers`; the HTTP status, or an error
/// in words.
pub fn send_json(
    method: &str,
    target: &str,
    limits: Limits,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<u16, String> {
    let url = safety::parse_url(target, None).map_err(|e| format!("{target}: {e}"))?;
    let agent = agent(limits);
    let mut request = match method {
        "PUT" => agent.put(url.as_str()),
        _ => agent.post(url.as_str()),
    }
    .header("Content-Type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request
        .send(body)
        .map_err(|e| describe(target, &e, limits))?;
    Ok(response.status().as_u16())
}

/// Where a redirect from `from` to `location` leads, when the same rules allow it.
fn redirect_target(from: &url::Url, location: &str) -> Result<url::Url, String> {
    let next = safety::parse_url(location, Some(from))
        .map_err(|e| format!("{from} redirects to {location:?}, which is refused: {e}"))?;
    if from.scheme() == "https" && next.scheme() != "https" {
        return Err(format!(
            "{from} redirects to {next}, from https down to {}: refused",
            next.scheme()
        ));
    }
    Ok(next)
}

fn describe(source: &str, e: &ureq::Error, limits: Limits) -> String {
    match e {
        ureq::Error::Timeout(_) => format!(
            "{source} did not answer within {} s: check the address and the network",
            limits.deadline.as_secs()
        ),
        other => format!("cannot fetch {source}: {other}"),
    }
}
