//! AWS IoT Jobs: the job documents otadeck understands, and the execution status update bodies a
//! module (or otadeck on its behalf) sends back.
//!
//! Documents ([`parse`]):
//! - **Zerynth FOTA** (seed format): `{bc_idx, bc_crc, bc_size, bc_url}`, where `bc_crc` is the
//!   MD5 of the bytecode image in hex and `bc_url` a presigned (https) URL.
//! - **FreeRTOS OTA** (`aws/ota-for-aws-iot-embedded-sdk`): `{afr_ota: {protocols, streamname,
//!   files[{filepath, filesize, fileid, certfile, update_data_url, auth_scheme, fileType, attr,
//!   sig-sha256-ecdsa}]}}`.
//!
//! Either may come bare or inside the `{execution: {jobId, statusDetails, jobDocument}}` wrapper
//! of the `jobs/notify-next` and `jobs/$next/get/accepted` messages.
//!
//! Status updates ([`StatusUpdate`]) serialise as the `UpdateJobExecution` body
//! `{status, statusDetails?, expectedVersion?, clientToken?}`; `statusDetails` keys are checked
//! against AWS's limits (1–128 characters of `[a-zA-Z0-9:_-]`) and values too (1–1024 characters,
//! no control, format or private-use characters; unassigned code points are not checked).

use super::json::{parse_document, Node, Obj};
use super::safety::{hash_at, size_at, url_at};
use super::{ErrorKind, ManifestError};
use crate::digest::{Algorithm, ExpectedDigest};
use base64::Engine;
use serde::Serialize;
use std::collections::BTreeMap;

/// Most files in one `afr_ota` document.
pub const MAX_AFR_FILES: usize = 16;
/// Longest `statusDetails` key (AWS limit).
pub const MAX_DETAIL_KEY: usize = 128;
/// Longest `statusDetails` value (AWS limit).
pub const MAX_DETAIL_VALUE: usize = 1024;

/// A job as received: the wrapper's fields (when present) and the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    /// `execution.jobId`, when the document came in its wrapper.
    pub job_id: Option<String>,
    /// `execution.statusDetails` (empty when absent).
    pub status_details: BTreeMap<String, String>,
    /// The job document.
    pub document: JobDocument,
}

/// A job document otadeck knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum JobDocument {
    /// Zerynth FOTA.
    Zerynth(ZerynthJob),
    /// FreeRTOS OTA.
    AfrOta(AfrOtaJob),
}

/// Zerynth FOTA job document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZerynthJob {
    /// Bytecode slot to write (0–15).
    pub bc_idx: u32,
    /// `bc_crc`: despite the name, the MD5 of the image.
    pub bc_md5: ExpectedDigest,
    /// Image size in bytes.
    pub bc_size: u64,
    /// Presigned download URL (expires; refresh the job before it does).
    pub bc_url: String,
}

/// FreeRTOS OTA job document (`afr_ota`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AfrOtaJob {
    /// `MQTT` and/or `HTTP`.
    pub protocols: Vec<String>,
    /// The MQTT stream to read blocks from.
    pub stream_name: Option<String>,
    /// Files to update.
    pub files: Vec<AfrFile>,
}

/// One file of an `afr_ota` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AfrFile {
    /// Device-defined destination label (no `..` segments).
    pub file_path: String,
    /// Size in bytes.
    pub file_size: u64,
    /// File id within the stream.
    pub file_id: u32,
    /// Path of the code-signing certificate on the device.
    pub cert_file: Option<String>,
    /// Presigned HTTPS URL, for the HTTP data protocol.
    pub update_data_url: Option<String>,
    /// Authentication scheme for `update_data_url`.
    pub auth_scheme: Option<String>,
    /// Application-defined file type.
    pub file_type: Option<u32>,
    /// Application-defined attributes.
    pub attr: Option<u32>,
    /// `sig-sha256-ecdsa`: base64 ECDSA signature over the file's SHA-256.
    pub signature_base64: Option<String>,
}

/// Parse a job document, bare or in its `execution` wrapper. Entry point for fuzzing.
pub fn parse(bytes: &[u8]) -> Result<Job, ManifestError> {
    let doc = parse_document(bytes)?;
    let root = Node::root(&doc).obj()?;
    let (job_id, status_details, body) = match root.opt("execution") {
        Some(exec) => {
            let e = exec.obj()?;
            let job_id = e
                .opt("jobId")
                .map(|n| n.text(64).map(String::from))
                .transpose()?;
            let details = match e.opt("statusDetails") {
                Some(d) => parse_details(&d.obj()?)?,
                None => BTreeMap::new(),
            };
            (job_id, details, e.req("jobDocument")?.obj()?)
        }
        None => (None, BTreeMap::new(), root),
    };
    let document = if let Some(afr) = body.opt("afr_ota") {
        JobDocument::AfrOta(parse_afr(&afr.obj()?)?)
    } else if body.has("bc_url") || body.has("bc_idx") {
        JobDocument::Zerynth(parse_zerynth(&body)?)
    } else {
        return Err(body.err(ErrorKind::Unsupported {
            message: "not a job document otadeck knows: expected \"bc_url\" (Zerynth) or \"afr_ota\" (FreeRTOS OTA)".into(),
        }));
    };
    Ok(Job {
        job_id,
        status_details,
        document,
    })
}

fn parse_details(o: &Obj<'_>) -> Result<BTreeMap<String, String>, ManifestError> {
    let mut out = BTreeMap::new();
    for (k, v) in o.entries() {
        let value = v.str()?;
        check_detail(k, value).map_err(|e| v.invalid(e.to_string()))?;
        out.insert(k.clone(), value.to_string());
    }
    Ok(out)
}

fn parse_zerynth(o: &Obj<'_>) -> Result<ZerynthJob, ManifestError> {
    let idx = o.req("bc_idx")?;
    Ok(ZerynthJob {
        bc_idx: idx.int_in(0, 15)? as u32,
        bc_md5: hash_at(&o.req("bc_crc")?, Algorithm::Md5)?,
        bc_size: size_at(&o.req("bc_size")?)?,
        bc_url: url_at(&o.req("bc_url")?, None)?.into(),
    })
}

fn parse_afr(o: &Obj<'_>) -> Result<AfrOtaJob, ManifestError> {
    let protos_node = o.req("protocols")?;
    let mut protocols = Vec::new();
    for p in protos_node.arr_max(2)? {
        let name = p.one_of(&[("MQTT", "MQTT"), ("HTTP", "HTTP")])?;
        if protocols.contains(&name.to_string()) {
            return Err(p.invalid(format!("{name} is listed twice")));
        }
        protocols.push(name.to_string());
    }
    if protocols.is_empty() {
        return Err(protos_node.invalid("at least one protocol (MQTT or HTTP) is needed"));
    }
    let stream_name = o
        .opt("streamname")
        .map(|n| n.text(128).map(String::from))
        .transpose()?;
    if protocols.len() == 1 && protocols[0] == "MQTT" && stream_name.is_none() {
        return Err(ManifestError::new(
            o.child_path("streamname"),
            ErrorKind::Missing,
        ));
    }
    let files_node = o.req("files")?;
    let items = files_node.arr_max(MAX_AFR_FILES)?;
    if items.is_empty() {
        return Err(files_node.invalid("at least one file is needed"));
    }
    let mut files = Vec::new();
    for item in items {
        let f = item.obj()?;
        let path_node = f.req("filepath")?;
        let file_path = path_node.text(255)?;
        if file_path.split(['/', '\\']).any(|s| s == "..") {
            return Err(path_node.err(ErrorKind::UnsafePath {
                message: format!("{file_path:?} has a \"..\" segment"),
            }));
        }
        let opt_text = |key: &str, max| {
            f.opt(key)
                .map(|n| n.text(max).map(String::from))
                .transpose()
        };
        let opt_u32 = |key: &str| {
            f.opt(key)
                .map(|n| n.int_in(0, u32::MAX.into()).map(|v| v as u32))
                .transpose()
        };
        let signature_base64 = opt_text("sig-sha256-ecdsa", 1024)?;
        if let Some(sig) = &signature_base64 {
            let decoded = base64::engine::general_purpose::STANDARD.decode(sig);
            if decoded.is_err() {
                return Err(ManifestError::new(
                    f.child_path("sig-sha256-ecdsa"),
                    super::invalid("not valid base64"),
                ));
            }
        }
        files.push(AfrFile {
            file_path: file_path.into(),
            file_size: size_at(&f.req("filesize")?)?,
            file_id: f.req("fileid")?.int_in(0, u32::MAX.into())? as u32,
            cert_file: opt_text("certfile", 255)?,
            update_data_url: f
                .opt("update_data_url")
                .map(|n| url_at(&n, None).map(String::from))
                .transpose()?,
            auth_scheme: opt_text("auth_scheme", 64)?,
            file_type: opt_u32("fileType")?,
            attr: opt_u32("attr")?,
            signature_base64,
        });
    }
    Ok(AfrOtaJob {
        protocols,
        stream_name,
        files,
    })
}

/// A job execution status a device may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    /// Working on it (downloading, flashing, rebooting).
    InProgress,
    /// Done, and the new image has booted and confirmed itself.
    Succeeded,
    /// Tried and failed.
    Failed,
    /// Refused without trying (e.g. a downgrade, a wrong device).
    Rejected,
}

/// A `statusDetails` entry outside AWS's limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum DetailError {
    /// Key empty, longer than 128 characters, or with characters outside `[a-zA-Z0-9:_-]`.
    #[error(
        "statusDetails key {0:?} must be 1 to 128 characters of a-z, A-Z, 0-9, ':', '_' or '-'"
    )]
    Key(String),
    /// Value empty, longer than 1024 characters, or with control/format characters.
    #[error(
        "statusDetails value for {0:?} must be 1 to 1024 characters without control characters"
    )]
    Value(String),
}

/// Check one `statusDetails` entry against AWS's limits.
pub fn check_detail(key: &str, value: &str) -> Result<(), DetailError> {
    let key_ok = !key.is_empty()
        && key.len() <= MAX_DETAIL_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'-');
    if !key_ok {
        return Err(DetailError::Key(key.into()));
    }
    let n = value.chars().count();
    if n == 0 || n > MAX_DETAIL_VALUE || value.chars().any(super::safety::hidden_char) {
        return Err(DetailError::Value(key.into()));
    }
    Ok(())
}

/// The body of an `UpdateJobExecution` request (HTTP) or `…/jobs/{jobId}/update` message (MQTT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusUpdate {
    /// The new status.
    pub status: ExecutionStatus,
    /// Name/value pairs describing it; left out when empty (AWS then keeps the previous ones).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    status_details: BTreeMap<String, String>,
    /// The execution version this update expects (optimistic locking).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
    /// Echoed back in the response (MQTT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl StatusUpdate {
    /// An update with no details.
    pub fn new(status: ExecutionStatus) -> Self {
        Self {
            status,
            status_details: BTreeMap::new(),
            expected_version: None,
            client_token: None,
        }
    }

    /// `IN_PROGRESS` with a `step` detail (e.g. `download`, `flash`, `reboot`).
    pub fn in_progress(step: &str) -> Result<Self, DetailError> {
        Self::new(ExecutionStatus::InProgress).detail("step", step)
    }

    /// `SUCCEEDED`, recording the version now running.
    pub fn succeeded(running_version: &str) -> Result<Self, DetailError> {
        Self::new(ExecutionStatus::Succeeded).detail("version", running_version)
    }

    /// `FAILED` with a `reason` (shortened to fit, control characters replaced).
    pub fn failed(reason: &str) -> Self {
        Self::new(ExecutionStatus::Failed).detail_lossy("reason", reason)
    }

    /// Add a detail; refused when outside AWS's limits.
    pub fn detail(mut self, key: &str, value: &str) -> Result<Self, DetailError> {
        check_detail(key, value)?;
        self.status_details.insert(key.into(), value.into());
        Ok(self)
    }

    /// Add free text as a detail: forbidden characters become spaces, the value is cut to 1024
    /// characters (ending in `…`), and an empty value becomes `-`. `key` must be valid.
    pub fn detail_lossy(mut self, key: &str, value: &str) -> Self {
        let mut v: String = value
            .chars()
            .map(|c| {
                if super::safety::hidden_char(c) {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        if v.chars().count() > MAX_DETAIL_VALUE {
            v = v.chars().take(MAX_DETAIL_VALUE - 1).chain(['…']).collect();
        }
        if v.is_empty() {
            v.push('-');
        }
        if check_detail(key, &v).is_ok() {
            self.status_details.insert(key.into(), v);
        }
        self
    }

    /// The details set so far.
    pub fn status_details(&self) -> &BTreeMap<String, String> {
        &self.status_details
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
