//! Attempts as JSON (every field) and CSV (one row per attempt, for a spreadsheet).

use serde::Serialize;

use super::record::Attempt;
use crate::manifest::plan::time::Date;

/// One CSV row.
#[derive(Serialize)]
struct CsvRow<'a> {
    attempt: &'a str,
    campaign: &'a str,
    module: &'a str,
    model: &'a str,
    family: &'a str,
    image: &'a str,
    started: String,
    updated: String,
    state: &'a str,
    decision: &'a str,
    version_before: &'a str,
    target_version: &'a str,
    version_after: &'a str,
    step: &'a str,
    bytes_done: u64,
    bytes_total: u64,
    battery_percent: Option<u8>,
    signal_dbm: Option<i32>,
    free_bytes: Option<u64>,
    reasons: String,
    message: &'a str,
}

/// Every attempt as a JSON array, each with every field of its record.
pub fn to_json(attempts: &[Attempt]) -> String {
    serde_json::to_string_pretty(attempts).unwrap_or_else(|_| "[]".into())
}

/// One CSV row per attempt, with a header; times in UTC, RFC 3339.
pub fn to_csv(attempts: &[Attempt]) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    for a in attempts {
        let row = CsvRow {
            attempt: &a.id,
            campaign: &a.campaign,
            module: &a.module,
            model: &a.model,
            family: &a.family,
            image: &a.image,
            started: rfc3339(a.started_ms),
            updated: rfc3339(a.updated_ms),
            state: a.state.label(),
            decision: match a.decision {
                Some(d) if d.ota_action() == 1 => "accepted",
                Some(_) => "rejected",
                None => "",
            },
            version_before: &a.from_version,
            target_version: &a.to_version,
            version_after: a.running_after.as_deref().unwrap_or(""),
            step: a.step.map(|s| s.label()).unwrap_or(""),
            bytes_done: a.done,
            bytes_total: a.total,
            battery_percent: a.battery_percent,
            signal_dbm: a.signal_dbm,
            free_bytes: a.free_bytes,
            reasons: a
                .reasons
                .iter()
                .map(|r| r.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            message: a.message.as_deref().unwrap_or(""),
        };
        // Writing to memory fails only for a row serde cannot flatten, which this one is not.
        let _ = out.serialize(row);
    }
    out.into_inner()
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}

/// `2026-12-03T04:05:06Z` from ms since the Unix epoch.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let rest = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        Date::from_days(secs.div_euclid(86_400)),
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}
