//! One connected module: its link, what is known of it, the flash in progress, and a cancel
//! flag, each watched separately by the components that show it. The technician's actions on
//! it (connect, identify, flash, accept, roll back) are in [`super::jobs`].

use std::cell::{Cell, RefCell};
use std::ops::Deref;
use std::rc::Rc;
use std::time::Duration;

use otadeck_core::family::Family;
use otadeck_core::module::ModuleInfo;
use otadeck_core::partition_state::PartitionState;
use otadeck_core::progress::RateMeter;
use otadeck_core::session::{FlashError, FlashOutcome, LogLevel, SessionEvent, Step};

use super::keep::{self, FlashRecord};
use super::records;
use otadeck_core::campaign::record::Attempt;

use super::log::{self, SessionLog};
use super::store::Store;
use crate::clock::now;
use crate::image::LoadedImage;
use crate::pump::CancelFlag;
use crate::transport::demo::DemoTransport;
use crate::transport::Connection;

/// How the page is linked to a module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LinkKind {
    /// Nothing connected.
    #[default]
    None,
    /// The demo module; the text describes the line.
    Demo(String),
    /// A serial port; the text names it.
    Serial(String),
    /// A USB device (USB DFU), real or the demo's; the text names it.
    Usb(String),
}

/// What the pages show of a device, apart from the flash in progress.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceView {
    /// The link.
    pub link: LinkKind,
    /// What the module said it is.
    pub module: Option<ModuleInfo>,
    /// The module's application slots, as last read.
    pub partitions: Option<PartitionState>,
    /// A session (identify, flash, decide) runs on the link.
    pub busy: bool,
    /// A flash or download runs (its progress is in [`DeviceSession::progress`]).
    pub flashing: bool,
    /// The image chosen for this device.
    pub image: Option<Rc<LoadedImage>>,
    /// The last backup read from it.
    pub backup: Option<Rc<Backup>>,
    /// A backup being read: bytes read, of how many (kept at whole percents).
    pub backup_read: Option<(u64, u64)>,
}

/// Flash read back from a module, offered as a file.
#[derive(Debug, PartialEq)]
pub struct Backup {
    /// Where it was read from.
    pub offset: u32,
    /// How many bytes.
    pub len: usize,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// A `blob:` URL holding the bytes (freed when the backup is replaced).
    pub url: String,
    /// The file name it is saved under.
    pub file_name: String,
}

impl Drop for Backup {
    fn drop(&mut self) {
        let _ = web_sys::Url::revoke_object_url(&self.url);
    }
}

/// The flash panel's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum FlashView {
    /// Nothing started.
    #[default]
    Idle,
    /// A flash runs.
    Running {
        step: Step,
        /// When the step began (the page clock), for its elapsed time.
        since: Duration,
        /// The last thing the session said it does, in its words.
        activity: Option<String>,
        done: u64,
        total: u64,
        /// The module reports a percentage (its own download), not bytes.
        percent_only: bool,
        rate: Option<f64>,
        eta: Option<Duration>,
    },
    /// The last flash succeeded.
    Success(FlashOutcome),
    /// The last flash failed (or was cancelled).
    Failed(FlashError),
}

/// The flash in progress and the meter behind its rate and time left.
#[derive(Debug, Default)]
pub struct Progress {
    /// What the flash panel shows.
    pub view: FlashView,
    meter: Option<RateMeter>,
}

/// A `blob:` URL holding `data`.
fn bytes_url(data: &[u8]) -> Option<String> {
    let array = js_sys::Uint8Array::from(data);
    let parts = js_sys::Array::of1(&array);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

/// One connected (or last connected) module.
pub struct DeviceSession {
    /// What the pages show of it.
    pub view: Store<DeviceView>,
    /// The flash in progress.
    pub progress: Store<Progress>,
    /// The session log it writes to.
    pub log: SessionLog,
    /// The serial monitor.
    pub monitor: super::monitor::Monitor,
    pub(super) conn: RefCell<Option<Connection>>,
    pub(super) cancel: CancelFlag,
    /// The last demo module powered on, so that reconnecting finds the same module.
    pub(super) demo: RefCell<Option<DemoTransport>>,
    /// The demo DFU device, once plugged in.
    pub(super) demo_usb: RefCell<Option<crate::transport::demo::usb::DemoUsbTransport>>,
    /// The family found on the link, once detected.
    pub(super) family: Cell<Option<Family>>,
    /// The technician said the port leads to an ESP32 bootloader: otadeck resets the chip
    /// into its ROM loader instead of looking for a REPL or an SMP server.
    pub(super) bootloader: Cell<bool>,
    /// The rate the technician chose for the line; a loader that starts at another rate is
    /// opened at its own and switched to this one once it agreed.
    pub(super) requested_baud: Cell<u32>,
    /// The rate the next session's loader listens at first, set when its machine is opened.
    pub(super) start_rate: Cell<Option<u32>>,
    /// The record of the running (or last) flash, kept in the browser across a reload.
    record: RefCell<Option<FlashRecord>>,
    /// Its number on the bench (1 for the first), unique in the page.
    pub slot: usize,
    /// Its lines in the log start with `Slot N: ` once the page holds more than one device.
    named: Cell<bool>,
    /// A campaign runs the update now, and keeps its own record of it.
    in_campaign: Cell<bool>,
    /// The record of a flash outside any campaign, kept with the campaigns' records.
    outside: RefCell<Option<Attempt>>,
    /// The short name of the region a backup reads now (`ota_0`), for its file name.
    pub(super) backup_name: RefCell<Option<String>>,
}

/// A shared handle on a [`DeviceSession`]; handles are equal when they name the same device.
#[derive(Clone)]
pub struct DeviceHandle(Rc<DeviceSession>);

impl PartialEq for DeviceHandle {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for DeviceHandle {
    type Target = DeviceSession;
    fn deref(&self) -> &DeviceSession {
        &self.0
    }
}

impl DeviceHandle {
    /// A device with nothing connected yet, logging to `log`.
    pub fn new(log: SessionLog) -> Self {
        Self::in_slot(log, 1)
    }

    /// The device of bench slot `slot`, logging to `log`.
    pub fn in_slot(log: SessionLog, slot: usize) -> Self {
        DeviceHandle(Rc::new(DeviceSession {
            view: Store::default(),
            progress: Store::default(),
            log,
            monitor: Default::default(),
            conn: RefCell::new(None),
            cancel: CancelFlag::default(),
            demo: RefCell::new(None),
            demo_usb: RefCell::new(None),
            family: Cell::new(None),
            bootloader: Cell::new(false),
            requested_baud: Cell::new(115_200),
            start_rate: Cell::new(None),
            record: RefCell::new(None),
            slot,
            named: Cell::new(slot > 1),
            in_campaign: Cell::new(false),
            backup_name: RefCell::new(None),
            outside: RefCell::new(None),
        }))
    }
}

impl DeviceSession {
    /// Add a line to the log.
    pub fn log(&self, level: LogLevel, message: impl Into<String>) {
        let message = message.into();
        match self.log_prefix() {
            Some(p) => log::append(&self.log, level, format!("{p}{message}")),
            None => log::append(&self.log, level, message),
        }
    }

    /// What its log lines start with, when several devices share the log.
    pub fn log_prefix(&self) -> Option<String> {
        self.named.get().then(|| format!("Slot {}: ", self.slot))
    }

    /// Name its log lines from now on (a second device joined the page).
    pub(super) fn name_lines(&self) {
        self.named.set(true);
    }

    /// Choose the image to flash (or none).
    pub fn set_image(&self, image: Option<Rc<LoadedImage>>) {
        self.view.update(|v| v.image = image);
        self.progress.update(|p| {
            if !matches!(p.view, FlashView::Running { .. }) {
                p.view = FlashView::Idle;
            }
        });
    }

    /// A campaign runs the next updates (and keeps their records itself), or no longer does.
    pub fn set_in_campaign(&self, on: bool) {
        self.in_campaign.set(on);
    }

    /// Open the record of a flash outside any campaign, kept before the flash starts (the Log
    /// page lists it with the campaigns' records).
    pub(super) async fn record_outside(&self, what: &str) {
        if self.in_campaign.get() {
            return;
        }
        let Some(info) = self.view.get().module.clone() else {
            return;
        };
        let attempt = Attempt::outside_campaign(&info, what, None, js_sys::Date::now() as i64);
        if let Err(e) = records::put(&attempt).await {
            self.log(
                LogLevel::Warn,
                format!("The flash is not recorded in this browser: {e}"),
            );
        }
        *self.outside.borrow_mut() = Some(attempt);
    }

    /// The flash outside a campaign moved on: kept at each step and every 5 %.
    fn outside_progress(&self, step: Option<Step>, done: Option<(u64, u64)>) {
        let mut outside = self.outside.borrow_mut();
        let Some(a) = outside.as_mut() else {
            return;
        };
        let step = step.or(a.step).unwrap_or(Step::Connect);
        let (done, total) = done.unwrap_or((a.done, a.total));
        if a.progress(step, done, total, js_sys::Date::now() as i64) {
            records::put_soon(a);
        }
    }

    /// Forget the last flash's result card (a new update begins).
    pub fn clear_result(&self) {
        self.progress.update(|p| {
            if !matches!(p.view, FlashView::Running { .. }) {
                p.view = FlashView::Idle;
            }
        });
    }

    /// The family found on the link, once identified.
    pub fn family(&self) -> Option<Family> {
        self.family.get()
    }

    /// Ask the running session to stop.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    pub(super) fn set_busy(&self, busy: bool) {
        self.view.update(|v| v.busy = busy);
    }

    pub(super) fn linked(&self, kind: LinkKind) {
        self.view.update(|v| {
            v.link = kind;
            v.module = None;
            v.partitions = None;
            v.backup = None;
        });
    }

    pub(super) fn unlinked(&self) {
        self.view.update(|v| {
            v.link = LinkKind::None;
            v.module = None;
            v.partitions = None;
            v.busy = false;
        });
    }

    pub(super) fn flash_started(&self, total: u64, family: Family, what: &str) {
        self.view.update(|v| v.flashing = true);
        let module = self
            .view
            .get()
            .module
            .as_ref()
            .map_or_else(String::new, |m| {
                format!("{} {} {}", m.family.name(), m.model, m.firmware_version)
            });
        *self.record.borrow_mut() = Some(FlashRecord {
            family: family.key().into(),
            module: module.trim().to_string(),
            image: what.to_string(),
            started: crate::clock::wall_clock(),
            step: Step::Connect,
            done: 0,
            total,
            ended: None,
        });
        self.keep_record();
        self.progress.update(|p| {
            p.meter = Some(RateMeter::new(total, Duration::from_secs(4)));
            p.view = FlashView::Running {
                step: Step::Connect,
                since: now(),
                activity: None,
                done: 0,
                total,
                percent_only: false,
                rate: None,
                eta: None,
            };
        });
    }

    /// An event of the running session: each goes to the one store that shows it.
    pub(super) fn apply(&self, event: SessionEvent) {
        match event {
            SessionEvent::Log { level, message } => {
                if level == LogLevel::Info {
                    self.progress.update(|p| {
                        if let FlashView::Running { activity, .. } = &mut p.view {
                            *activity = Some(message.clone());
                        }
                    });
                }
                self.log(level, message)
            }
            SessionEvent::Step(step) => {
                self.outside_progress(Some(step), None);
                self.note(|r| {
                    let changed = r.step != step;
                    r.step = step;
                    changed
                });
                self.step(step)
            }
            SessionEvent::Progress { done, total } => {
                self.backup_progressed(done, total);
                self.outside_progress(None, Some((done, total)));
                self.note(|r| {
                    // Kept at every 5 % and at the end, not at every block.
                    let was = r.percent() / 5;
                    (r.done, r.total) = (done, total);
                    r.percent() / 5 != was || done == total
                });
                self.progressed(done, total)
            }
            SessionEvent::Identified(info) => self.view.update(|v| v.module = Some(info)),
            SessionEvent::Partitions(p) => self.view.update(|v| v.partitions = Some(p)),
            SessionEvent::ReadBack { offset, data } => self.keep_backup(offset, &data),
            SessionEvent::Finished(result) => self.finished(result),
        }
    }

    fn step(&self, step: Step) {
        self.progress.update(|p| {
            if let FlashView::Running {
                step: st,
                since,
                percent_only,
                ..
            } = &mut p.view
            {
                if *st != step {
                    *since = now();
                }
                *st = step;
                *percent_only |= step == Step::Download;
            }
        })
    }

    fn progressed(&self, done: u64, total: u64) {
        self.progress.update(|p| {
            if let (
                FlashView::Running {
                    done: d,
                    total: t,
                    rate,
                    eta,
                    ..
                },
                Some(m),
            ) = (&mut p.view, p.meter.as_mut())
            {
                m.record(now(), done);
                (*d, *t) = (done, total);
                *rate = m.bytes_per_second();
                *eta = m.eta();
            }
        })
    }

    fn finished(&self, result: Result<FlashOutcome, FlashError>) {
        if !matches!(self.progress.get().view, FlashView::Running { .. }) {
            return;
        }
        let ended = match &result {
            Ok(o) if !o.restarted => "verified; restart pending".to_string(),
            Ok(_) => "verified".to_string(),
            Err(e) => format!("{}. {}", e.headline(), e.module_now()),
        };
        if let Some(mut a) = self.outside.borrow_mut().take() {
            let after = match &result {
                Ok(o) if o.restarted => o
                    .module
                    .as_ref()
                    .map(|m| m.firmware_version.clone())
                    .filter(|v| !v.is_empty()),
                _ => None,
            };
            let end = match &result {
                Ok(_) => Ok(after),
                Err(_) => Err(ended.clone()),
            };
            a.finish(end, js_sys::Date::now() as i64);
            if result.as_ref().is_ok_and(|o| !o.restarted) {
                a.message = Some(ended.clone());
            }
            records::put_soon(&a);
        }
        self.note(|r| {
            r.ended = Some(ended);
            true
        });
        self.progress.update(|p| {
            p.view = match result {
                Ok(outcome) => FlashView::Success(outcome),
                Err(e) => FlashView::Failed(e),
            };
        });
        self.view.update(|v| v.flashing = false);
    }

    /// The module restarted out of its loader: the last flash now reads as running, and what
    /// was read of the loader no longer stands.
    pub(super) fn restarted(&self, outcome: FlashOutcome) {
        // A module that answers after its restart says what it runs.
        if let Some(m) = outcome
            .module
            .clone()
            .filter(|m| !m.firmware_version.is_empty())
        {
            self.progress.update(|p| {
                if let FlashView::Success(done) = &mut p.view {
                    done.restarted = outcome.restarted;
                    done.module = Some(m);
                }
            });
            return;
        }
        // A chip out of its loader says nothing: what it boots is what the slots read last said
        // boots next.
        let booted = {
            let v = self.view.get();
            v.partitions.as_ref().and_then(|p| {
                let slot = p.slot(&p.next_boot)?;
                let version = slot.build.as_ref()?.version.clone();
                Some((slot.label.clone(), version, v.module.clone()?))
            })
        };
        let module = booted.as_ref().map(|(label, version, m)| ModuleInfo {
            firmware_version: version.clone(),
            runtime: format!("its firmware, from {label}"),
            ..m.clone()
        });
        self.progress.update(|p| {
            if let FlashView::Success(done) = &mut p.view {
                done.restarted = outcome.restarted;
                done.module = module;
            }
        });
        if let Some((label, version, _)) = &booted {
            self.log(
                LogLevel::Info,
                format!("The chip restarted into {label} ({version}), the slot otadata selects"),
            );
        }
        self.view.update(|v| {
            v.module = None;
            v.partitions = None;
        });
        self.log(
            LogLevel::Info,
            "The chip runs its firmware now: to flash it again, reconnect it in download mode",
        );
    }

    /// A backup read on: shown at each whole percent.
    fn backup_progressed(&self, done: u64, total: u64) {
        let percent = |(d, t): (u64, u64)| d * 100 / t.max(1);
        let moved = self
            .view
            .get()
            .backup_read
            .is_some_and(|was| percent(was) != percent((done, total)) || done == total);
        if moved {
            self.view.update(|v| v.backup_read = Some((done, total)));
        }
    }

    /// Offer flash read back as a file named after the module and the address.
    fn keep_backup(&self, offset: u32, data: &[u8]) {
        let Some(url) = bytes_url(data) else {
            self.log(
                LogLevel::Error,
                "The browser could not hold the backup as a file.",
            );
            return;
        };
        let module = self.view.get().module.as_ref().map_or_else(
            || "module".to_string(),
            |m| otadeck_core::backup::file_stem(&m.model),
        );
        let sha256 = otadeck_core::digest::to_hex(&otadeck_core::digest::sha256(data));
        let region = self.backup_name.borrow().clone().unwrap_or_default();
        let name = if region.is_empty() || module.contains(&region) {
            module
        } else {
            format!("{module}-{region}")
        };
        let backup = Backup {
            offset,
            len: data.len(),
            file_name: format!("{name}-backup-{offset:#010x}.bin"),
            sha256,
            url,
        };
        self.log(
            LogLevel::Info,
            format!(
                "Backup ready: {} bytes from {offset:#010x}, SHA-256 {}",
                backup.len, backup.sha256
            ),
        );
        self.view.update(|v| v.backup = Some(Rc::new(backup)));
    }

    /// Change the record of the running flash; `change` says whether it is worth keeping now.
    fn note(&self, change: impl FnOnce(&mut FlashRecord) -> bool) {
        let keep = self.record.borrow_mut().as_mut().is_some_and(change);
        if keep {
            self.keep_record();
        }
    }

    fn keep_record(&self) {
        if let Some(json) = self
            .record
            .borrow()
            .as_ref()
            .and_then(|r| serde_json::to_string(r).ok())
        {
            keep::save(keep::FLASH_KEY, json);
        }
    }

    pub(super) fn connection(&self) -> Option<Connection> {
        self.conn.borrow().clone()
    }
}
