//! Update manifests, job documents and campaign plans.
//!
//! Every parser takes the raw bytes of a document and returns a typed result or a
//! [`ManifestError`] that names the JSON path of the problem (`builds[1].parts[0].offset: expected
//! a number, found a string`). Parsers are total: hostile input gives an error, never a panic.
//! Unknown fields are ignored; known fields must have the right type. Duplicate keys are refused
//! (two parsers could otherwise read different values from the same document).
//!
//! Safety rules applied while parsing (see [`safety`]): only https URLs (plain http only for
//! localhost, 127.0.0.0/8 and ::1), destination paths normalised and kept inside the module's
//! file system, sizes bounded, hash strings well-formed for their algorithm.
//!
//! | format | entry point | result |
//! |---|---|---|
//! | Pycom OTA `manifest.json` body | [`pycom::parse`] | [`pycom::PycomResponse`] |
//! | ESP Web Tools manifest | [`esp_web_tools::parse`], [`esp_web_tools::parse_at`] | [`esp_web_tools::EspWebToolsManifest`] |
//! | AWS IoT job document (Zerynth, FreeRTOS `afr_ota`) | [`aws_job::parse`] | [`aws_job::JobDocument`] |
//! | hawkBit DDI controller base, deploymentBase, feedback | [`hawkbit::parse_controller_base`], [`hawkbit::parse_deployment_base`], [`hawkbit::parse_feedback`] | [`hawkbit::ControllerBase`], [`hawkbit::DeploymentBase`], [`hawkbit::Feedback`] |
//! | otadeck campaign plan v1 | [`plan::parse`] | [`plan::CampaignPlan`] |

pub mod aws_job;
pub mod detect;
pub mod esp_web_tools;
pub mod hawkbit;
mod json;
pub mod plan;
pub mod pycom;
pub mod safety;

use crate::digest::HexError;
use serde::Serialize;
use std::fmt;

/// Largest document any parser accepts, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

/// A document refused, with the JSON path of the problem (empty for the whole document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct ManifestError {
    /// JSON path, e.g. `builds[1].parts[0].offset`; empty for the whole document.
    pub path: String,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.path, self.kind)
        }
    }
}

impl ManifestError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, kind: ErrorKind) -> Self {
        Self {
            path: path.into(),
            kind,
        }
    }
}

/// What is wrong with a document or one of its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ErrorKind {
    /// The body is empty (a server that failed after sending its headers).
    #[error("the body is empty: the server failed after sending its headers (an empty answer is an error, not \"up to date\")")]
    Empty,
    /// The document is larger than [`MAX_DOCUMENT_BYTES`].
    #[error("the document is {size} bytes, more than the {max} bytes accepted")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// Bytes accepted.
        max: usize,
    },
    /// Not JSON (or not UTF-8, or nested too deeply, or with a duplicate key).
    #[error("not valid JSON: {message}")]
    Syntax {
        /// The parser's message with line and column.
        message: String,
    },
    /// A required field is absent (or `null`).
    #[error("required field is missing")]
    Missing,
    /// A field has the wrong JSON type.
    #[error("expected {expected}, found {found}")]
    Type {
        /// What the format requires.
        expected: &'static str,
        /// What the document has.
        found: &'static str,
    },
    /// A field has the right type but a value the format does not allow.
    #[error("{message}")]
    Invalid {
        /// In words.
        message: String,
    },
    /// A URL refused by the safety rules.
    #[error("unsafe URL: {message}")]
    UnsafeUrl {
        /// In words.
        message: String,
    },
    /// A destination path refused by the safety rules.
    #[error("unsafe path: {message}")]
    UnsafePath {
        /// In words.
        message: String,
    },
    /// A malformed hash string.
    #[error("{0}")]
    Hash(HexError),
    /// A list longer than the format or the safety rules allow.
    #[error("{found} entries, more than the {max} allowed")]
    TooMany {
        /// Entries found.
        found: usize,
        /// Entries allowed.
        max: usize,
    },
    /// A format or format version this build does not read.
    #[error("{message}")]
    Unsupported {
        /// In words.
        message: String,
    },
}

pub(crate) fn invalid(message: impl Into<String>) -> ErrorKind {
    ErrorKind::Invalid {
        message: message.into(),
    }
}
