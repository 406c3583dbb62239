//! From checked downloads to the family's jobs: each image cross-checked against what the source
//! claims and what the module runs (chip, version, anti-rollback counter), then grouped into the
//! jobs that install it ([`prepare`]).

use crate::driver::esp_rom::Region;
use crate::driver::pycom::files::FileUpdate;
use crate::family::{Family, FlashOptions, Job};
use crate::image::{self, esp_partition, Image};
use crate::version::{classify_update, UpdateKind};

use super::{swu, ModuleFacts, Offer, SourceRefusal, Target};

/// The jobs that install an offer, and what the cross-checks found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    /// The jobs, in order (files before firmware).
    pub jobs: Vec<Job>,
    /// What each image was checked against, in words, for the log and the record.
    pub checks: Vec<String>,
    /// The reason the technician gave to install an older version, when it is one.
    pub downgrade_reason: Option<String>,
}

/// Why an offer cannot be installed as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepareError {
    /// Refused; nothing was sent to the module.
    #[error(transparent)]
    Refused(#[from] SourceRefusal),
    /// An older version, or a lower anti-rollback counter: it runs only with a reason the
    /// technician types, which the record keeps.
    #[error("{why}: type a reason to install it anyway (the record keeps it)")]
    Downgrade {
        /// What is older, in words.
        why: String,
    },
}

/// Cross-check `images` (one per item of `offer`, in order, checked by their downloads) and
/// group them into jobs. `downgrade_reason` allows an older version when not blank.
pub fn prepare(
    offer: &Offer,
    images: Vec<Vec<u8>>,
    facts: &ModuleFacts,
    downgrade_reason: Option<&str>,
) -> Result<Install, PrepareError> {
    if images.len() != offer.items.len() {
        return Err(SourceRefusal::new(format!(
            "{} images for {} items",
            images.len(),
            offer.items.len()
        ))
        .into());
    }
    let mut checks = Vec::new();
    let mut older = Vec::new();
    if let Some(c) = &offer.version_check {
        match c.kind {
            UpdateKind::Downgrade => older.push(c.to_string()),
            UpdateKind::Same => checks.push(format!(
                "{} is the version the module runs already",
                c.proposed
            )),
            _ => checks.push(c.to_string()),
        }
    }
    let mut parts = Vec::new();
    let mut files = Vec::new();
    let mut apps = Vec::new();
    for (item, data) in offer.items.iter().zip(images) {
        let data = if item.swu {
            let image = swu::unwrap(&data)
                .map_err(|e| SourceRefusal::new(format!("{}: {e}", item.label)))?;
            checks.push(format!(
                "{}: an SWUpdate bundle; its one image ({} bytes) matches the SHA-256 in sw-description",
                item.label,
                image.len()
            ));
            image
        } else {
            data
        };
        if let Target::File { .. } = item.target {
            checks.push(format!("{}: a file of {} bytes", item.label, data.len()));
        } else {
            cross_check(offer, &item.label, &data, facts, &mut checks, &mut older)?;
        }
        match &item.target {
            Target::Region { offset } => parts.push(Region {
                offset: *offset,
                data,
            }),
            Target::App => apps.push(data),
            Target::File { path, replaces } => files.push(FileUpdate {
                path: path.clone(),
                sha1: item
                    .digests
                    .iter()
                    .find(|d| d.algorithm() == crate::digest::Algorithm::Sha1)
                    .map(|d| d.hex())
                    .unwrap_or_default(),
                data,
                replaces: *replaces,
            }),
        }
    }
    let reason = downgrade_reason.map(str::trim).filter(|r| !r.is_empty());
    if !older.is_empty() && reason.is_none() {
        return Err(PrepareError::Downgrade {
            why: older.join("; "),
        });
    }
    if offer.whole_flash {
        reset_otadata(&mut parts, &mut checks);
    }
    let mut jobs = Vec::new();
    if !files.is_empty() || !offer.delete.is_empty() {
        jobs.push(Job::Files {
            files,
            delete: offer.delete.clone(),
        });
    }
    if !parts.is_empty() {
        jobs.push(Job::FlashParts {
            parts,
            options: FlashOptions::default(),
        });
    }
    for image in apps {
        jobs.push(Job::Flash {
            image,
            options: FlashOptions::default(),
        });
    }
    Ok(Install {
        jobs,
        checks,
        downgrade_reason: (!older.is_empty()).then(|| reason.unwrap_or_default().to_string()),
    })
}

/// One image against the source's claims and the module.
fn cross_check(
    offer: &Offer,
    label: &str,
    data: &[u8],
    facts: &ModuleFacts,
    checks: &mut Vec<String>,
    older: &mut Vec<String>,
) -> Result<(), SourceRefusal> {
    match image::detect(data) {
        Image::EspApp(e) => {
            let chip_known = facts.family == Some(Family::EspRom)
                && facts.model.as_deref().is_some_and(|m| m != "unknown chip");
            if chip_known && facts.model.as_deref() != Some(e.chip) {
                return Err(SourceRefusal::new(format!(
                    "{label} is built for the {}, and the chip that answered is an {}: this \
                     source's build does not fit this chip",
                    e.chip,
                    facts.model.as_deref().unwrap_or_default()
                )));
            }
            let Some(app) = e.app else {
                checks.push(format!("{label}: an ESP image for the {}", e.chip));
                return Ok(());
            };
            let mut line = format!(
                "{label}: ESP-IDF app {} {} for the {}, secure_version {}",
                app.project_name, app.version, e.chip, app.secure_version
            );
            if let Some(offered) = &offer.version {
                if app.version.trim() != offered.trim() {
                    line.push_str(&format!(
                        "; note: the source offers {offered}, and the image says {}",
                        app.version
                    ));
                }
            }
            checks.push(line);
            if let Some(running) = facts.running_secure_version {
                if app.secure_version < running {
                    older.push(format!(
                        "{label} has secure_version {}, lower than the {running} of the app the \
                         chip boots: with anti-rollback on, its bootloader refuses it",
                        app.secure_version
                    ));
                }
            }
        }
        Image::McuBoot(m) => {
            let version = m.header.version.to_string();
            checks.push(format!("{label}: MCUboot image {version}"));
            if let Some(running) = &facts.running_version {
                if offer.version.is_none()
                    && classify_update(running, &version).kind == UpdateKind::Downgrade
                {
                    older.push(format!(
                        "{label} is {version}, older than the running {running}"
                    ));
                }
            }
        }
        Image::Invalid { recognised_as, .. } => {
            return Err(SourceRefusal::new(format!(
                "{label} looks like an {} image but is damaged; refused",
                recognised_as.name()
            )))
        }
        other => checks.push(format!("{label}: {}", other.format().name())),
    }
    Ok(())
}

/// A whole install that writes a partition table with an otadata partition also blanks otadata,
/// so the first app partition boots (as `idf.py flash` does with `ota_data_initial.bin`): an
/// otadata left selecting `ota_1` would boot the old app, or nothing.
fn reset_otadata(parts: &mut Vec<Region>, checks: &mut Vec<String>) {
    let table = parts
        .iter()
        .find(|p| p.offset == crate::admission::PARTITION_TABLE_OFFSET)
        .and_then(|p| esp_partition::parse(&p.data).ok());
    let Some(otadata) = table.as_ref().and_then(|t| t.otadata()) else {
        return;
    };
    let (start, end) = (otadata.offset, otadata.offset + otadata.size);
    if parts.iter().any(|p| p.offset >= start && p.offset < end) {
        return;
    }
    checks.push(format!(
        "otadata at {start:#x} is blanked, so the chip boots the first app partition"
    ));
    parts.push(Region {
        offset: start,
        data: vec![0xFF; otadata.size as usize],
    });
}

/// The module downloads the image itself (QuecPython `fota.httpDownload`) from the URL the
/// source gives, once the host checked the same bytes against the source: the jobs of
/// [`prepare`] with each image write replaced by the module's own download, restarted into the
/// new firmware once the module verified it.
pub fn delivered_by_module(mut install: Install, offer: &Offer) -> Result<Install, SourceRefusal> {
    let mut urls = offer
        .items
        .iter()
        .filter(|i| i.target == Target::App)
        .map(|i| i.url.clone());
    for job in &mut install.jobs {
        if let Job::Flash { .. } = job {
            let url1 = urls
                .next()
                .ok_or_else(|| SourceRefusal::new("no URL for the module to download"))?;
            *job = Job::Download {
                url1,
                url2: None,
                restart: true,
            };
        }
    }
    install
        .checks
        .push("the module downloads the image itself from the same URL, and checks it".into());
    Ok(install)
}
