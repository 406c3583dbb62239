//! `otadeck install`: a manifest, job document or hawkBit deployment fetched, checked and
//! installed on the module at a serial port, then reported back. The source logic is the core's
//! ([`otadeck_core::source`]); this file fetches, moves bytes and prints.
//!
//! Exit status: 0 when the module runs what the source offers (installed now, or already);
//! 1 when the source, an image or the install was refused or failed (the module keeps what it
//! ran unless the message says otherwise); 2 for usage errors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use otadeck_core::family::{Family, Job};
use otadeck_core::module::ModuleInfo;
use otadeck_core::partition_state::PartitionState;
use otadeck_core::source::download::Download;
use otadeck_core::source::install::{delivered_by_module, prepare, PrepareError};
use otadeck_core::source::report::{self, Ended};
use otadeck_core::source::trust::{self, SignatureState, TrustedKey};
use otadeck_core::source::{self, offer, Loaded, ModuleFacts, Offer, Proposal, Reporting};

use crate::fetch::{self, Limits};
use crate::flash::{Before, Target};

/// Documents followed from one source at the most (a hawkBit base, its deployment; a Pycom
/// server asked again with the module's version).
const MAX_HOPS: usize = 5;

/// `otadeck install`.
#[derive(clap::Args)]
pub struct InstallArgs {
    /// The source: an https URL (http only to this machine) or a file. With --hawkbit, leave
    /// it out.
    #[arg(required_unless_present = "hawkbit")]
    source: Option<String>,
    /// Serial device, e.g. /dev/ttyUSB0.
    #[arg(long)]
    port: String,
    /// The module's family; without it, otadeck finds out what answers (the ESP ROM loader
    /// must be named: esp-rom).
    #[arg(long, value_parser = crate::flash::protocol_parser())]
    protocol: Option<Family>,
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// ESP ROM: how to put the chip into its loader.
    #[arg(long, value_enum, default_value_t = Before::DefaultReset)]
    before: Before,
    /// An ed25519 public key (PEM, or its 32 bytes as base64 or hex) the source's signature
    /// must verify with; give it again for more keys.
    #[arg(long, value_name = "PUBKEY")]
    key: Vec<PathBuf>,
    /// Install a source that carries no signature, or one no --key can check.
    #[arg(long)]
    allow_unsigned: bool,
    /// Install an older version than the module runs (or a lower anti-rollback counter); the
    /// reason goes into the report.
    #[arg(long, value_name = "REASON")]
    downgrade_reason: Option<String>,
    /// hawkBit DDI server base URL (the controller polls `BASE/TENANT/controller/v1/ID`).
    #[arg(long, requires_all = ["tenant", "controller", "token"], conflicts_with = "source")]
    hawkbit: Option<String>,
    /// hawkBit tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// hawkBit controller id of this module.
    #[arg(long)]
    controller: Option<String>,
    /// hawkBit security token.
    #[arg(long)]
    token: Option<String>,
    /// Send the token as `GatewayToken` (one for the tenant) instead of `TargetToken`.
    #[arg(long)]
    gateway_token: bool,
    /// QuecPython: once otadeck checked the image, the module downloads it itself from the
    /// source's URL (`fota.httpDownload`) instead of receiving it over the cable.
    #[arg(long)]
    module_downloads: bool,
    /// Send each AWS IoT job execution update as it happens to this data-plane endpoint
    /// (`POST {endpoint}/things/{thing}/jobs/{jobId}`; AWS IoT itself asks for the thing's
    /// certificate, which otadeck does not present: use a relay that holds it).
    #[arg(long, requires = "thing", value_name = "URL")]
    aws_endpoint: Option<String>,
    /// The AWS IoT thing name, for --aws-endpoint.
    #[arg(long, requires = "aws_endpoint")]
    thing: Option<String>,
    /// Where to write the AWS IoT job execution updates (default: print them).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Give up a download that has not finished after this many seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    timeout: u64,
}

impl InstallArgs {
    fn limits(&self) -> Limits {
        Limits {
            deadline: Duration::from_secs(self.timeout.max(1)),
        }
    }

    fn auth(&self) -> Option<String> {
        let token = self.token.as_deref()?;
        let kind = if self.gateway_token {
            "GatewayToken"
        } else {
            "TargetToken"
        };
        Some(format!("{kind} {token}"))
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        self.auth()
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default()
    }

    /// Where the first document comes from.
    fn first_source(&self) -> Result<String, String> {
        match (&self.hawkbit, &self.source) {
            (Some(base), _) => Ok(format!(
                "{}/{}/controller/v1/{}",
                base.trim_end_matches('/'),
                self.tenant.as_deref().unwrap_or_default(),
                self.controller.as_deref().unwrap_or_default()
            )),
            (None, Some(s)) => Ok(s.clone()),
            (None, None) => Err("give a source URL or file, or --hawkbit".into()),
        }
    }
}

/// A fetched or read document: its bytes and where it came from (`None` for a file).
struct Fetched {
    bytes: Vec<u8>,
    url: Option<String>,
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn fetch_document(source: &str, a: &InstallArgs) -> Result<Fetched, String> {
    if !is_url(source) {
        let bytes = crate::inspect::read_capped(std::path::Path::new(source))?;
        return Ok(Fetched { bytes, url: None });
    }
    let headers = a.headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut bytes = Vec::new();
    let answer = fetch::stream(source, a.limits(), &headers, |_, chunk| {
        if bytes.len() + chunk.len() > otadeck_core::manifest::MAX_DOCUMENT_BYTES {
            return Err(format!("{source} is larger than a manifest can be (4 MiB)"));
        }
        bytes.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(Fetched {
        bytes,
        url: Some(answer.url),
    })
}

/// Run `otadeck install`.
pub fn run(a: InstallArgs) -> Result<ExitCode, String> {
    let keys = a
        .key
        .iter()
        .map(|p| {
            let bytes = crate::inspect::read_capped(p)?;
            TrustedKey::parse(&bytes).map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let first = a.first_source()?;

    // What answers, and what it runs.
    let mut target = Target::new(&a.port, a.protocol, a.baud, a.before);
    let (module, slots) = target.identify(start)?;
    let facts = ModuleFacts::from_module(&module, slots.as_ref());
    println!(
        "Module:    {} {}, runs {}",
        module.family.name(),
        module.model,
        if module.firmware_version.is_empty() {
            "an unknown version"
        } else {
            &module.firmware_version
        }
    );

    let (offer, signature) = match follow(first, &facts, &keys, &a)? {
        Followed::Offer(offer, signature) => (*offer, signature),
        Followed::Ended(code) => return Ok(code),
    };
    print_offer(&offer, &signature);
    let reporter = Reports::new(&offer, &a);
    reporter.proceeding("downloading", None);

    // Every download checked before a byte goes to the module.
    let mut images = Vec::new();
    for item in &offer.items {
        match download(item, &a) {
            Ok(data) => images.push(data),
            Err(e) => return reporter.refuse(&e),
        }
    }
    let install = match prepare(&offer, images, &facts, a.downgrade_reason.as_deref()) {
        Ok(i) => i,
        Err(PrepareError::Downgrade { why }) => {
            return reporter.refuse(&format!(
                "{why}: pass --downgrade-reason \"...\" to install it anyway"
            ))
        }
        Err(PrepareError::Refused(r)) => return reporter.refuse(&r.why),
    };
    let install = if a.module_downloads {
        if !offer.module_can_download(facts.family) {
            return reporter.refuse(&format!(
                "--module-downloads: {} cannot download this source's image themselves",
                module.family.devices()
            ));
        }
        match delivered_by_module(install, &offer) {
            Ok(i) => i,
            Err(r) => return reporter.refuse(&r.why),
        }
    } else {
        install
    };
    for line in &install.checks {
        println!("Checked:   {line}");
    }
    if let Some(reason) = &install.downgrade_reason {
        println!("Downgrade: allowed, reason {reason:?}");
    }

    // The jobs, in order; the first failure ends the install.
    let count = install.jobs.len() as u32;
    let mut last_version = None;
    for (i, job) in install.jobs.into_iter().enumerate() {
        reporter.proceeding(job_words(&job), Some((i as u32, count)));
        let ran = target.run(job, start)?;
        match ran.result {
            Ok(outcome) => {
                last_version = outcome
                    .module
                    .map(|m| m.firmware_version)
                    .filter(|v| !v.is_empty());
            }
            Err(error) => {
                println!("{error}");
                println!("{}", error.advice());
                reporter.finish(&Ended::Failed {
                    reason: error.to_string(),
                });
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let version = last_version
        .or(offer.version.clone())
        .unwrap_or_else(|| "the offered firmware".into());
    println!(
        "Installed: the module runs {version} ({:.1} s).",
        start.elapsed().as_secs_f64()
    );
    reporter.finish(&Ended::Succeeded { version });
    Ok(ExitCode::SUCCESS)
}

/// Where following a source ended.
enum Followed {
    /// It offers this install, with the signature state of the document that offers it.
    Offer(Box<Offer>, SignatureState),
    /// Nothing to install (up to date, not now, refused): said, with this exit status.
    Ended(ExitCode),
}

/// The source at `first` followed to what it offers the module `facts` describes: each
/// document fetched and checked (signature, expiry), a hawkBit controller registered when the
/// server asks, a Pycom server asked again with the module's version.
fn follow(
    first: String,
    facts: &ModuleFacts,
    keys: &[TrustedKey],
    a: &InstallArgs,
) -> Result<Followed, String> {
    let ended = |r: Result<ExitCode, String>| r.map(Followed::Ended);
    let mut next = first;
    let mut registered = false;
    for _ in 0..MAX_HOPS {
        let doc = fetch_document(&next, a)?;
        let signature = check_trust(&doc, keys, a)?;
        let loaded = match source::read(&doc.bytes, doc.url.as_deref()) {
            Ok(l) => l,
            Err(e) => return ended(refused(&format!("{next}: {e}"))),
        };
        print_kind(&loaded);
        match offer(&loaded, facts) {
            Ok(Proposal::Install(o)) => return Ok(Followed::Offer(o, signature)),
            Ok(Proposal::UpToDate { why }) => {
                println!("Up to date: {why}.");
                return Ok(Followed::Ended(ExitCode::SUCCESS));
            }
            Ok(Proposal::Wait { why, .. }) => {
                println!("Nothing to install now: {why}. Nothing was sent to the module.");
                return Ok(Followed::Ended(ExitCode::FAILURE));
            }
            Ok(Proposal::Fetch { url, why }) => {
                println!("Following: {why} ({url}).");
                next = url;
            }
            Ok(Proposal::Register { url, body, then }) if !registered => {
                registered = true;
                let headers = a.headers();
                let headers: Vec<(&str, &str)> =
                    headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                match fetch::send_json("PUT", &url, a.limits(), &headers, &body)? {
                    200..=299 => println!("Registered: the controller's attributes sent ({body})."),
                    status => {
                        return ended(refused(&format!(
                            "the hawkBit server refused the controller's attributes (HTTP {status} from {url})"
                        )))
                    }
                }
                next = then;
            }
            Ok(Proposal::Register { .. }) => {
                return ended(refused(
                    "the hawkBit server asks for the controller's attributes again after accepting them",
                ))
            }
            Err(e) => return ended(refused(&e.why)),
        }
    }
    ended(refused(
        "the source leads to more documents than otadeck follows",
    ))
}

/// Signature and expiry; an unsigned source runs only with --allow-unsigned.
fn check_trust(
    doc: &Fetched,
    keys: &[TrustedKey],
    a: &InstallArgs,
) -> Result<SignatureState, String> {
    let detached = match doc.url.as_deref().and_then(trust::signature_url) {
        Some(sig_url) if a.hawkbit.is_none() => fetch::get_optional(&sig_url, a.limits())?,
        _ => None,
    };
    let state = trust::check_signature(&doc.bytes, detached.as_deref(), keys);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if let Err(e) = trust::check_expiry(&doc.bytes, now) {
        return Err(refusal(&e));
    }
    match &state {
        SignatureState::Invalid { why } => Err(refusal(why)),
        s if s.needs_consent() && !a.allow_unsigned => Err(refusal(&format!(
            "{}; pass --allow-unsigned to install it anyway, or --key with the publisher's key",
            s.describe()
        ))),
        _ => Ok(state),
    }
}

/// Marks a refusal so [`exit_of`] maps it to status 1, not the usage status 2.
const REFUSED: &str = "refused: ";

fn refusal(why: &str) -> String {
    format!("{REFUSED}{why}")
}

/// The exit status of an error `run` returned: 1 for a refused source, 2 otherwise.
pub fn exit_of(message: &str) -> ExitCode {
    if message.starts_with(REFUSED) {
        ExitCode::FAILURE
    } else {
        ExitCode::from(2)
    }
}

fn refused(why: &str) -> Result<ExitCode, String> {
    println!("Refused:   {why}. Nothing was sent to the module.");
    Ok(ExitCode::FAILURE)
}

fn download(item: &source::Item, a: &InstallArgs) -> Result<Vec<u8>, String> {
    let mut check = Download::new(item);
    let started = Instant::now();
    let headers = a.headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut declared_checked = false;
    fetch::stream(&item.url, a.limits(), &headers, |length, chunk| {
        if !declared_checked {
            check.declared(length).map_err(|e| e.to_string())?;
            declared_checked = true;
        }
        check.feed(chunk).map_err(|e| e.to_string())
    })
    .map_err(|e| format!("{}: {e}", item.label))?;
    let received = check.received();
    let checked = check.finish().map_err(|e| e.to_string())?;
    let hashes: Vec<String> = checked
        .matched
        .iter()
        .map(|(alg, _)| format!("{alg} matches"))
        .collect();
    println!(
        "Fetched:   {} ({received} bytes in {:.1} s; SHA-256 {}{})",
        item.label,
        started.elapsed().as_secs_f64(),
        &checked.sha256[..16],
        if hashes.is_empty() {
            String::new()
        } else {
            format!("; {}", hashes.join(", "))
        }
    );
    Ok(checked.data)
}

fn print_kind(loaded: &Loaded) {
    println!(
        "Source:    {}{}",
        loaded.kind.name(),
        loaded
            .url
            .as_deref()
            .map(|u| format!(" from {u}"))
            .unwrap_or_default()
    );
}

fn print_offer(o: &Offer, signature: &SignatureState) {
    println!("Offer:     {}", o.title);
    if let Some(v) = &o.version {
        println!("Version:   {v}");
    }
    if let Some(c) = &o.version_check {
        println!("Against:   {c}");
    }
    println!("Signature: {}", signature.describe());
    for item in &o.items {
        let size = item
            .size
            .map(|s| format!("{s} bytes"))
            .unwrap_or_else(|| "size not declared".into());
        let hashes: Vec<String> = item
            .digests
            .iter()
            .map(|d| format!("{} {}", d.algorithm(), d.hex()))
            .collect();
        println!(
            "Will put:  {} -> {} ({size}{})",
            item.label,
            item.target.describe(),
            if hashes.is_empty() {
                String::new()
            } else {
                format!("; {}", hashes.join(", "))
            }
        );
    }
    for path in &o.delete {
        println!("Will delete: {path}");
    }
    for note in &o.notes {
        println!("Note:      {note}");
    }
}

fn job_words(job: &Job) -> &'static str {
    match job {
        Job::Files { .. } => "updating files",
        Job::Download { .. } => "downloading on the module",
        _ => "writing the firmware",
    }
}

/// The reports of one install, in the source's terms.
struct Reports<'a> {
    reporting: Reporting,
    args: &'a InstallArgs,
    aws: std::cell::RefCell<Vec<otadeck_core::manifest::aws_job::StatusUpdate>>,
}

impl<'a> Reports<'a> {
    fn new(offer: &Offer, args: &'a InstallArgs) -> Self {
        Reports {
            reporting: offer.reporting.clone(),
            args,
            aws: Default::default(),
        }
    }

    fn proceeding(&self, step: &str, progress: Option<(u32, u32)>) {
        match &self.reporting {
            Reporting::AwsJob { job_id } => {
                let update = report::aws_in_progress(&step.replace(' ', "-"));
                self.send_aws(job_id.as_deref(), &update);
                self.aws.borrow_mut().push(update);
            }
            Reporting::Hawkbit { feedback_url, .. } => self.post(
                feedback_url,
                &report::hawkbit_proceeding(step, progress).to_json(),
            ),
            Reporting::None => {}
        }
    }

    fn refuse(&self, why: &str) -> Result<ExitCode, String> {
        self.finish(&Ended::Refused { reason: why.into() });
        refused(why)
    }

    fn finish(&self, ended: &Ended) {
        match &self.reporting {
            Reporting::AwsJob { job_id } => {
                let update = report::aws_final(ended);
                self.send_aws(job_id.as_deref(), &update);
                self.aws.borrow_mut().push(update);
                let file = report::aws_file(job_id.as_deref(), &self.aws.borrow());
                match &self.args.report {
                    Some(path) => match std::fs::write(path, file + "\n") {
                        Ok(()) => println!(
                            "Report:    AWS IoT job execution updates written to {} (upload them with UpdateJobExecution)",
                            path.display()
                        ),
                        Err(e) => eprintln!("otadeck: cannot write {}: {e}", path.display()),
                    },
                    None => println!("Report:    AWS IoT job execution updates:\n{file}"),
                }
            }
            Reporting::Hawkbit { feedback_url, .. } => {
                self.post(feedback_url, &report::hawkbit_final(ended).to_json())
            }
            Reporting::None => {}
        }
    }

    /// An AWS update sent as it happens, when an endpoint is set.
    fn send_aws(
        &self,
        job_id: Option<&str>,
        update: &otadeck_core::manifest::aws_job::StatusUpdate,
    ) {
        let (Some(endpoint), Some(thing)) = (&self.args.aws_endpoint, &self.args.thing) else {
            return;
        };
        let Some(job_id) = job_id else {
            println!("Report:    the job document names no jobId: the AWS update was not sent");
            return;
        };
        let sent = report::aws_update_url(endpoint, thing, job_id).and_then(|url| {
            fetch::send_json("POST", &url, self.args.limits(), &[], &update.to_json())
        });
        match sent {
            Ok(200..=299) => println!("Report:    AWS update sent ({})", update.to_json()),
            Ok(status) => {
                println!("Report:    the AWS endpoint refused the update (HTTP {status})")
            }
            Err(e) => println!("Report:    AWS update not sent: {e}"),
        }
    }

    fn post(&self, url: &str, body: &str) {
        let headers = self.args.headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        match fetch::send_json("POST", url, self.args.limits(), &headers, body) {
            Ok(200..=299) => println!("Report:    hawkBit feedback sent ({body})"),
            Ok(410) => println!(
                "Report:    the hawkBit server closed this action already (410 Gone): the result was not recorded there"
            ),
            Ok(status) => println!("Report:    the hawkBit server refused the feedback (HTTP {status})"),
            Err(e) => println!("Report:    hawkBit feedback not sent: {e}"),
        }
    }
}

/// What an identify session found: the module and its slots.
pub type Identified = (ModuleInfo, Option<PartitionState>);
