//! Eclipse hawkBit Direct Device Integration (DDI): the controller base resource, the
//! `deploymentBase` resource, and the action feedback body.
//!
//! - [`parse_controller_base`]: `{config.polling.sleep "HH:mm:ss", _links{deploymentBase,
//!   installedBase, configData, cancelAction, confirmationBase}}`.
//! - [`parse_deployment_base`]: `{id, deployment{download, update (skip|attempt|forced),
//!   maintenanceWindow?, chunks[{part, version, name, encrypted?, metadata[], artifacts[{filename,
//!   size, hashes{sha1, md5, sha256}, _links{download, download-http, md5sum, md5sum-http}}]}]},
//!   actionHistory?}`. Each artifact's download URL is `download` (https); `download-http` is used
//!   only when `download` is absent and the http link is to a loopback host, and is otherwise
//!   ignored (real servers send it next to the https link).
//! - [`Feedback`]: `{timestamp?, status{execution, result{finished, progress{cnt, of}}, code?,
//!   details[]}}`, serialised for `POST …/deploymentBase/{id}/feedback`, and parsed back by
//!   [`parse_feedback`]. The key is `finished`: hawkBit's Javadoc example says `final`, which the
//!   server ignores, so [`parse_feedback`] refuses it.

use super::json::{parse_document, Node, Obj};
use super::safety::{hash_at, size_at, url_at};
use super::{ErrorKind, ManifestError};
use crate::digest::{Algorithm, ExpectedDigest};
use serde::Serialize;

/// Most chunks in one deployment, and artifacts in one chunk.
pub const MAX_CHUNKS: usize = 64;

/// The controller base resource: how long to sleep and what to fetch next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControllerBase {
    /// `config.polling.sleep` as sent (`HH:mm:ss`).
    pub polling_sleep: String,
    /// The same in seconds.
    pub polling_seconds: u32,
    /// `_links.deploymentBase.href`: an update is waiting.
    pub deployment_base: Option<String>,
    /// `_links.installedBase.href`.
    pub installed_base: Option<String>,
    /// `_links.configData.href`: the server wants the controller's attributes.
    pub config_data: Option<String>,
    /// `_links.cancelAction.href`: the server asks to cancel an action.
    pub cancel_action: Option<String>,
    /// `_links.confirmationBase.href`: an action waits for the user's confirmation.
    pub confirmation_base: Option<String>,
}

/// Parse `GET /{tenant}/controller/v1/{controllerId}`. Entry point for fuzzing.
pub fn parse_controller_base(bytes: &[u8]) -> Result<ControllerBase, ManifestError> {
    let doc = parse_document(bytes)?;
    let root = Node::root(&doc).obj()?;
    let sleep = root
        .req("config")?
        .obj()?
        .req("polling")?
        .obj()?
        .req("sleep")?;
    let polling_sleep = sleep.str()?.to_string();
    let polling_seconds = parse_hms(&polling_sleep)
        .ok_or_else(|| sleep.invalid(format!("expected HH:mm:ss, found {polling_sleep:?}")))?;
    let links = root.opt("_links").map(|l| l.obj()).transpose()?;
    let link = |key: &str| -> Result<Option<String>, ManifestError> {
        let Some(l) = &links else { return Ok(None) };
        l.opt(key)
            .map(|n| url_at(&n.obj()?.req("href")?, None).map(String::from))
            .transpose()
    };
    Ok(ControllerBase {
        polling_sleep,
        polling_seconds,
        deployment_base: link("deploymentBase")?,
        installed_base: link("installedBase")?,
        config_data: link("configData")?,
        cancel_action: link("cancelAction")?,
        confirmation_base: link("confirmationBase")?,
    })
}

fn parse_hms(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let two = |i: usize| -> Option<u32> {
        let (h, l) = (b[i], b[i + 1]);
        (h.is_ascii_digit() && l.is_ascii_digit())
            .then(|| u32::from(h - b'0') * 10 + u32::from(l - b'0'))
    };
    let (h, m, sec) = (two(0)?, two(3)?, two(6)?);
    (m < 60 && sec < 60).then_some(h * 3600 + m * 60 + sec)
}

/// `skip`, `attempt` or `forced`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Handling {
    /// Not yet.
    Skip,
    /// The server asks; the device may decide.
    Attempt,
    /// The server requires it now.
    Forced,
}

/// Whether the installation may happen now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MaintenanceWindow {
    /// Inside a window: install.
    Available,
    /// Outside: download only, install later.
    Unavailable,
}

/// A deployment (update action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentBase {
    /// Action id.
    pub id: String,
    /// Download handling (absent: as `forced`, per hawkBit's clients).
    pub download: Option<Handling>,
    /// Update handling.
    pub update: Option<Handling>,
    /// Maintenance window state, when the action has a schedule.
    pub maintenance_window: Option<MaintenanceWindow>,
    /// Software modules to install.
    pub chunks: Vec<Chunk>,
    /// `actionHistory.messages`, when the request asked for them.
    pub history: Vec<String>,
}

/// One software module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chunk {
    /// Module type, e.g. `os`, `bApp`.
    pub part: String,
    /// Module version.
    pub version: String,
    /// Module name.
    pub name: String,
    /// Whether the artifacts are encrypted.
    pub encrypted: Option<bool>,
    /// `metadata[]` as key/value pairs.
    pub metadata: Vec<(String, String)>,
    /// Files.
    pub artifacts: Vec<Artifact>,
}

/// One file of a software module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    /// File name (no directory part).
    pub filename: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-1, when sent.
    pub sha1: Option<ExpectedDigest>,
    /// MD5, when sent.
    pub md5: Option<ExpectedDigest>,
    /// SHA-256, when sent.
    pub sha256: Option<ExpectedDigest>,
    /// The checked download URL (supports Range requests).
    pub download_url: String,
}

impl Artifact {
    /// The strongest hash sent: SHA-256, else SHA-1, else MD5 (parsing guarantees one).
    pub fn best_hash(&self) -> Option<&ExpectedDigest> {
        self.sha256
            .as_ref()
            .or(self.sha1.as_ref())
            .or(self.md5.as_ref())
    }
}

/// Parse `GET …/deploymentBase/{actionId}`. Entry point for fuzzing.
pub fn parse_deployment_base(bytes: &[u8]) -> Result<DeploymentBase, ManifestError> {
    let doc = parse_document(bytes)?;
    let root = Node::root(&doc).obj()?;
    let id = root.req("id")?.text(64)?.to_string();
    let dep = root.req("deployment")?.obj()?;
    let handling = [
        ("skip", Handling::Skip),
        ("attempt", Handling::Attempt),
        ("forced", Handling::Forced),
    ];
    let download = dep
        .opt("download")
        .map(|n| n.one_of(&handling))
        .transpose()?;
    let update = dep.opt("update").map(|n| n.one_of(&handling)).transpose()?;
    let windows = [
        ("available", MaintenanceWindow::Available),
        ("unavailable", MaintenanceWindow::Unavailable),
    ];
    let maintenance_window = dep
        .opt("maintenanceWindow")
        .map(|n| n.one_of(&windows))
        .transpose()?;
    let mut chunks = Vec::new();
    for c in dep.req("chunks")?.arr_max(MAX_CHUNKS)? {
        chunks.push(parse_chunk(&c.obj()?)?);
    }
    let mut history = Vec::new();
    if let Some(h) = root.opt("actionHistory") {
        if let Some(m) = h.obj()?.opt("messages") {
            for msg in m.arr_max(1000)? {
                history.push(msg.str()?.to_string());
            }
        }
    }
    Ok(DeploymentBase {
        id,
        download,
        update,
        maintenance_window,
        chunks,
        history,
    })
}

fn parse_chunk(c: &Obj<'_>) -> Result<Chunk, ManifestError> {
    let mut metadata = Vec::new();
    if let Some(m) = c.opt("metadata") {
        for item in m.arr_max(256)? {
            let o = item.obj()?;
            metadata.push((
                o.req("key")?.str()?.to_string(),
                o.req("value")?.str()?.to_string(),
            ));
        }
    }
    let mut artifacts = Vec::new();
    if let Some(a) = c.opt("artifacts") {
        for item in a.arr_max(MAX_CHUNKS)? {
            artifacts.push(parse_artifact(&item.obj()?)?);
        }
    }
    Ok(Chunk {
        part: c.req("part")?.text(128)?.into(),
        version: c
            .req("version")?
            .text(crate::version::MAX_VERSION_LEN)?
            .into(),
        name: c.req("name")?.text(256)?.into(),
        encrypted: c.opt("encrypted").map(|n| n.bool()).transpose()?,
        metadata,
        artifacts,
    })
}

fn parse_artifact(a: &Obj<'_>) -> Result<Artifact, ManifestError> {
    let name_node = a.req("filename")?;
    let filename = name_node.text(255)?;
    if filename.contains(['/', '\\']) || filename == "." || filename == ".." {
        return Err(name_node.err(ErrorKind::UnsafePath {
            message: format!("{filename:?} is not a plain file name"),
        }));
    }
    let hashes = a.req("hashes")?.obj()?;
    let hash = |key: &str, alg| hashes.opt(key).map(|n| hash_at(&n, alg)).transpose();
    let (sha1, md5, sha256) = (
        hash("sha1", Algorithm::Sha1)?,
        hash("md5", Algorithm::Md5)?,
        hash("sha256", Algorithm::Sha256)?,
    );
    if sha1.is_none() && md5.is_none() && sha256.is_none() {
        return Err(hashes.err(super::invalid(
            "no sha256, sha1 or md5: the download could not be verified",
        )));
    }
    let links = a.req("_links")?.obj()?;
    let href = |key: &str| links.opt(key).map(|l| l.obj().and_then(|o| o.req("href")));
    let download_url = match (
        href("download").transpose()?,
        href("download-http").transpose()?,
    ) {
        (Some(h), _) => url_at(&h, None)?,
        (None, Some(h)) => url_at(&h, None)?,
        (None, None) => {
            return Err(ManifestError::new(
                links.child_path("download"),
                ErrorKind::Missing,
            ))
        }
    };
    Ok(Artifact {
        filename: filename.into(),
        size: size_at(&a.req("size")?)?,
        sha1,
        md5,
        sha256,
        download_url: download_url.into(),
    })
}

/// `status.execution`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Execution {
    /// Finished (with `finished` success or failure).
    Closed,
    /// Working on it.
    Proceeding,
    /// Cancellation confirmed.
    Canceled,
    /// Scheduled.
    Scheduled,
    /// Refused for now (the server records a warning).
    Rejected,
    /// Continued after a reset.
    Resumed,
    /// Artifacts downloaded.
    Downloaded,
    /// Downloading.
    Download,
}

/// `status.result.finished`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Finished {
    /// Succeeded.
    Success,
    /// Failed.
    Failure,
    /// Not decided (yet).
    None,
}

/// `status.result.progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Steps done.
    pub cnt: u32,
    /// Steps in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub of: Option<u32>,
}

/// `status.result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedbackResult {
    /// The final result (key `finished`, not `final`).
    pub finished: Finished,
    /// Progress, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
}

/// `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedbackStatus {
    /// Execution state.
    pub execution: Execution,
    /// Result.
    pub result: FeedbackResult,
    /// Optional device-specific code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// Messages shown in the action history.
    pub details: Vec<String>,
}

/// The body of `POST …/deploymentBase/{actionId}/feedback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Feedback {
    /// Milliseconds since the Unix epoch (the server uses its own clock when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    /// The status.
    pub status: FeedbackStatus,
}

impl Feedback {
    /// A feedback with `execution` and `finished`, no progress, code or details.
    pub fn new(execution: Execution, finished: Finished) -> Self {
        let result = FeedbackResult {
            finished,
            progress: None,
        };
        Self {
            timestamp: None,
            status: FeedbackStatus {
                execution,
                result,
                code: None,
                details: Vec::new(),
            },
        }
    }

    /// `proceeding`, step `cnt` of `of`.
    pub fn proceeding(cnt: u32, of: u32) -> Self {
        Self::new(Execution::Proceeding, Finished::None).with_progress(cnt, Some(of))
    }

    /// `closed` with `success` once the new image booted and confirmed itself.
    pub fn closed_success() -> Self {
        Self::new(Execution::Closed, Finished::Success)
    }

    /// `closed` with `failure`.
    pub fn closed_failure() -> Self {
        Self::new(Execution::Closed, Finished::Failure)
    }

    /// Set the progress.
    pub fn with_progress(mut self, cnt: u32, of: Option<u32>) -> Self {
        self.status.result.progress = Some(Progress { cnt, of });
        self
    }

    /// Set the timestamp (ms since the Unix epoch, from the caller's clock).
    pub fn with_timestamp(mut self, ms: u64) -> Self {
        self.timestamp = Some(ms);
        self
    }

    /// Set the code.
    pub fn with_code(mut self, code: i32) -> Self {
        self.status.code = Some(code);
        self
    }

    /// Add a detail message.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.status.details.push(detail.into());
        self
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Parse a feedback body (to check one recorded from a device or another client).
pub fn parse_feedback(bytes: &[u8]) -> Result<Feedback, ManifestError> {
    let doc = parse_document(bytes)?;
    let root = Node::root(&doc).obj()?;
    let timestamp = root.opt("timestamp").map(|n| n.u64()).transpose()?;
    let st = root.req("status")?.obj()?;
    let execution = st.req("execution")?.one_of(&[
        ("closed", Execution::Closed),
        ("proceeding", Execution::Proceeding),
        ("canceled", Execution::Canceled),
        ("scheduled", Execution::Scheduled),
        ("rejected", Execution::Rejected),
        ("resumed", Execution::Resumed),
        ("downloaded", Execution::Downloaded),
        ("download", Execution::Download),
    ])?;
    let res = st.req("result")?.obj()?;
    if res.has("final") && !res.has("finished") {
        return Err(ManifestError::new(
            res.child_path("final"),
            super::invalid(
                "hawkBit reads \"finished\", not \"final\" (the Javadoc example is wrong)",
            ),
        ));
    }
    let finished = res.req("finished")?.one_of(&[
        ("success", Finished::Success),
        ("failure", Finished::Failure),
        ("none", Finished::None),
    ])?;
    let progress = match res.opt("progress") {
        None => None,
        Some(p) => {
            let o = p.obj()?;
            let cnt = o.req("cnt")?.int_in(0, i32::MAX.into())? as u32;
            let of = o
                .opt("of")
                .map(|n| n.int_in(0, i32::MAX.into()).map(|v| v as u32))
                .transpose()?;
            if of.is_some_and(|of| cnt > of) {
                return Err(p.invalid(format!("cnt {cnt} is more than of {}", of.unwrap_or(0))));
            }
            Some(Progress { cnt, of })
        }
    };
    let code = st
        .opt("code")
        .map(|n| n.int_in(i32::MIN.into(), i32::MAX.into()).map(|v| v as i32))
        .transpose()?;
    let mut details = Vec::new();
    if let Some(d) = st.opt("details") {
        for item in d.arr_max(1000)? {
            details.push(item.str()?.to_string());
        }
    }
    Ok(Feedback {
        timestamp,
        status: FeedbackStatus {
            execution,
            result: FeedbackResult { finished, progress },
            code,
            details,
        },
    })
}
