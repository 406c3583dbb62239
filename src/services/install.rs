//! Installing from a source on the connected module: what the source offers this module, the
//! downloads fetched through their checks, the images cross-checked, then each job run as a
//! flash is, with the signature state and any downgrade reason kept in the log and the record.

use otadeck_core::admission::Policy;
use otadeck_core::family::Job;
use otadeck_core::session::LogLevel;
use otadeck_core::source::install::{delivered_by_module, prepare, PrepareError};
use otadeck_core::source::report::{self, Ended};
use otadeck_core::source::{offer, ModuleFacts, Offer, Proposal, Reporting};

use super::device::DeviceSession;
use super::fetcher;
use super::source::{self, Fetching, LoadedSource};

/// Documents followed from one source at the most.
const MAX_HOPS: usize = 5;

/// What a loaded source proposes for a module, after following what it points to (a hawkBit
/// base resource to its deployment, a Pycom server asked with the module's version).
pub async fn resolve(
    mut loaded: LoadedSource,
    facts: &ModuleFacts,
) -> Result<(LoadedSource, Proposal), String> {
    let mut registered = false;
    for _ in 0..MAX_HOPS {
        let next = match offer(&loaded.loaded, facts).map_err(|e| e.why)? {
            Proposal::Fetch { url, .. } => url,
            Proposal::Register { url, body, then } if !registered => {
                registered = true;
                match fetcher::send_json("PUT", &url, &loaded.headers(), &body).await? {
                    200..=299 => then,
                    status => {
                        return Err(format!(
                            "the hawkBit server refused the controller's attributes (HTTP {status} from {url})"
                        ))
                    }
                }
            }
            Proposal::Register { .. } => {
                return Err(
                    "the hawkBit server asks for the controller's attributes again after accepting them"
                        .into(),
                )
            }
            p => return Ok((loaded, p)),
        };
        let (bytes, final_url, sig) = source::fetch_document(&next, loaded.auth.as_deref()).await?;
        let mut doc = source::check(&bytes, Some(&final_url), sig.as_deref(), final_url.clone())?;
        // Each document is judged by its own signature: a signed document that leads to an
        // unsigned one does not make it signed.
        doc.auth = loaded.auth.clone();
        loaded = doc;
    }
    Err("the source leads to more documents than otadeck follows".into())
}

/// How an install ended, for the card.
#[derive(Debug, Clone, PartialEq)]
pub enum Installed {
    /// Every job ended well.
    Done {
        /// The AWS IoT job execution updates to upload, when the source is an AWS job.
        aws_report: Option<String>,
    },
    /// Refused before the module was written, or a job failed.
    Failed {
        /// Why, in words.
        why: String,
        /// It is an older version (or a lower anti-rollback counter): it runs with a reason.
        needs_reason: bool,
        /// The AWS IoT job execution updates to upload, when the source is an AWS job.
        aws_report: Option<String>,
    },
}

impl DeviceSession {
    /// What is known of the connected module, for the source's offer.
    pub fn facts(&self) -> ModuleFacts {
        let view = self.view.get();
        match &view.module {
            Some(m) => ModuleFacts::from_module(m, view.partitions.as_ref()),
            None => ModuleFacts::default(),
        }
    }

    /// Download `offer`'s items, check them and install them; `reason` allows an older version.
    /// The result goes back to the source in its own terms: hawkBit feedback as it happens,
    /// AWS IoT job execution updates as a file.
    pub async fn install(
        &self,
        loaded: &LoadedSource,
        offer: &Offer,
        reason: Option<String>,
        module_downloads: bool,
        mut progress: impl FnMut(usize, Fetching),
    ) -> Installed {
        let mut reports = Reports::new(&offer.reporting, loaded.auth.clone());
        self.log(
            LogLevel::Info,
            format!("Installing {} from {}", offer.title, loaded.origin),
        );
        let level = if loaded.signature.needs_consent() {
            LogLevel::Warn
        } else {
            LogLevel::Info
        };
        self.log(level, format!("Source {}", loaded.signature.describe()));
        reports.proceeding(self, "download", None).await;
        let mut images = Vec::new();
        for (i, item) in offer.items.iter().enumerate() {
            match source::download_with(item, &loaded.headers(), |f| progress(i, f)).await {
                Ok(data) => {
                    self.log(
                        LogLevel::Info,
                        format!(
                            "Fetched {} ({} bytes), every published hash matched",
                            item.label,
                            data.len()
                        ),
                    );
                    images.push(data);
                }
                Err(why) => return self.refuse(&mut reports, why, false).await,
            }
        }
        let facts = self.facts();
        let install = match prepare(offer, images, &facts, reason.as_deref()) {
            Ok(i) => i,
            Err(e) => {
                let needs_reason = matches!(e, PrepareError::Downgrade { .. });
                return self.refuse(&mut reports, e.to_string(), needs_reason).await;
            }
        };
        let install = match module_downloads {
            true => match delivered_by_module(install, offer) {
                Ok(i) => i,
                Err(r) => return self.refuse(&mut reports, r.why, false).await,
            },
            false => install,
        };
        for line in &install.checks {
            self.log(LogLevel::Info, format!("Checked: {line}"));
        }
        if let Some(reason) = &install.downgrade_reason {
            self.log(
                LogLevel::Warn,
                format!("Installing an older version; reason given: {reason}"),
            );
        }
        let version = offer.version.clone().unwrap_or_default();
        let what = format!(
            "{}{} ({})",
            offer.title,
            if version.is_empty() || offer.title.contains(&version) {
                String::new()
            } else {
                format!(" {version}")
            },
            loaded.signature.badge()
        );
        let count = install.jobs.len() as u32;
        for (i, job) in install.jobs.into_iter().enumerate() {
            let total = job_bytes(&job);
            let words = job_words(&job);
            reports
                .proceeding(self, "flash", Some((i as u32, count)))
                .await;
            let intro = format!("Writing {words} ({total} bytes)");
            if !self
                .start_update(job, total, (intro, what.clone()), Policy::default())
                .await
            {
                let why = "the install stopped: see the result card".to_string();
                let report = reports
                    .finish(
                        self,
                        Ended::Failed {
                            reason: why.clone(),
                        },
                    )
                    .await;
                return Installed::Failed {
                    why,
                    needs_reason: false,
                    aws_report: report,
                };
            }
        }
        let running = self
            .view
            .get()
            .module
            .as_ref()
            .map(|m| m.firmware_version.clone())
            .filter(|v| !v.is_empty())
            .unwrap_or(version);
        Installed::Done {
            aws_report: reports
                .finish(self, Ended::Succeeded { version: running })
                .await,
        }
    }

    /// Refused before the module was written: said in the log and reported to the source.
    async fn refuse(&self, reports: &mut Reports, why: String, needs_reason: bool) -> Installed {
        let aws_report = reports
            .finish(
                self,
                Ended::Refused {
                    reason: why.clone(),
                },
            )
            .await;
        self.log(LogLevel::Error, format!("Refused: {why}"));
        Installed::Failed {
            why,
            needs_reason,
            aws_report,
        }
    }
}

fn job_bytes(job: &Job) -> u64 {
    match job {
        // The module reports its own download in percent.
        Job::Download { .. } => 100,
        Job::Flash { image, .. } => image.len() as u64,
        Job::FlashParts { parts, .. } => parts.iter().map(|p| p.data.len() as u64).sum(),
        Job::Files { files, .. } => files.iter().map(|f| f.data.len() as u64).sum(),
        _ => 0,
    }
}

fn job_words(job: &Job) -> String {
    match job {
        Job::FlashParts { parts, .. } => {
            let at: Vec<String> = parts.iter().map(|p| format!("{:#x}", p.offset)).collect();
            format!("{} regions at {}", parts.len(), at.join(", "))
        }
        Job::Files { files, delete } => {
            format!("{} files, {} deletions", files.len(), delete.len())
        }
        _ => "the firmware".into(),
    }
}

/// The reports of one install, in the source's terms.
struct Reports {
    reporting: Reporting,
    aws: Vec<otadeck_core::manifest::aws_job::StatusUpdate>,
    auth: Option<String>,
}

impl Reports {
    fn new(reporting: &Reporting, auth: Option<String>) -> Self {
        Reports {
            reporting: reporting.clone(),
            aws: Vec::new(),
            auth,
        }
    }

    /// A step under way: AWS `IN_PROGRESS` kept, hawkBit `proceeding` sent.
    async fn proceeding(&mut self, device: &DeviceSession, step: &str, of: Option<(u32, u32)>) {
        match &self.reporting {
            Reporting::AwsJob { .. } => self.aws.push(report::aws_in_progress(step)),
            Reporting::Hawkbit { feedback_url, .. } => {
                let body = report::hawkbit_proceeding(step, of).to_json();
                send_feedback(device, feedback_url, self.auth.as_deref(), &body).await;
            }
            Reporting::None => {}
        }
    }

    /// The end: the AWS updates as a file (when the source is an AWS job), hawkBit `closed`.
    async fn finish(&mut self, device: &DeviceSession, ended: Ended) -> Option<String> {
        match &self.reporting {
            Reporting::AwsJob { job_id } => {
                self.aws.push(report::aws_final(&ended));
                Some(report::aws_file(job_id.as_deref(), &self.aws))
            }
            Reporting::Hawkbit { feedback_url, .. } => {
                let body = report::hawkbit_final(&ended).to_json();
                send_feedback(device, feedback_url, self.auth.as_deref(), &body).await;
                None
            }
            Reporting::None => None,
        }
    }
}

/// POST hawkBit feedback; the outcome goes to the log.
async fn send_feedback(device: &DeviceSession, url: &str, auth: Option<&str>, body: &str) {
    let headers: Vec<(&str, &str)> = auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
    match fetcher::send_json("POST", url, &headers, body).await {
        Ok(200..=299) => device.log(LogLevel::Info, format!("hawkBit feedback sent: {body}")),
        Ok(410) => device.log(
            LogLevel::Warn,
            "The hawkBit server closed this action already (410 Gone): the result was not recorded there",
        ),
        Ok(status) => device.log(
            LogLevel::Warn,
            format!("The hawkBit server refused the feedback (HTTP {status})"),
        ),
        Err(e) => device.log(LogLevel::Warn, format!("hawkBit feedback not sent: {e}")),
    }
}
