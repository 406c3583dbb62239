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
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT.min(limits.deadline)))
        .timeout_global(Some(limits.deadline))
        .build()
        .into();
    let mut url = safety::parse_url(source, None).map_err(|e| format!("{source}: {e}"))?;
    for _ in 0..=MAX_REDIRECTS {
        let response = agent
            .get(url.as_str())
            .call()
            .map_err(|e| describe(source, &e, limits))?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| format!("{url} answered {status} without a Location"))?;
            url = redirect_target(&url, location)?;
            continue;
        }
        if status >= 400 {
            return Err(format!("{url} answered HTTP {status}"));
        }
        let mut body = Vec::new();
        response
            .into_body()
            .into_reader()
            .take(MAX_IMAGE_BYTES as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("cannot read {url}: {e}"))?;
        if body.len() > MAX_IMAGE_BYTES {
            return Err(format!(
                "{url} sends more than 64 MiB: it is not a firmware image or manifest"
            ));
        }
        return Ok(Fetched {
            body,
            url: url.to_string(),
        });
    }
    Err(format!(
        "{source} redirects more than {MAX_REDIRECTS} times"
    ))
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
