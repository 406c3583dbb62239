//! ESP Web Tools manifest: `{name, version?, new_install_prompt_erase?, builds[{chipFamily,
//! improv?, parts[{path, offset}]}]}`. Part paths are URLs relative to the manifest's own URL
//! (`../firmware/x.bin` is common); [`parse_at`] resolves and checks them all, [`parse`] keeps
//! relative ones unresolved. [`EspWebToolsManifest::build_for`] picks the build for the chip the
//! ROM loader reported.

use super::json::{parse_document, Node};
use super::safety::{check_url, parse_url};
use super::{ErrorKind, ManifestError};
use crate::version::MAX_VERSION_LEN;
use serde::Serialize;
use std::collections::BTreeSet;
use url::Url;

/// Most builds in one manifest.
pub const MAX_BUILDS: usize = 32;
/// Most parts in one build.
pub const MAX_PARTS: usize = 16;

/// An ESP Web Tools manifest, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EspWebToolsManifest {
    /// Product name.
    pub name: String,
    /// Firmware version, when given.
    pub version: Option<String>,
    /// Whether the installer should offer to erase the flash first.
    pub new_install_prompt_erase: Option<bool>,
    /// One build per chip family.
    pub builds: Vec<Build>,
}

/// The images for one chip family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Build {
    /// `ESP32`, `ESP32-S3`, `ESP8266`, … as ESP Web Tools names them.
    pub chip_family: String,
    /// Whether the firmware speaks Improv Wi-Fi after flashing.
    pub improv: Option<bool>,
    /// Images and where they go, in manifest order.
    pub parts: Vec<Part>,
}

/// One image and its flash offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Part {
    /// The path as written in the manifest.
    pub path: String,
    /// Flash offset in bytes.
    pub offset: u32,
    /// The absolute, checked URL: set when the path is absolute or the manifest URL was given.
    pub url: Option<String>,
}

/// No build in the manifest matches the chip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("this manifest has no build for {chip}; it has builds for {}", available.join(", "))]
pub struct NoBuild {
    /// The chip asked for.
    pub chip: String,
    /// The chip families the manifest has.
    pub available: Vec<String>,
}

/// Parse a manifest; relative part paths are kept unresolved. Entry point for fuzzing.
pub fn parse(bytes: &[u8]) -> Result<EspWebToolsManifest, ManifestError> {
    parse_inner(bytes, None)
}

/// Parse a manifest fetched from `manifest_url`, resolving and checking every part's URL.
pub fn parse_at(bytes: &[u8], manifest_url: &str) -> Result<EspWebToolsManifest, ManifestError> {
    let base = parse_url(manifest_url, None).map_err(|message| {
        ManifestError::new("(manifest URL)", ErrorKind::UnsafeUrl { message })
    })?;
    parse_inner(bytes, Some(&base))
}

/// The chip families ESP Web Tools knows, as it spells them.
const CHIP_FAMILIES: [&str; 11] = [
    "ESP32",
    "ESP32-C2",
    "ESP32-C3",
    "ESP32-C5",
    "ESP32-C6",
    "ESP32-C61",
    "ESP32-H2",
    "ESP32-P4",
    "ESP32-S2",
    "ESP32-S3",
    "ESP8266",
];

fn part_url(
    node: &Node<'_>,
    raw: &str,
    base: Option<&Url>,
) -> Result<Option<String>, ManifestError> {
    let unsafe_url = |message| node.err(ErrorKind::UnsafeUrl { message });
    // Read from a file, a part must sit beside its manifest or below it: a path that climbs
    // out (`..`, also percent-encoded) would reach other files. Fetched, it resolves to a URL
    // on the manifest's server, as ESP Web Tools resolves it, and passes the URL rules.
    let climbs = raw.split(['/', '\\']).any(|seg| {
        seg == ".."
            || seg.eq_ignore_ascii_case("%2e%2e")
            || seg.eq_ignore_ascii_case(".%2e")
            || seg.eq_ignore_ascii_case("%2e.")
    });
    if base.is_none() && (climbs || raw.contains('\\')) {
        return Err(unsafe_url(format!(
            "part path {raw:?} climbs out of the manifest's folder or uses a backslash"
        )));
    }
    if let Some(base) = base {
        return parse_url(raw, Some(base))
            .map(|u| Some(u.into()))
            .map_err(unsafe_url);
    }
    match Url::parse(raw) {
        Ok(url) => check_url(&url)
            .map(|()| Some(url.into()))
            .map_err(unsafe_url),
        Err(url::ParseError::RelativeUrlWithoutBase) => Ok(None),
        Err(e) => Err(unsafe_url(format!("{raw:?} is not a URL ({e})"))),
    }
}

fn parse_inner(bytes: &[u8], base: Option<&Url>) -> Result<EspWebToolsManifest, ManifestError> {
    let doc = parse_document(bytes)?;
    let root = Node::root(&doc).obj()?;
    let name = root.req("name")?.text(200)?.to_string();
    let version = root
        .opt("version")
        .map(|v| v.text(MAX_VERSION_LEN).map(String::from))
        .transpose()?;
    let new_install_prompt_erase = root
        .opt("new_install_prompt_erase")
        .map(|v| v.bool())
        .transpose()?;

    let builds_node = root.req("builds")?;
    let items = builds_node.arr_max(MAX_BUILDS)?;
    if items.is_empty() {
        return Err(builds_node.invalid("a manifest needs at least one build"));
    }
    let mut builds = Vec::new();
    let mut families = BTreeSet::new();
    for item in items {
        let b = item.obj()?;
        let fam_node = b.req("chipFamily")?;
        let chip_family = fam_node.text(32)?.to_string();
        if !CHIP_FAMILIES
            .iter()
            .any(|c| chip_key(c) == chip_key(&chip_family))
        {
            return Err(fam_node.invalid(format!(
                "{chip_family:?} is no chip family ESP Web Tools flashes ({})",
                CHIP_FAMILIES.join(", ")
            )));
        }
        if !families.insert(chip_key(&chip_family)) {
            return Err(fam_node.invalid(format!("a second build for {chip_family}")));
        }
        let improv = b.opt("improv").map(|v| v.bool()).transpose()?;
        let parts_node = b.req("parts")?;
        let part_items = parts_node.arr_max(MAX_PARTS)?;
        if part_items.is_empty() {
            return Err(parts_node.invalid("a build needs at least one part"));
        }
        let mut parts = Vec::new();
        let mut offsets = BTreeSet::new();
        for p in part_items {
            let o = p.obj()?;
            let path_node = o.req("path")?;
            let path = path_node.text(super::safety::MAX_URL_LEN)?.to_string();
            let off_node = o.req("offset")?;
            let offset = u32::try_from(off_node.u64()?)
                .map_err(|_| off_node.invalid("flash offsets must be below 4 GiB"))?;
            if !offsets.insert(offset) {
                return Err(off_node.invalid(format!("two parts at offset {offset:#x}")));
            }
            let url = part_url(&path_node, &path, base)?;
            parts.push(Part { path, offset, url });
        }
        builds.push(Build {
            chip_family,
            improv,
            parts,
        });
    }
    Ok(EspWebToolsManifest {
        name,
        version,
        new_install_prompt_erase,
        builds,
    })
}

/// `ESP32-S3`, `esp32s3` and `ESP32_S3` are the same family.
fn chip_key(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

impl EspWebToolsManifest {
    /// The build for `chip` (as esptool or the ROM loader names it: `ESP32-S3`, `ESP32S3`, …).
    pub fn build_for(&self, chip: &str) -> Result<&Build, NoBuild> {
        let key = chip_key(chip);
        self.builds
            .iter()
            .find(|b| chip_key(&b.chip_family) == key)
            .ok_or_else(|| NoBuild {
                chip: chip.into(),
                available: self.builds.iter().map(|b| b.chip_family.clone()).collect(),
            })
    }
}
