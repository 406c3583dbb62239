//! What each kind of document offers a module: [`offer`].

use url::Url;

use super::{Item, Loaded, ModuleFacts, Offer, Proposal, Reporting, SourceRefusal, Target};
use crate::family::{Family, JobKind};
use crate::manifest::aws_job::{Job as AwsJob, JobDocument};
use crate::manifest::detect::{Document, DocumentKind};
use crate::manifest::esp_web_tools::EspWebToolsManifest;
use crate::manifest::hawkbit::{ControllerBase, DeploymentBase, Handling, MaintenanceWindow};
use crate::manifest::pycom::PycomResponse;
use crate::version::classify_update;

/// Where the chip's boot code ends: a part below it rewrites the bootloader or partition table.
const BOOT_AREA_END: u32 = 0x10000;

/// What `loaded` offers the module described by `facts`.
pub fn offer(loaded: &Loaded, facts: &ModuleFacts) -> Result<Proposal, SourceRefusal> {
    let url = loaded.url.as_deref();
    match &loaded.document {
        Document::EspWebTools(m) => esp_web_tools(m, facts).map(|o| Proposal::Install(Box::new(o))),
        Document::AwsJob(j) => aws_job(j, facts).map(|o| Proposal::Install(Box::new(o))),
        Document::Pycom(r) => pycom(r, url, facts),
        Document::HawkbitController(c) => Ok(hawkbit_controller(c, url, facts)),
        Document::HawkbitDeployment(d) => hawkbit_deployment(d, url, facts),
        Document::CampaignPlan(p) => Err(SourceRefusal::new(format!(
            "this is a valid campaign plan ({}: {} package{}, target version {}): it describes a \
             fleet, not one install; load the manifest of the package for this module instead",
            p.name,
            p.packages.len(),
            if p.packages.len() == 1 { "" } else { "s" },
            p.target_version
        ))),
        Document::HawkbitFeedback(_) => Err(SourceRefusal::new(
            "this is a hawkBit feedback message (what a device sends back), not something to \
             install: load the controller's base URL or its deploymentBase",
        )),
    }
}

/// The module's family, which must flash images (or be `want`, when given).
fn family_for(
    facts: &ModuleFacts,
    what: &str,
    want: Option<Family>,
) -> Result<Family, SourceRefusal> {
    let Some(family) = facts.family else {
        return Err(SourceRefusal::new(format!(
            "connect the module first: what {what} installs depends on the module that answers"
        )));
    };
    match want {
        Some(w) if w != family => Err(SourceRefusal::new(format!(
            "{what} is for {}, and the module that answered is one of the {}: {}",
            w.devices(),
            family.devices(),
            hint_for(w)
        ))),
        _ if !family.can(JobKind::Flash) => Err(SourceRefusal::new(format!(
            "{} cannot be flashed by otadeck",
            family.devices()
        ))),
        _ => Ok(family),
    }
}

fn hint_for(family: Family) -> &'static str {
    match family {
        Family::EspRom => {
            "hold the board's BOOT button while it resets, then connect it as an ESP32 bootloader"
        }
        Family::Pycom => "connect the Pycom board it was published for",
        _ => "connect the module it was published for",
    }
}

fn version_check(
    facts: &ModuleFacts,
    offered: Option<&str>,
) -> Option<crate::version::UpdateCheck> {
    Some(classify_update(facts.running_version.as_deref()?, offered?))
}

fn file_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or(path)
}

fn esp_web_tools(m: &EspWebToolsManifest, facts: &ModuleFacts) -> Result<Offer, SourceRefusal> {
    let what = "an ESP Web Tools manifest";
    family_for(facts, what, Some(Family::EspRom))?;
    let chip = facts.model.as_deref().unwrap_or("unknown chip");
    let build = m
        .build_for(chip)
        .map_err(|e| SourceRefusal::new(format!("{e}: this firmware is not for this chip")))?;
    let mut items = Vec::new();
    for part in &build.parts {
        let Some(url) = &part.url else {
            return Err(SourceRefusal::new(format!(
                "the part {:?} is a relative path, and the manifest was pasted, so there is no \
                 address to resolve it against: load the manifest from its URL",
                part.path
            )));
        };
        items.push(Item {
            label: file_name(url).to_string(),
            url: url.clone(),
            size: None,
            digests: Vec::new(),
            target: Target::Region {
                offset: part.offset,
            },
            swu: false,
        });
    }
    let whole_flash = build.parts.iter().any(|p| p.offset < BOOT_AREA_END);
    let mut notes = vec![
        "ESP Web Tools manifests publish no hashes: each part is checked by the chip's MD5 once \
         written, and the manifest itself only by a signature"
            .to_string(),
    ];
    if m.new_install_prompt_erase == Some(true) {
        notes.push(
            "the publisher suggests erasing the whole flash first; otadeck writes the parts over \
             the old contents and does not erase the rest, so data partitions (nvs, a file \
             system) keep what they hold"
                .into(),
        );
    }
    if whole_flash {
        notes.push(
            "a whole install: the bootloader and partition table are rewritten and the app boots \
             from the first app partition; an interrupted install leaves the chip in its ROM \
             loader, which always answers, so it can be installed again"
                .into(),
        );
    }
    Ok(Offer {
        kind: DocumentKind::EspWebTools,
        title: format!("{} for {}", m.name, build.chip_family),
        version: m.version.clone(),
        items,
        delete: Vec::new(),
        offers_erase: m.new_install_prompt_erase == Some(true),
        whole_flash,
        version_check: version_check(facts, m.version.as_deref()),
        notes,
        reporting: Reporting::None,
    })
}

fn aws_job(j: &AwsJob, facts: &ModuleFacts) -> Result<Offer, SourceRefusal> {
    family_for(facts, "an AWS IoT job", None)?;
    let mut notes = Vec::new();
    let item = match &j.document {
        JobDocument::Zerynth(z) => {
            notes.push(format!(
                "bytecode slot {} (bc_idx); the presigned URL expires: refresh the job document \
                 if the download is refused",
                z.bc_idx
            ));
            Item {
                label: file_name(&z.bc_url).to_string(),
                url: z.bc_url.clone(),
                size: Some(z.bc_size),
                digests: vec![z.bc_md5.clone()],
                target: Target::App,
                swu: false,
            }
        }
        JobDocument::AfrOta(a) => {
            let [file] = a.files.as_slice() else {
                return Err(SourceRefusal::new(format!(
                    "this FreeRTOS OTA job carries {} files; otadeck installs one image per module",
                    a.files.len()
                )));
            };
            let Some(url) = &file.update_data_url else {
                return Err(SourceRefusal::new(format!(
                    "this FreeRTOS OTA job streams its file over MQTT{}, which otadeck does not \
                     receive: ask for a job with the HTTP data protocol (update_data_url)",
                    a.stream_name
                        .as_deref()
                        .map(|s| format!(" (stream {s})"))
                        .unwrap_or_default()
                )));
            };
            if file.signature_base64.is_some() {
                notes.push(
                    "the file's sig-sha256-ecdsa is checked by the device's OTA agent with its \
                     own certificate; otadeck checks the size"
                        .into(),
                );
            }
            Item {
                label: file.file_path.clone(),
                url: url.clone(),
                size: Some(file.file_size),
                digests: Vec::new(),
                target: Target::App,
                swu: false,
            }
        }
    };
    Ok(Offer {
        kind: DocumentKind::AwsJob,
        title: match &j.job_id {
            Some(id) => format!("AWS IoT job {id}"),
            None => "AWS IoT job document".into(),
        },
        version: None,
        items: vec![item],
        delete: Vec::new(),
        offers_erase: false,
        whole_flash: false,
        version_check: None,
        notes,
        reporting: Reporting::AwsJob {
            job_id: j.job_id.clone(),
        },
    })
}

fn pycom(
    r: &PycomResponse,
    url: Option<&str>,
    facts: &ModuleFacts,
) -> Result<Proposal, SourceRefusal> {
    let what = "a Pycom OTA manifest";
    family_for(facts, what, Some(Family::Pycom))?;
    // The server builds the manifest for the version in the query: ask with the module's own.
    if let (Some(u), Some(running)) = (url.and_then(|u| Url::parse(u).ok()), &facts.running_version)
    {
        let asked = u
            .query_pairs()
            .find(|(k, _)| k == "current_ver")
            .map(|(_, v)| v.into_owned());
        if asked.as_deref() != Some(running.as_str()) {
            // The same document, asked with the module's version (`OTA_server.py` serves
            // `manifest.json`; a static copy may have any name).
            let mut next = u.clone();
            next.query_pairs_mut()
                .clear()
                .append_pair("current_ver", running);
            return Ok(Proposal::Fetch {
                url: next.to_string(),
                why: format!(
                    "asking the Pycom server for what follows {running}, the version the module runs"
                ),
            });
        }
    }
    let m = match r {
        PycomResponse::UpToDate => {
            return Ok(Proposal::UpToDate {
                why: format!(
                    "the Pycom server has nothing newer than {} (it answered null)",
                    facts
                        .running_version
                        .as_deref()
                        .unwrap_or("the module's version")
                ),
            })
        }
        PycomResponse::Update(m) => m,
    };
    let file = |f: &crate::manifest::pycom::PycomFile, replaces: bool| Item {
        label: f.dst_path.clone(),
        url: f.url.clone(),
        size: None,
        digests: vec![f.sha1.clone()],
        target: Target::File {
            path: f.dst_path.clone(),
            replaces,
        },
        swu: false,
    };
    let mut items: Vec<Item> = m.new.iter().map(|f| file(f, false)).collect();
    items.extend(m.update.iter().map(|f| file(f, true)));
    let mut notes = Vec::new();
    if let Some(fw) = &m.firmware {
        items.push(Item {
            label: format!("firmware {}", file_name(&fw.url)),
            url: fw.url.clone(),
            size: None,
            digests: vec![fw.sha1.clone()],
            target: Target::App,
            swu: false,
        });
        notes.push(
            "the files are installed first, all or nothing; then the firmware, whose SHA-1 \
             otadeck checks (Pycom's own client does not)"
                .to_string(),
        );
    }
    Ok(Proposal::Install(Box::new(Offer {
        kind: DocumentKind::Pycom,
        title: "Pycom OTA manifest".into(),
        version: Some(m.version.clone()),
        items,
        delete: m.delete.clone(),
        offers_erase: false,
        whole_flash: false,
        version_check: version_check(facts, Some(&m.version)),
        notes,
        reporting: Reporting::None,
    })))
}

fn hawkbit_controller(c: &ControllerBase, base: Option<&str>, facts: &ModuleFacts) -> Proposal {
    // The server asks for the controller's attributes first (goosebit registers a controller
    // this way, and offers it nothing before).
    if let (Some(url), Some(base)) = (&c.config_data, base) {
        let mut data = serde_json::Map::new();
        let mut put = |k: &str, v: Option<&str>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                data.insert(k.into(), serde_json::Value::String(v.into()));
            }
        };
        put("sw_version", facts.running_version.as_deref());
        put("module_model", facts.model.as_deref());
        put("module_family", facts.family.map(Family::key));
        put("updated_by", Some("otadeck"));
        let body = serde_json::json!({"mode": "merge", "data": data});
        return Proposal::Register {
            url: url.clone(),
            body: body.to_string(),
            then: base.to_string(),
        };
    }
    if let Some(url) = &c.deployment_base {
        return Proposal::Fetch {
            url: url.clone(),
            why: "the hawkBit server has a deployment for this controller".into(),
        };
    }
    if c.cancel_action.is_some() {
        return Proposal::Wait {
            why: "the hawkBit server cancels the action it had for this controller; there is \
                  nothing to install"
                .into(),
            retry_after: Some(c.polling_seconds),
        };
    }
    Proposal::Wait {
        why: format!(
            "the hawkBit server has no deployment for this controller; it asks to poll again in {}",
            c.polling_sleep
        ),
        retry_after: Some(c.polling_seconds),
    }
}

fn hawkbit_deployment(
    d: &DeploymentBase,
    url: Option<&str>,
    facts: &ModuleFacts,
) -> Result<Proposal, SourceRefusal> {
    family_for(facts, "a hawkBit deployment", None)?;
    if d.download == Some(Handling::Skip) {
        return Ok(Proposal::Wait {
            why: format!(
                "the hawkBit server says to skip action {} for now (download: skip)",
                d.id
            ),
            retry_after: None,
        });
    }
    let mut notes = Vec::new();
    match d.update {
        Some(Handling::Skip) => {
            return Ok(Proposal::Wait {
                why: format!("the hawkBit server allows the download of action {} but not the install yet (update: skip)", d.id),
                retry_after: None,
            })
        }
        Some(Handling::Attempt) => notes.push("the server asks to install (attempt): you may decline".to_string()),
        Some(Handling::Forced) | None => notes.push("the server requires the install (forced)".into()),
    }
    if d.maintenance_window == Some(MaintenanceWindow::Unavailable) {
        return Ok(Proposal::Wait {
            why: format!(
                "action {} is outside its maintenance window: install it when the window opens",
                d.id
            ),
            retry_after: None,
        });
    }
    let artifacts: Vec<_> = d
        .chunks
        .iter()
        .flat_map(|c| c.artifacts.iter().map(move |a| (c, a)))
        .filter(|(_, a)| !a.filename.ends_with(".sig") && !a.filename.ends_with(".asc"))
        .collect();
    let [(chunk, artifact)] = artifacts.as_slice() else {
        let names: Vec<&str> = artifacts.iter().map(|(_, a)| a.filename.as_str()).collect();
        return Err(SourceRefusal::new(format!(
            "action {} has {} artifacts ({}); otadeck installs one image per module",
            d.id,
            names.len(),
            names.join(", ")
        )));
    };
    let digests = [&artifact.sha256, &artifact.sha1, &artifact.md5]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    let reporting = match url {
        Some(u) => Reporting::Hawkbit {
            feedback_url: feedback_url(u),
            action_id: d.id.clone(),
        },
        None => {
            notes.push("pasted, so no feedback can be sent: load the deployment from its URL to report back".into());
            Reporting::None
        }
    };
    Ok(Proposal::Install(Box::new(Offer {
        kind: DocumentKind::HawkbitDeployment,
        title: format!("hawkBit action {}: {} {}", d.id, chunk.name, chunk.version),
        version: Some(chunk.version.clone()),
        items: vec![Item {
            label: artifact.filename.clone(),
            url: artifact.download_url.clone(),
            size: Some(artifact.size),
            digests,
            target: Target::App,
            swu: artifact.filename.to_ascii_lowercase().ends_with(".swu"),
        }],
        delete: Vec::new(),
        offers_erase: false,
        whole_flash: false,
        version_check: version_check(facts, Some(&chunk.version)),
        notes,
        reporting,
    })))
}

/// `…/deploymentBase/{id}?c=…` → `…/deploymentBase/{id}/feedback`.
fn feedback_url(deployment: &str) -> String {
    let base = deployment.split(['?', '#']).next().unwrap_or(deployment);
    format!("{}/feedback", base.trim_end_matches('/'))
}
