//! The otadeck campaign plan, format version 1 (`docs/campaign-plan.md`,
//! `docs/campaign-plan-v1.schema.json`).
//!
//! Our own format, modelled on cellular-module upgrade plans: a target version, components with
//! unique ids, packages (full, or delta from a source version) of at most five files, a whitelist
//! and a blacklist (the blacklist wins), a fixed UTC offset and a daily push window, silent or
//! manual mode, a strategy (minimum battery, signal and free space) and release notes by language.
//! [`CampaignPlan::eligibility`] answers whether a module may take the update now.

mod eligibility;
pub mod time;

pub use eligibility::{ChosenUpdate, Eligibility, ModuleReport, Reason, ReasonCode};
pub use time::{Date, LocalTime, PushWindow, UtcOffset};

use super::json::{parse_document, Node, Obj};
use super::safety::{hash_at, path_at, size_at, url_at, MAX_FILES_PER_PACKAGE};
use super::{invalid, ErrorKind, ManifestError};
use crate::digest::{Algorithm, ExpectedDigest};
use crate::version::MAX_VERSION_LEN;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The value of `format`.
pub const FORMAT: &str = "otadeck-campaign-plan";
/// The format version this build reads.
pub const VERSION: u64 = 1;
/// Top-level fields a version 1 plan must have (the JSON Schema lists the same).
pub const REQUIRED_FIELDS: &[&str] = &[
    "format",
    "version",
    "id",
    "name",
    "target_version",
    "components",
    "packages",
    "mode",
];
/// Where a plan may put files on a module (QuecPython's `/usr`, MicroPython's `/flash` and `/sd`).
pub const PLAN_ROOTS: &[&str] = &["/usr", "/flash", "/sd"];
/// Most components in a plan.
pub const MAX_COMPONENTS: usize = 16;
/// Most packages in a plan.
pub const MAX_PACKAGES: usize = 32;
/// Most entries in the whitelist or the blacklist.
pub const MAX_LIST: usize = 100_000;

/// A checked campaign plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignPlan {
    /// Plan id (1–64 of `A-Z a-z 0-9 . _ -`).
    pub id: String,
    /// Name shown to people.
    pub name: String,
    /// The version components reach (unless a component says otherwise).
    pub target_version: String,
    /// Module models the plan applies to (empty: any).
    pub models: Vec<String>,
    /// Components, each with its resolved target version.
    pub components: Vec<Component>,
    /// Packages, each tied to one component.
    pub packages: Vec<Package>,
    /// Module identities allowed (empty: any).
    pub whitelist: BTreeSet<String>,
    /// Module identities refused; wins over the whitelist.
    pub blacklist: BTreeSet<String>,
    /// The offset the push window is written in.
    pub timezone: UtcOffset,
    /// When the plan may push (absent: any time).
    pub push_window: Option<PushWindow>,
    /// Silent (install without asking) or manual (a person confirms).
    pub mode: Mode,
    /// Device preconditions.
    pub strategy: Strategy,
    /// Release notes by language tag.
    pub release_notes: BTreeMap<String, String>,
    /// Where each module's result is reported.
    pub report: ReportTo,
}

/// Where a plan's results go. Each is optional; with neither, the records stay in the browser
/// (and its exports).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ReportTo {
    /// POST each module's result, per component, as JSON.
    pub url: Option<String>,
    /// Record each updated module in hawkBit as a manual offline update.
    pub hawkbit: Option<HawkbitOffline>,
}

/// A hawkBit server that records modules updated outside it (Management API
/// `POST /rest/v1/distributionsets/{id}/assignedTargets?offline=true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HawkbitOffline {
    /// The server's base URL (`https://hawkbit.example.com`).
    pub base: String,
    /// The distribution set the plan installs.
    pub distribution_set: u64,
}

/// Something on the module with its own version (firmware, application, MCU image).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    /// Unique id; the key of the module's reported versions.
    pub id: String,
    /// Name shown to people.
    pub name: Option<String>,
    /// The version this plan brings it to.
    pub target_version: String,
}

/// Full image, or a delta from one source version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageType {
    /// Installs over any older version.
    Full,
    /// Installs only over `source_version`.
    Delta,
}

/// A set of files that moves one component to its target version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// Full or delta.
    #[serde(rename = "type")]
    pub kind: PackageType,
    /// The component it updates.
    pub component: String,
    /// For a delta: the exact version it applies to.
    pub source_version: Option<String>,
    /// One to five files.
    pub files: Vec<PlanFile>,
}

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanFile {
    /// Where to download it (https).
    pub url: String,
    /// Size in bytes (1 to 100 MiB).
    pub size: u64,
    /// SHA-256, when given.
    pub sha256: Option<ExpectedDigest>,
    /// SHA-1, when given.
    pub sha1: Option<ExpectedDigest>,
    /// MD5, when given.
    pub md5: Option<ExpectedDigest>,
    /// Where it goes.
    #[serde(flatten)]
    pub target: FileTarget,
}

impl PlanFile {
    /// The strongest hash given (parsing guarantees one).
    pub fn best_hash(&self) -> Option<&ExpectedDigest> {
        self.sha256
            .as_ref()
            .or(self.sha1.as_ref())
            .or(self.md5.as_ref())
    }
}

/// A file goes to a path on the module's file system, or plays a role (e.g. `firmware` for a
/// FOTA image written through the module's update API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileTarget {
    /// Absolute, normalised path under one of [`PLAN_ROOTS`].
    Destination(String),
    /// 1–32 of `a-z 0-9 _ -`.
    Role(String),
}

/// How the update is started on the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Install without asking.
    Silent,
    /// A person confirms first.
    Manual,
}

/// Device preconditions; each is optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Strategy {
    /// Minimum battery level, 0–100 %.
    pub min_battery_percent: Option<u8>,
    /// Minimum signal strength, −200 to 0 dBm.
    pub min_signal_dbm: Option<i32>,
    /// Minimum free file system space, bytes.
    pub min_free_bytes: Option<u64>,
}

/// Parse and check a plan. Entry point for fuzzing.
pub fn parse(bytes: &[u8]) -> Result<CampaignPlan, ManifestError> {
    parse_with(bytes, None)
}

/// [`parse`] a plan fetched from `base`: a relative file URL resolves against it.
pub fn parse_with(bytes: &[u8], base: Option<&url::Url>) -> Result<CampaignPlan, ManifestError> {
    let doc = parse_document(bytes)?;
    let root = Node::root(&doc).obj()?;
    let fmt = root.req("format")?;
    if fmt.str()? != FORMAT {
        return Err(fmt.err(ErrorKind::Unsupported {
            message: format!("expected {FORMAT:?}, found {:?}", fmt.str()?),
        }));
    }
    let ver = root.req("version")?;
    if ver.u64()? != VERSION {
        return Err(ver.err(ErrorKind::Unsupported {
            message: format!(
                "plan format version {} is not supported (this otadeck reads version {VERSION})",
                ver.v
            ),
        }));
    }
    let id = ident(&root.req("id")?, 64)?;
    let name = root.req("name")?.text(200)?.to_string();
    let target_version = root
        .req("target_version")?
        .text(MAX_VERSION_LEN)?
        .to_string();
    let mut models = Vec::new();
    if let Some(m) = root.opt("models") {
        for item in m.arr_max(64)? {
            models.push(item.text(64)?.to_string());
        }
    }
    let components = parse_components(&root, &target_version)?;
    let packages = parse_packages(&root, &components, base)?;
    let whitelist = id_list(&root, "whitelist")?;
    let blacklist = id_list(&root, "blacklist")?;
    let timezone = match root.opt("timezone") {
        None if root.has("push_window") => {
            return Err(ManifestError::new(
                root.child_path("timezone"),
                invalid("a push window needs a timezone"),
            ))
        }
        None => UtcOffset::UTC,
        Some(n) => {
            let s = n.str()?;
            UtcOffset::parse(s).map_err(|message| {
                let kind = if message.starts_with("named") {
                    ErrorKind::Unsupported { message }
                } else {
                    invalid(message)
                };
                n.err(kind)
            })?
        }
    };
    let push_window = root
        .opt("push_window")
        .map(|n| parse_window(&n))
        .transpose()?;
    let mode = root
        .req("mode")?
        .one_of(&[("silent", Mode::Silent), ("manual", Mode::Manual)])?;
    let strategy = match root.opt("strategy") {
        None => Strategy::default(),
        Some(n) => {
            let o = n.obj()?;
            Strategy {
                min_battery_percent: o
                    .opt("min_battery_percent")
                    .map(|n| n.int_in(0, 100).map(|v| v as u8))
                    .transpose()?,
                min_signal_dbm: o
                    .opt("min_signal_dbm")
                    .map(|n| n.int_in(-200, 0).map(|v| v as i32))
                    .transpose()?,
                min_free_bytes: o.opt("min_free_bytes").map(|n| n.u64()).transpose()?,
            }
        }
    };
    let mut release_notes = BTreeMap::new();
    if let Some(n) = root.opt("release_notes") {
        let o = n.obj()?;
        if o.map.len() > 64 {
            return Err(n.err(ErrorKind::TooMany {
                found: o.map.len(),
                max: 64,
            }));
        }
        for (lang, text) in o.entries() {
            if !is_lang_tag(lang) {
                return Err(text.invalid(format!(
                    "{lang:?} is not a language tag such as \"en\" or \"zh-CN\""
                )));
            }
            release_notes.insert(lang.clone(), text.text(4000)?.to_string());
        }
    }
    let report = parse_report(&root, base)?;
    Ok(CampaignPlan {
        id,
        name,
        target_version,
        models,
        components,
        packages,
        whitelist,
        blacklist,
        timezone,
        push_window,
        mode,
        strategy,
        release_notes,
        report,
    })
}

fn parse_report(root: &Obj<'_>, base: Option<&url::Url>) -> Result<ReportTo, ManifestError> {
    let Some(n) = root.opt("report") else {
        return Ok(ReportTo::default());
    };
    let o = n.obj()?;
    let url = o
        .opt("url")
        .map(|u| url_at(&u, base).map(String::from))
        .transpose()?;
    let hawkbit = match o.opt("hawkbit") {
        None => None,
        Some(h) => {
            let h = h.obj()?;
            let base_url = url_at(&h.req("base")?, base)?;
            Some(HawkbitOffline {
                base: base_url.as_str().trim_end_matches('/').to_string(),
                distribution_set: h.req("distribution_set")?.u64()?,
            })
        }
    };
    Ok(ReportTo { url, hawkbit })
}

fn ident(n: &Node<'_>, max: usize) -> Result<String, ManifestError> {
    let s = n.str()?;
    let ok = !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        return Err(n.invalid(format!(
            "expected 1 to {max} of A-Z, a-z, 0-9, '.', '_' or '-', found {s:?}"
        )));
    }
    Ok(s.into())
}

fn is_lang_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or("");
    (2..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn id_list(root: &Obj<'_>, key: &str) -> Result<BTreeSet<String>, ManifestError> {
    let mut out = BTreeSet::new();
    if let Some(n) = root.opt(key) {
        for item in n.arr_max(MAX_LIST)? {
            let s = item.text(64)?;
            if s.chars().any(char::is_whitespace) {
                return Err(item.invalid("a module identity has no spaces"));
            }
            out.insert(s.to_string());
        }
    }
    Ok(out)
}

fn parse_components(root: &Obj<'_>, target_version: &str) -> Result<Vec<Component>, ManifestError> {
    let node = root.req("components")?;
    let items = node.arr_max(MAX_COMPONENTS)?;
    if items.is_empty() {
        return Err(node.invalid("a plan needs at least one component"));
    }
    let mut out: Vec<Component> = Vec::new();
    for item in items {
        let o = item.obj()?;
        let id_node = o.req("id")?;
        let id = ident(&id_node, 64)?;
        if out.iter().any(|c| c.id == id) {
            return Err(id_node.invalid(format!("component id {id:?} is used twice")));
        }
        out.push(Component {
            id,
            name: o
                .opt("name")
                .map(|n| n.text(200).map(String::from))
                .transpose()?,
            target_version: match o.opt("target_version") {
                Some(n) => n.text(MAX_VERSION_LEN)?.to_string(),
                None => target_version.to_string(),
            },
        });
    }
    Ok(out)
}

fn parse_packages(
    root: &Obj<'_>,
    components: &[Component],
    base: Option<&url::Url>,
) -> Result<Vec<Package>, ManifestError> {
    let node = root.req("packages")?;
    let items = node.arr_max(MAX_PACKAGES)?;
    let mut out: Vec<Package> = Vec::new();
    for item in items {
        let o = item.obj()?;
        let kind = o
            .req("type")?
            .one_of(&[("full", PackageType::Full), ("delta", PackageType::Delta)])?;
        let component = match o.opt("component") {
            Some(n) => {
                let id = n.str()?;
                if !components.iter().any(|c| c.id == id) {
                    return Err(n.invalid(format!("no component has the id {id:?}")));
                }
                id.to_string()
            }
            None if components.len() == 1 => components[0].id.clone(),
            None => {
                return Err(ManifestError::new(
                    o.child_path("component"),
                    invalid("required when the plan has more than one component"),
                ))
            }
        };
        let target = &components
            .iter()
            .find(|c| c.id == component)
            .map(|c| c.target_version.clone())
            .unwrap_or_default();
        let source_version = match (kind, o.opt("source_version")) {
            (PackageType::Full, None) => None,
            (PackageType::Full, Some(n)) => {
                return Err(n.invalid("only a delta package has a source_version"))
            }
            (PackageType::Delta, None) => {
                return Err(ManifestError::new(
                    o.child_path("source_version"),
                    ErrorKind::Missing,
                ))
            }
            (PackageType::Delta, Some(n)) => {
                let v = n.text(MAX_VERSION_LEN)?.to_string();
                if &v == target {
                    return Err(n.invalid(format!("a delta from {v} to {target} changes nothing")));
                }
                Some(v)
            }
        };
        let clash = out.iter().any(|p| {
            p.component == component && p.kind == kind && p.source_version == source_version
        });
        if clash {
            return Err(item.invalid(match &source_version {
                None => format!("a second full package for {component:?}"),
                Some(v) => format!("a second delta from {v} for {component:?}"),
            }));
        }
        let files = parse_files(&o.req("files")?, base)?;
        out.push(Package {
            kind,
            component,
            source_version,
            files,
        });
    }
    for c in components {
        if !out.iter().any(|p| p.component == c.id) {
            return Err(node.invalid(format!("component {:?} has no package", c.id)));
        }
    }
    Ok(out)
}

fn parse_files(node: &Node<'_>, base: Option<&url::Url>) -> Result<Vec<PlanFile>, ManifestError> {
    let items = node.arr_max(MAX_FILES_PER_PACKAGE)?;
    if items.is_empty() {
        return Err(node.invalid("a package needs at least one file"));
    }
    let mut out: Vec<PlanFile> = Vec::new();
    for item in items {
        let o = item.obj()?;
        let size_node = o.req("size")?;
        let size = size_at(&size_node)?;
        if size == 0 {
            return Err(size_node.invalid("an empty file"));
        }
        let hashes = o.req("hashes")?.obj()?;
        let hash = |key: &str, alg| hashes.opt(key).map(|n| hash_at(&n, alg)).transpose();
        let (sha256, sha1, md5) = (
            hash("sha256", Algorithm::Sha256)?,
            hash("sha1", Algorithm::Sha1)?,
            hash("md5", Algorithm::Md5)?,
        );
        if sha256.is_none() && sha1.is_none() && md5.is_none() {
            return Err(hashes.err(invalid("needs sha256, sha1 or md5")));
        }
        let target = match (o.opt("destination"), o.opt("role")) {
            (Some(d), None) => {
                let path = path_at(&d, PLAN_ROOTS, false)?;
                if out
                    .iter()
                    .any(|f| f.target == FileTarget::Destination(path.clone()))
                {
                    return Err(d.invalid(format!("two files go to {path}")));
                }
                FileTarget::Destination(path)
            }
            (None, Some(r)) => {
                let role = r.str()?;
                let ok = (1..=32).contains(&role.len())
                    && role.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    });
                if !ok {
                    return Err(r.invalid(format!(
                        "expected 1 to 32 of a-z, 0-9, '_' or '-', found {role:?}"
                    )));
                }
                FileTarget::Role(role.into())
            }
            _ => return Err(item.invalid("a file needs exactly one of destination and role")),
        };
        out.push(PlanFile {
            url: url_at(&o.req("url")?, base)?.into(),
            size,
            sha256,
            sha1,
            md5,
            target,
        });
    }
    Ok(out)
}

fn parse_window(n: &Node<'_>) -> Result<PushWindow, ManifestError> {
    let o = n.obj()?;
    let time = |key: &str| -> Result<LocalTime, ManifestError> {
        let t = o.req(key)?;
        LocalTime::parse(t.str()?).map_err(|m| t.invalid(m))
    };
    let date = |key: &str| -> Result<Option<Date>, ManifestError> {
        o.opt(key)
            .map(|d| Date::parse(d.str()?).map_err(|m| d.invalid(m)))
            .transpose()
    };
    let (start, end) = (time("start")?, time("end")?);
    if start == end {
        return Err(n.invalid("start and end are equal; leave push_window out to allow any time"));
    }
    let (from, until) = (date("from")?, date("until")?);
    if let (Some(f), Some(u)) = (from, until) {
        if u < f {
            return Err(ManifestError::new(
                o.child_path("until"),
                invalid(format!("{u} is before from {f}")),
            ));
        }
    }
    Ok(PushWindow {
        start,
        end,
        from,
        until,
    })
}

impl CampaignPlan {
    /// The component with `id`.
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.id == id)
    }

    /// Release notes for the first language of `preferred` the plan has (exact tag, then the same
    /// primary language), else English, else any: `(tag, text)`.
    pub fn notes_for(&self, preferred: &[&str]) -> Option<(&str, &str)> {
        let primary = |t: &str| t.split('-').next().unwrap_or("").to_ascii_lowercase();
        let find = |want: &str| {
            self.release_notes
                .iter()
                .find(|(t, _)| t.eq_ignore_ascii_case(want))
                .or_else(|| {
                    self.release_notes
                        .iter()
                        .find(|(t, _)| primary(t) == primary(want))
                })
        };
        preferred
            .iter()
            .find_map(|p| find(p))
            .or_else(|| find("en"))
            .or_else(|| self.release_notes.iter().next())
            .map(|(t, s)| (t.as_str(), s.as_str()))
    }
}
