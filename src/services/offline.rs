//! Working with no network: the service worker (`sw.js`) that keeps the app and every download
//! in the Cache API, whether the browser is online now, and what is kept, with its size and
//! SHA-256, and freeing it on request.

use otadeck_core::digest::{sha256, to_hex};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The caches `sw.js` fills (the app's own files, then everything downloaded).
pub const CACHES: [&str; 2] = ["otadeck-app", "otadeck-downloads"];

/// Register `sw.js` (next to the page). Failing is said in the console only: the app works
/// online without it.
pub fn register_worker() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let container = window.navigator().service_worker();
    let promise = container.register("sw.js");
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = JsFuture::from(promise).await {
            web_sys::console::warn_2(&"otadeck: no offline copy (service worker):".into(), &e);
        }
    });
}

/// The browser has a network (`navigator.onLine`).
pub fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// One thing kept for offline use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The cache it is in.
    pub cache: &'static str,
    /// Its URL.
    pub url: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

async fn cache(name: &str) -> Result<web_sys::Cache, String> {
    let storage = web_sys::window()
        .ok_or("no window")?
        .caches()
        .map_err(|_| "this page cannot use the Cache API (it needs https or localhost)")?;
    let c = JsFuture::from(storage.open(name))
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(c.unchecked_into())
}

/// Everything kept, app files first.
pub async fn list() -> Result<Vec<Kept>, String> {
    let mut out = Vec::new();
    for name in CACHES {
        let c = cache(name).await?;
        let keys = JsFuture::from(c.keys())
            .await
            .map_err(|e| format!("{e:?}"))?;
        for request in js_sys::Array::from(&keys).iter() {
            let request: web_sys::Request = request.unchecked_into();
            let Ok(found) = JsFuture::from(c.match_with_request(&request)).await else {
                continue;
            };
            let Some(response) = found.dyn_ref::<web_sys::Response>() else {
                continue;
            };
            let Ok(body) = response.array_buffer() else {
                continue;
            };
            let bytes = JsFuture::from(body)
                .await
                .map(|b| js_sys::Uint8Array::new(&b).to_vec())
                .unwrap_or_default();
            out.push(Kept {
                cache: name,
                url: request.url(),
                size: bytes.len() as u64,
                sha256: to_hex(&sha256(&bytes)),
            });
        }
    }
    Ok(out)
}

/// Forget one kept download.
pub async fn remove(cache_name: &str, url: &str) -> Result<(), String> {
    let c = cache(cache_name).await?;
    JsFuture::from(c.delete_with_str(url))
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

/// Forget every kept download (the app's own files stay, so it still opens offline).
pub async fn clear_downloads() -> Result<(), String> {
    let storage = web_sys::window()
        .ok_or("no window")?
        .caches()
        .map_err(|e| format!("{e:?}"))?;
    JsFuture::from(storage.delete(CACHES[1]))
        .await
        .map(|_| ())
        .map_err(|e: JsValue| format!("{e:?}"))
}
