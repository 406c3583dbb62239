//! Pycom OTA manifest: the body of `GET /manifest.json?current_ver=X` from Pycom's
//! `OTA_server.py`.
//!
//! Three outcomes the server can give, kept apart:
//! - the JSON literal `null`: the module is up to date ([`PycomResponse::UpToDate`]);
//! - an empty body with status 200: the server crashed after sending its headers (a
//!   non-version folder in its root, or a `current_ver` like `v1.0.0`): [`ErrorKind::Empty`];
//! - a manifest: `{delete[], new[], update[], firmware?, version}` with SHA-1 hashes.
//!
//! Paths must stay under `/flash` or `/sd`; `delete` entries are relative to `/` (the client
//! renames `/<path>` to `/<path>.bak_del`). The server itself serves downgrades, so pass the
//! module's version to [`parse_with`] and check [`PycomManifest::version_check`].

use super::json::{parse_document, Node};
use super::safety::{hash_at, parse_url, path_at, url_at, PYCOM_ROOTS};
use super::{ErrorKind, ManifestError};
use crate::digest::{Algorithm, ExpectedDigest};
use crate::version::{classify_update, UpdateCheck, MAX_VERSION_LEN};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use url::Url;

/// Most entries accepted in each of `delete`, `new` and `update`.
pub const MAX_ENTRIES: usize = 1000;

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PycomResponse {
    /// Body `null`: the module's version is the server's latest.
    UpToDate,
    /// A manifest to apply.
    Update(Box<PycomManifest>),
}

/// A Pycom OTA manifest, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PycomManifest {
    /// The version the module will report after the update.
    pub version: String,
    /// Files to remove, as absolute normalised paths.
    pub delete: Vec<String>,
    /// Files to create.
    pub new: Vec<PycomFile>,
    /// Files to replace.
    pub update: Vec<PycomFile>,
    /// A firmware image, when the server has a newer one.
    pub firmware: Option<PycomFirmware>,
    /// The update classified against the module's version, when [`parse_with`] was given it.
    pub version_check: Option<UpdateCheck>,
}

/// One file to download to the module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PycomFile {
    /// Where to download it from.
    pub url: String,
    /// Where it goes on the module (absolute, normalised, under `/flash` or `/sd`).
    pub dst_path: String,
    /// SHA-1 of the whole file.
    pub sha1: ExpectedDigest,
}

/// The firmware image. The Pycom client never checks its hash; otadeck does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PycomFirmware {
    /// Where to download it from.
    pub url: String,
    /// SHA-1 of the image.
    pub sha1: ExpectedDigest,
}

/// Parse a manifest body whose URLs are absolute. Entry point for fuzzing.
pub fn parse(body: &[u8]) -> Result<PycomResponse, ManifestError> {
    parse_with(body, None, None)
}

/// Parse a manifest body; relative URLs resolve against `manifest_url`, and the manifest's version
/// is classified against `current_version` (the version the module reports).
pub fn parse_with(
    body: &[u8],
    manifest_url: Option<&str>,
    current_version: Option<&str>,
) -> Result<PycomResponse, ManifestError> {
    let base = manifest_url
        .map(|u| parse_url(u, None))
        .transpose()
        .map_err(|message| {
            ManifestError::new("(manifest URL)", ErrorKind::UnsafeUrl { message })
        })?;
    let doc = parse_document(body)?;
    if doc == Value::Null {
        return Ok(PycomResponse::UpToDate);
    }
    let root = Node::root(&doc).obj()?;
    let version = root.req("version")?.text(MAX_VERSION_LEN)?.to_string();

    let mut written = BTreeSet::new();
    let mut files = |key: &str| -> Result<Vec<PycomFile>, ManifestError> {
        let Some(list) = root.opt(key) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for item in list.arr_max(MAX_ENTRIES)? {
            let o = item.obj()?;
            let dst = o.req("dst_path")?;
            let dst_path = path_at(&dst, PYCOM_ROOTS, false)?;
            if !written.insert(dst_path.clone()) {
                return Err(dst.invalid(format!("{dst_path} is listed twice")));
            }
            out.push(PycomFile {
                url: url_at(&o.req("URL")?, base.as_ref())?.into(),
                dst_path,
                sha1: hash_at(&o.req("hash")?, Algorithm::Sha1)?,
            });
        }
        Ok(out)
    };
    let new = files("new")?;
    let update = files("update")?;

    let mut delete = Vec::new();
    if let Some(list) = root.opt("delete") {
        for item in list.arr_max(MAX_ENTRIES)? {
            let path = path_at(&item, PYCOM_ROOTS, true)?;
            if written.contains(&path) {
                return Err(item.invalid(format!("{path} is both written and deleted")));
            }
            delete.push(path);
        }
    }

    let firmware = match root.opt("firmware") {
        None => None,
        Some(fw) => {
            let o = fw.obj()?;
            Some(PycomFirmware {
                url: url_at(&o.req("URL")?, base.as_ref())?.into(),
                sha1: hash_at(&o.req("hash")?, Algorithm::Sha1)?,
            })
        }
    };

    let version_check = current_version.map(|cur| classify_update(cur, &version));
    Ok(PycomResponse::Update(Box::new(PycomManifest {
        version,
        delete,
        new,
        update,
        firmware,
        version_check,
    })))
}

impl PycomManifest {
    /// Every download, files first then the firmware: `(url, destination or "firmware", sha1)`.
    pub fn downloads(&self) -> Vec<(&str, &str, &ExpectedDigest)> {
        let files = self.new.iter().chain(&self.update);
        let mut out: Vec<_> = files
            .map(|f| (f.url.as_str(), f.dst_path.as_str(), &f.sha1))
            .collect();
        if let Some(fw) = &self.firmware {
            out.push((fw.url.as_str(), "firmware", &fw.sha1));
        }
        out
    }

    /// The manifest URL for a module: `manifest.json?current_ver=<version>` under `server`.
    pub fn request_url(server: &Url, current_version: &str) -> Option<Url> {
        let mut url = server.join("manifest.json").ok()?;
        url.query_pairs_mut()
            .clear()
            .append_pair("current_ver", current_version);
        Some(url)
    }
}
