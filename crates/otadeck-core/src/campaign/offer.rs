//! What a plan installs on an eligible module, as the same [`Offer`] a manifest makes, so that
//! the download checks and the install are the ones every source goes through.

use crate::family::{Family, JobKind};
use crate::manifest::detect::DocumentKind;
use crate::manifest::plan::{CampaignPlan, ChosenUpdate, FileTarget, PackageType};
use crate::source::{Item, Offer, Reporting, SourceRefusal, Target};

/// The role of a file written through the module's own update API.
pub const FIRMWARE_ROLE: &str = "firmware";

/// The offer for `updates` (from the plan's eligibility) on a module of `family`.
pub fn plan_offer(
    plan: &CampaignPlan,
    updates: &[ChosenUpdate],
    family: Family,
) -> Result<Offer, SourceRefusal> {
    if updates.is_empty() {
        return Err(SourceRefusal::new(
            "the plan has nothing to install on this module",
        ));
    }
    let mut items = Vec::new();
    let mut notes = Vec::new();
    for u in updates {
        let package = &plan.packages[u.package_index];
        notes.push(match (package.kind, &package.source_version) {
            (PackageType::Delta, Some(from)) => format!(
                "{}: a delta package from {from} to {}",
                u.component, u.to_version
            ),
            _ => format!("{}: a full package of {}", u.component, u.to_version),
        });
        for file in &package.files {
            let target = match &file.target {
                FileTarget::Role(role) if role == FIRMWARE_ROLE => Target::App,
                FileTarget::Role(role) => {
                    return Err(SourceRefusal::new(format!(
                        "the plan gives a file the role {role:?}; otadeck installs the role \
                         \"firmware\" (and files with a destination)"
                    )))
                }
                FileTarget::Destination(path) if family.can(JobKind::Files) => Target::File {
                    path: path.clone(),
                    replaces: true,
                },
                FileTarget::Destination(path) => {
                    return Err(SourceRefusal::new(format!(
                        "the plan writes {path}, and otadeck writes files only on {}; this \
                         module is one of the {}",
                        Family::Pycom.devices(),
                        family.devices()
                    )))
                }
            };
            items.push(Item {
                label: file.url.rsplit('/').next().unwrap_or(&file.url).to_string(),
                url: file.url.clone(),
                size: Some(file.size),
                digests: [&file.sha256, &file.sha1, &file.md5]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect(),
                target,
                swu: false,
            });
        }
    }
    if items.iter().filter(|i| i.target == Target::App).count() > 1 {
        return Err(SourceRefusal::new(
            "the plan writes more than one firmware image to this module in one go; otadeck \
             installs one at a time",
        ));
    }
    Ok(Offer {
        kind: DocumentKind::CampaignPlan,
        title: plan.name.clone(),
        version: updates.first().map(|u| u.to_version.clone()),
        items,
        delete: Vec::new(),
        offers_erase: false,
        whole_flash: false,
        version_check: None,
        notes,
        reporting: Reporting::None,
    })
}
