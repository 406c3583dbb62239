//! Update sources in the browser: a manifest, job document or deployment loaded from a URL, a
//! paste or a file, checked (signature, expiry) against the keys kept here, and its downloads
//! fetched through their checks. What the source offers is the core's
//! ([`otadeck_core::source`]); this only fetches and keeps the keys.

use otadeck_core::manifest::MAX_DOCUMENT_BYTES;
use otadeck_core::progress::RateMeter;
use otadeck_core::source::download::Download;
use otadeck_core::source::trust::{self, SignatureState, TrustedKey};
use otadeck_core::source::{self, Item, Loaded};

use super::fetcher;
use crate::clock::now;

/// Where keys are kept in the browser.
const KEYS: &str = "otadeck.trusted-keys";

/// A loaded source, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSource {
    /// The document as read.
    pub loaded: Loaded,
    /// What the signature check found.
    pub signature: SignatureState,
    /// Why it may not run at all (expired, a bad signature), when it may not.
    pub refusal: Option<String>,
    /// Where it came from, in words (the URL, "pasted text", the file name).
    pub origin: String,
    /// The `Authorization` header it was fetched with (a hawkBit `TargetToken` or
    /// `GatewayToken`), sent again with every request that follows from it.
    pub auth: Option<String>,
}

impl LoadedSource {
    /// The headers of the requests that follow from this source.
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        self.auth
            .as_deref()
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default()
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The keys the technician imported.
pub fn keys() -> Vec<TrustedKey> {
    let text = storage()
        .and_then(|s| s.get_item(KEYS).ok().flatten())
        .unwrap_or_default();
    let list: Vec<String> = serde_json::from_str(&text).unwrap_or_default();
    list.iter()
        .filter_map(|k| TrustedKey::parse(k.as_bytes()).ok())
        .collect()
}

fn save_keys(keys: &[TrustedKey]) {
    let list: Vec<String> = keys.iter().map(TrustedKey::to_base64).collect();
    if let (Some(s), Ok(text)) = (storage(), serde_json::to_string(&list)) {
        let _ = s.set_item(KEYS, &text);
    }
}

/// Import a key (PEM, or 32 bytes as base64 or hex); it is kept in this browser.
pub fn import_key(text: &str) -> Result<TrustedKey, String> {
    let key = TrustedKey::parse(text.as_bytes())?;
    let mut all = keys();
    if !all.contains(&key) {
        all.push(key.clone());
        save_keys(&all);
    }
    Ok(key)
}

/// Forget the key with this fingerprint.
pub fn remove_key(fingerprint: &str) {
    let all: Vec<TrustedKey> = keys()
        .into_iter()
        .filter(|k| k.fingerprint() != fingerprint)
        .collect();
    save_keys(&all);
}

fn unix_now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// Read `bytes` (fetched from `url`, or pasted or opened when `url` is `None`) with its
/// detached signature when one was found.
pub fn check(
    bytes: &[u8],
    url: Option<&str>,
    detached: Option<&[u8]>,
    origin: String,
) -> Result<LoadedSource, String> {
    let loaded = source::read(bytes, url).map_err(|e| format!("{origin}: {e}"))?;
    let signature = trust::check_signature(bytes, detached, &keys());
    let refusal = match (&signature, trust::check_expiry(bytes, unix_now())) {
        (_, Err(e)) => Some(e),
        (SignatureState::Invalid { why }, _) => Some(why.clone()),
        _ => None,
    };
    Ok(LoadedSource {
        loaded,
        signature,
        refusal,
        origin,
        auth: None,
    })
}

/// Fetch a document (and `<url>.sig`, when the server has one), with `auth` as its
/// `Authorization` header when given.
pub async fn fetch_document(
    url: &str,
    auth: Option<&str>,
) -> Result<(Vec<u8>, String, Option<Vec<u8>>), String> {
    let mut bytes = Vec::new();
    let headers: Vec<(&str, &str)> = auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
    let answer = fetcher::get(url, &headers, |_, chunk| {
        if bytes.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("{url} is larger than a manifest can be (4 MiB)"));
        }
        bytes.extend_from_slice(chunk);
        Ok(())
    })
    .await?;
    let sig = match trust::signature_url(&answer.url) {
        Some(sig_url) => fetcher::get_optional(&sig_url, 4096).await?,
        None => None,
    };
    Ok((bytes, answer.url, sig))
}

/// Load a source from `url`.
pub async fn load_url(url: &str) -> Result<LoadedSource, String> {
    load_url_with(url, None).await
}

/// Load a source from `url` with an `Authorization` header (a hawkBit security token), which
/// the requests that follow from it send too.
pub async fn load_url_with(url: &str, auth: Option<String>) -> Result<LoadedSource, String> {
    let (bytes, final_url, sig) = fetch_document(url, auth.as_deref()).await?;
    let mut l = check(&bytes, Some(&final_url), sig.as_deref(), final_url.clone())?;
    l.auth = auth;
    Ok(l)
}

/// How a download goes, for the page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fetching {
    /// Bytes received.
    pub done: u64,
    /// Bytes declared, when known.
    pub total: Option<u64>,
    /// Bytes per second.
    pub rate: Option<f64>,
}

/// Download `item` through its checks, reporting progress; the checked bytes, or why not.
pub async fn download(item: &Item, progress: impl FnMut(Fetching)) -> Result<Vec<u8>, String> {
    download_with(item, &[], progress).await
}

/// [`download`], sending `headers` (the source's `Authorization`).
pub async fn download_with(
    item: &Item,
    headers: &[(&str, &str)],
    mut progress: impl FnMut(Fetching),
) -> Result<Vec<u8>, String> {
    let mut check = Download::new(item);
    let mut meter = RateMeter::new(item.size.unwrap_or(0), std::time::Duration::from_secs(3));
    let mut declared_checked = false;
    let mut last_report = 0u64;
    fetcher::get(&item.url, headers, |length, chunk| {
        if !declared_checked {
            check.declared(length).map_err(|e| e.to_string())?;
            declared_checked = true;
        }
        check.feed(chunk).map_err(|e| e.to_string())?;
        let done = check.received();
        meter.record(now(), done);
        if done - last_report >= 32 * 1024 {
            last_report = done;
            progress(Fetching {
                done,
                total: check.expected_size().or(length),
                rate: meter.bytes_per_second(),
            });
        }
        Ok(())
    })
    .await
    .map_err(|e| format!("{}: {e}", item.label))?;
    let done = check.received();
    progress(Fetching {
        done,
        total: Some(done),
        rate: meter.bytes_per_second(),
    });
    check.finish().map(|c| c.data).map_err(|e| e.to_string())
}
