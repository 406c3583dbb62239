//! The session log: every line any device's session wrote, newest last. Appending is O(1) and
//! redraws only the components that show the log.

use otadeck_core::session::LogLevel;
use serde::{Deserialize, Serialize};

use super::store::Store;
use crate::clock::{now, wall_clock};

/// One line of the session log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Seconds since the page loaded.
    #[serde(rename = "t")]
    pub at: f64,
    /// Wall-clock time, `HH:MM:SS`.
    pub clock: String,
    /// Importance.
    #[serde(serialize_with = "level_name", deserialize_with = "level_from_name")]
    pub level: LogLevel,
    /// The text.
    pub message: String,
}

fn level_name<S: serde::Serializer>(level: &LogLevel, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    })
}

fn level_from_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<LogLevel, D::Error> {
    Ok(match String::deserialize(d)?.as_str() {
        "debug" => LogLevel::Debug,
        "warn" => LogLevel::Warn,
        "error" => LogLevel::Error,
        _ => LogLevel::Info,
    })
}

/// The log, shared by every device session.
pub type SessionLog = Store<Vec<LogEntry>>;

/// Append a line stamped with the page clock and the wall clock.
pub fn append(log: &SessionLog, level: LogLevel, message: impl Into<String>) {
    let entry = LogEntry {
        at: now().as_secs_f64(),
        clock: wall_clock(),
        level,
        message: message.into(),
    };
    log.update(|lines| lines.push(entry));
}

/// The whole log as JSON, one object a line.
pub fn to_json(log: &SessionLog) -> String {
    serde_json::to_string_pretty(&*log.get()).unwrap_or_else(|_| "[]".into())
}
