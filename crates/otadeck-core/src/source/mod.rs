//! Installing from a source: what a manifest, job document or deployment offers the module that
//! answered, the downloads it needs with the sizes and hashes they must have, the checks on the
//! source itself, and the jobs that install the checked bytes.
//!
//! The flow is the same in the browser and the CLI, which only fetch and move bytes:
//! 1. fetch the document (and `<url>.sig` when there is one); [`read`] finds its kind from the
//!    content and parses it;
//! 2. [`trust::check_signature`] and [`trust::check_expiry`] decide whether it may run;
//! 3. [`offer`] says what it offers this module ([`ModuleFacts`]), or that the module is up to
//!    date, or that another document must be fetched first ([`Proposal::Fetch`]);
//! 4. every [`Item`] is fetched through a [`download::Download`], which checks the size and each
//!    published hash as the chunks arrive;
//! 5. [`install::prepare`] cross-checks the images against the source and the module (chip,
//!    format, version, anti-rollback) and turns them into the family's jobs;
//! 6. [`report`] words the result in the server's own terms.

pub mod download;
pub mod install;
pub mod report;
pub mod swu;
pub mod trust;

mod offers;

pub use offers::offer;

use serde::Serialize;

use crate::digest::ExpectedDigest;
use crate::family::Family;
use crate::manifest::detect::{self, Document, DocumentKind};
use crate::manifest::ManifestError;
use crate::partition_state::PartitionState;

/// What is known of the module a source is installed on, from its identify session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModuleFacts {
    /// Its family; `None` before one is chosen or found.
    pub family: Option<Family>,
    /// The chip or model it reports (`ESP32`, `ESP32-S3`, `EC600U`).
    pub model: Option<String>,
    /// The firmware version it runs (or boots next, for a chip in its ROM loader).
    pub running_version: Option<String>,
    /// The ESP-IDF `secure_version` of the app it boots, when read.
    pub running_secure_version: Option<u32>,
}

impl ModuleFacts {
    /// Facts from what an identify session reported.
    pub fn from_module(
        info: &crate::module::ModuleInfo,
        partitions: Option<&PartitionState>,
    ) -> Self {
        let booting = partitions.and_then(|p| {
            p.slots
                .iter()
                .find(|s| s.label == p.next_boot)
                .and_then(|s| s.build.as_ref())
        });
        let version = Some(info.firmware_version.trim())
            .filter(|v| !v.is_empty())
            .map(String::from);
        ModuleFacts {
            family: Some(info.family),
            model: Some(info.model.clone()).filter(|m| !m.is_empty()),
            running_version: version,
            running_secure_version: booting.map(|b| b.secure_version),
        }
    }
}

/// A document read from a source, with its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The kind, found from the content.
    pub kind: DocumentKind,
    /// The parsed document.
    pub document: Document,
    /// Where it came from, when fetched (relative URLs in it resolve against this).
    pub url: Option<String>,
}

/// Read a fetched or pasted body: its kind from the content (never the name), then the parse.
pub fn read(bytes: &[u8], url: Option<&str>) -> Result<Loaded, ManifestError> {
    let kind = detect::classify(bytes)?;
    let document = match (kind, &url) {
        (DocumentKind::Pycom, Some(u)) => {
            Document::Pycom(crate::manifest::pycom::parse_with(bytes, Some(u), None)?)
        }
        _ => detect::parse(bytes, kind, url)?,
    };
    Ok(Loaded {
        kind,
        document,
        url: url.map(String::from),
    })
}

/// What a source proposes for a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "proposal", rename_all = "snake_case")]
pub enum Proposal {
    /// Download these items and install them.
    Install(Box<Offer>),
    /// Nothing newer for this module.
    UpToDate {
        /// In words.
        why: String,
    },
    /// Fetch this document first, then offer again (a hawkBit base resource points to its
    /// deployment; a Pycom server needs the module's version in the query).
    Fetch {
        /// The URL to fetch next.
        url: String,
        /// Why, in words, for the log.
        why: String,
    },
    /// Send this first (a hawkBit server asks for the controller's attributes, `configData`),
    /// then fetch `then` and offer again.
    Register {
        /// Where to `PUT` the body.
        url: String,
        /// The JSON body.
        body: String,
        /// What to fetch once it was accepted.
        then: String,
    },
    /// Not now: the server asks to wait (hawkBit `skip`, no deployment yet).
    Wait {
        /// In words.
        why: String,
        /// When to ask again, in seconds, when the server says.
        retry_after: Option<u32>,
    },
}

/// What a source offers a module, before anything is downloaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    /// The kind of document.
    pub kind: DocumentKind,
    /// What it is called: the product, job or action.
    pub title: String,
    /// The version offered, when the source names one.
    pub version: Option<String>,
    /// The downloads, in the order they are installed.
    pub items: Vec<Item>,
    /// Files to delete on the module (Pycom), absolute paths.
    pub delete: Vec<String>,
    /// The source suggests erasing the whole flash first (ESP Web Tools
    /// `new_install_prompt_erase`).
    pub offers_erase: bool,
    /// A whole install: the bootloader and partition table are rewritten (ESP Web Tools).
    pub whole_flash: bool,
    /// The offered version against the running one, when both are known.
    pub version_check: Option<crate::version::UpdateCheck>,
    /// Things the technician should know, in words.
    pub notes: Vec<String>,
    /// How to report the result back.
    pub reporting: Reporting,
}

impl Offer {
    /// A module of `family` can fetch this offer's image itself (QuecPython
    /// `fota.httpDownload`): one image for the update slot, not a bundle to unwrap.
    pub fn module_can_download(&self, family: Option<Family>) -> bool {
        family.is_some_and(|f| f.can(crate::family::JobKind::Download))
            && matches!(self.items.as_slice(), [i] if i.target == Target::App && !i.swu)
    }
}

/// One download and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// What it is, in words (`bootloader.bin`, `/flash/main.py`).
    pub label: String,
    /// Where to download it from (checked by the manifest safety rules).
    pub url: String,
    /// Its size, when the source declares one.
    pub size: Option<u64>,
    /// Every hash the source publishes for it.
    pub digests: Vec<ExpectedDigest>,
    /// Where it goes.
    pub target: Target,
    /// The download is an SWUpdate bundle to unwrap (a `.swu` hawkBit artifact).
    pub swu: bool,
}

/// Where a downloaded item goes on the module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Target {
    /// A flash address (the ESP ROM loader).
    Region {
        /// The address.
        offset: u32,
    },
    /// The family's update slot, chosen as for a file flash.
    App,
    /// A file on the module's file system (Pycom).
    File {
        /// Absolute path.
        path: String,
        /// It replaces a file that exists.
        replaces: bool,
    },
}

impl Target {
    /// Where it goes, in words.
    pub fn describe(&self) -> String {
        match self {
            Target::Region { offset } => format!("flash at {offset:#x}"),
            Target::App => "the update slot".into(),
            Target::File { path, replaces } => {
                format!("{path} ({})", if *replaces { "replaced" } else { "new" })
            }
        }
    }
}

/// How the result goes back to where the source came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Reporting {
    /// Nowhere: the source is a plain manifest.
    None,
    /// AWS IoT job execution updates.
    AwsJob {
        /// The job id, when the document names it.
        job_id: Option<String>,
    },
    /// hawkBit DDI feedback, POSTed to this URL.
    Hawkbit {
        /// `…/deploymentBase/{id}/feedback`.
        feedback_url: String,
        /// The action id.
        action_id: String,
    },
}

/// Why a source cannot be installed on this module. Nothing was sent to the module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{why}")]
pub struct SourceRefusal {
    /// In words, with what to do.
    pub why: String,
}

impl SourceRefusal {
    pub(crate) fn new(why: impl Into<String>) -> Self {
        SourceRefusal { why: why.into() }
    }
}
