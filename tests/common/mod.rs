//! What the browser suites share: the fixture server `cargo xtask test` starts, and the
//! campaign records kept in the browser. Each suite uses part of it.
#![allow(dead_code)]

pub mod serial;

/// Where the fixture server listens (`otadeck sim fixtures --http 127.0.0.1:18765`).
pub const FIXTURES: &str = "http://127.0.0.1:18765";

/// One request the fixture server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `GET`, `POST`…
    pub method: String,
    /// Path and query.
    pub target: String,
    /// The body, as text.
    pub body: String,
    /// `Authorization`, empty when none was sent.
    pub authorization: String,
}

/// Every request the fixture server received, oldest first.
pub async fn requests() -> Vec<Seen> {
    let mut body = Vec::new();
    otadeck::services::fetcher::get(&format!("{FIXTURES}/fx/requests"), &[], |_, c| {
        body.extend_from_slice(c);
        Ok(())
    })
    .await
    .unwrap();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    list.iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            Seen {
                method: s("method"),
                target: s("target"),
                body: s("body"),
                authorization: s("authorization"),
            }
        })
        .collect()
}

/// The attempts of plan `campaign` kept in this browser.
pub async fn kept_of(campaign: &str) -> Vec<otadeck_core::campaign::record::Attempt> {
    otadeck::services::records::all()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.campaign == campaign)
        .collect()
}
