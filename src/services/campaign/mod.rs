//! The campaign the Campaigns page works through: the open plan, every attempt kept in the
//! browser, and the technician's actions (judge the connected module, accept or reject, install,
//! next module). What a plan means for a module is the core's ([`otadeck_core::campaign`]); this
//! runs it on a device, keeps each change ([`records`]) and mirrors the install's progress.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use otadeck_core::campaign::outbox::Outgoing;
use otadeck_core::campaign::record::{Attempt, AttemptState};
use otadeck_core::manifest::detect::Document;
use otadeck_core::manifest::plan::CampaignPlan;
use otadeck_core::session::LogLevel;

use super::device::DeviceHandle;
use super::devices::Devices;
use super::records::{self, KeptPlan};
use super::source::{self, Fetching, LoadedSource};
use super::store::Store;

mod module;
mod reports;

/// The open plan.
#[derive(Debug, PartialEq)]
pub struct OpenPlan {
    /// The plan, checked.
    pub plan: CampaignPlan,
    /// The document as loaded, with its signature state.
    pub source: LoadedSource,
}

/// What a bench slot's card shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlotView {
    /// The attempt of the module connected there now.
    pub current: Option<String>,
    /// What runs, in words, while something does.
    pub working: Option<String>,
    /// The package download in progress.
    pub fetching: Option<Fetching>,
    /// The last thing that went wrong there, in words.
    pub error: Option<String>,
}

/// What the Campaigns page shows.
#[derive(Debug, Default, PartialEq)]
pub struct CampaignView {
    /// The open plan.
    pub plan: Option<Rc<OpenPlan>>,
    /// Every attempt kept, of every campaign, oldest first.
    pub attempts: Vec<Attempt>,
    /// Each bench slot (device), by its number.
    pub slots: BTreeMap<usize, SlotView>,
    /// The last thing that went wrong with the plan, in words.
    pub error: Option<String>,
    /// A plan is being fetched.
    pub loading: bool,
    /// The kept records were read back.
    pub restored: bool,
    /// The technician chose to run the open plan although it is unsigned.
    pub allow_unsigned: bool,
    /// Every report queued, sent or refused.
    pub outbox: Vec<Outgoing>,
}

impl CampaignView {
    /// What slot `n` shows.
    pub fn slot(&self, n: usize) -> SlotView {
        self.slots.get(&n).cloned().unwrap_or_default()
    }

    /// The attempt of the module in slot `n`.
    pub fn current(&self, n: usize) -> Option<&Attempt> {
        let id = self.slots.get(&n)?.current.as_deref()?;
        self.attempt(id)
    }

    /// The attempt with `id`.
    pub fn attempt(&self, id: &str) -> Option<&Attempt> {
        self.attempts.iter().find(|a| a.id == id)
    }

    /// The attempts of the open plan.
    pub fn of_plan(&self) -> Vec<Attempt> {
        match &self.plan {
            Some(p) => self
                .attempts
                .iter()
                .filter(|a| a.campaign == p.plan.id)
                .cloned()
                .collect(),
            None => Vec::new(),
        }
    }
}

/// Where an attempt's copy of the session log stands.
struct LogCursor {
    /// The index of the next line to copy.
    next: usize,
    /// What its device's lines start with, when several share the log.
    prefix: Option<String>,
}

/// The campaigns service, provided to the pages as a context.
#[derive(Clone)]
pub struct Campaigns {
    /// What the page shows.
    pub view: Store<CampaignView>,
    devices: Devices,
    /// Per attempt, the index of the next session log line to copy into its record, and what
    /// its device's lines start with.
    log_from: Rc<RefCell<HashMap<String, LogCursor>>>,
    /// Reports are being sent now.
    sending: Rc<Cell<bool>>,
    /// The hawkBit Management API's `Authorization`, kept only while the page is open.
    hawkbit_login: Rc<RefCell<Option<String>>>,
    /// What sends waiting reports again (the `online` event, a timer), held while the page is.
    retries: Rc<RefCell<Option<reports::Retries>>>,
}

impl PartialEq for Campaigns {
    fn eq(&self, other: &Self) -> bool {
        self.view == other.view
    }
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

impl Campaigns {
    /// The service for `devices`.
    pub fn new(devices: Devices) -> Self {
        Campaigns {
            view: Store::default(),
            devices,
            log_from: Rc::default(),
            sending: Rc::default(),
            hawkbit_login: Rc::default(),
            retries: Rc::default(),
        }
    }

    /// The plan could not be loaded or kept: said on the plan card and in the log.
    pub(crate) fn fail(&self, why: impl Into<String>) {
        let why = why.into();
        self.devices.current().log(LogLevel::Error, why.clone());
        self.view.update(|v| {
            v.error = Some(why);
            v.loading = false;
        });
    }

    /// Something went wrong in `device`'s slot: said on its card and in the log.
    fn fail_at(&self, device: &DeviceHandle, why: impl Into<String>) {
        let why = why.into();
        device.log(LogLevel::Error, why.clone());
        self.view.update(|v| {
            let slot = v.slots.entry(device.slot).or_default();
            slot.error = Some(why);
            slot.working = None;
        });
    }

    /// What runs in `device`'s slot, in words (or nothing now).
    fn working(&self, device: &DeviceHandle, what: Option<&str>) {
        self.view.update(|v| {
            let slot = v.slots.entry(device.slot).or_default();
            slot.working = what.map(String::from);
            if what.is_some() {
                slot.error = None;
            }
        });
    }

    /// After a (re)load: every attempt comes back; one cut off while installing is marked
    /// interrupted, with its step and byte, and kept so; the plan that was open opens again.
    pub async fn restore(&self) {
        let mut attempts = match records::all().await {
            Ok(a) => a,
            Err(e) => {
                self.fail(format!("The campaign records could not be read: {e}"));
                Vec::new()
            }
        };
        let now = now_ms();
        let mut cut_off = Vec::new();
        for a in attempts.iter_mut() {
            if a.interrupted(now) {
                cut_off.push(a.clone());
                // A flash from the Flash page is reported by the recovery banner already.
                if !a.campaign.is_empty() {
                    let text = format!(
                        "Campaign {}: module {} was {}",
                        a.campaign,
                        a.module,
                        a.message.clone().unwrap_or_default()
                    );
                    self.devices.current().log(LogLevel::Error, text);
                }
                if let Err(e) = records::put(a).await {
                    self.fail(format!("The campaign record could not be kept: {e}"));
                }
            }
        }
        let kept = records::opened_plan().await;
        let allow_unsigned = kept.as_ref().is_some_and(|k| k.allow_unsigned);
        let plan = kept.and_then(|k| {
            source::check(k.text.as_bytes(), k.url.as_deref(), None, k.origin)
                .ok()
                .and_then(open_plan)
        });
        self.view.update(|v| {
            v.attempts = attempts;
            if v.plan.is_none() {
                v.plan = plan.map(Rc::new);
                v.allow_unsigned = allow_unsigned;
            }
            v.restored = true;
        });
        let outbox = records::reports().await.unwrap_or_default();
        self.view.update(|v| v.outbox = outbox);
        for a in &cut_off {
            self.report(a).await;
        }
        self.keep_sending();
        self.send_reports().await;
    }

    /// Load a plan from `url`.
    pub async fn load_url(&self, url: &str) {
        self.view.update(|v| {
            v.error = None;
            v.loading = true;
        });
        match source::fetch_document(url, None).await {
            Ok((bytes, final_url, sig)) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let checked =
                    source::check(&bytes, Some(&final_url), sig.as_deref(), final_url.clone());
                self.open(checked, text, Some(final_url)).await
            }
            Err(e) => self.fail(format!("The plan could not be loaded: {e}")),
        }
    }

    /// Load a plan pasted or opened from a file.
    pub async fn load_text(&self, text: String, origin: String) {
        let checked = source::check(text.as_bytes(), None, None, origin);
        self.open(checked, text, None).await
    }

    async fn open(&self, checked: Result<LoadedSource, String>, text: String, url: Option<String>) {
        let loaded = match checked {
            Ok(l) => l,
            Err(e) => return self.fail(format!("This is not a plan otadeck can use: {e}")),
        };
        if let Some(why) = &loaded.refusal {
            return self.fail(format!("The plan may not be used: {why}"));
        }
        let origin = loaded.origin.clone();
        let Some(open) = open_plan(loaded) else {
            return self.fail(
                "This document is not an otadeck campaign plan: load a manifest on the Flash page",
            );
        };
        // The same plan opened again keeps the technician's choice about its signature.
        let allow_unsigned = records::opened_plan()
            .await
            .is_some_and(|k| k.id == open.plan.id && k.text == text && k.allow_unsigned);
        let kept = KeptPlan {
            id: open.plan.id.clone(),
            text,
            url,
            origin,
            allow_unsigned,
        };
        if let Err(e) = records::open_plan(&kept).await {
            self.fail(format!("The plan could not be kept in this browser: {e}"));
        }
        self.devices.current().log(
            LogLevel::Info,
            format!(
                "Campaign plan {} opened ({})",
                open.plan.name,
                open.source.signature.badge()
            ),
        );
        self.view.update(|v| {
            v.plan = Some(Rc::new(open));
            v.allow_unsigned = allow_unsigned;
            for slot in v.slots.values_mut() {
                slot.current = None;
            }
            v.error = None;
            v.loading = false;
        });
    }

    fn attempt(&self, id: &str) -> Option<Attempt> {
        self.view.get().attempt(id).cloned()
    }

    /// Copy the lines its device wrote since the last copy into `attempt`'s log.
    fn copy_log(&self, attempt: &mut Attempt) {
        let mut from = self.log_from.borrow_mut();
        let Some(cursor) = from.get_mut(&attempt.id) else {
            return;
        };
        let lines = self.devices.log().get();
        for line in lines.iter().skip(cursor.next) {
            let text = match &cursor.prefix {
                Some(p) => match line.message.strip_prefix(p.as_str()) {
                    Some(t) => t,
                    None => continue,
                },
                None => line.message.as_str(),
            };
            attempt.log_line(format!("{} {text}", line.clock));
        }
        cursor.next = lines.len();
    }

    /// Keep `attempt` (committed before this returns) and show it. False when it could not be
    /// kept: the page says so and the campaign does not go on.
    async fn keep(&self, mut attempt: Attempt) -> bool {
        self.copy_log(&mut attempt);
        let result = records::put(&attempt).await;
        self.view.update(
            |v| match v.attempts.iter_mut().find(|a| a.id == attempt.id) {
                Some(a) => *a = attempt.clone(),
                None => v.attempts.push(attempt.clone()),
            },
        );
        match result {
            Ok(()) => {
                if attempt.state.is_final() {
                    // Sent in the background: the campaign goes on while the network is slow.
                    let (this, attempt) = (self.clone(), attempt.clone());
                    wasm_bindgen_futures::spawn_local(async move { this.report(&attempt).await });
                }
                true
            }
            Err(e) => {
                self.fail(format!(
                    "The record of module {} could not be kept in this browser ({e}): the campaign stops here so that nothing goes unrecorded",
                    attempt.module
                ));
                false
            }
        }
    }

    /// The attempts of the open plan a reload cut off, whose module was not tried again since.
    pub fn interrupted(&self) -> Vec<Attempt> {
        let of_plan = self.view.get().of_plan();
        of_plan
            .iter()
            .filter(|a| a.state == AttemptState::Interrupted)
            .filter(|a| {
                !of_plan
                    .iter()
                    .any(|later| later.module == a.module && later.started_ms > a.started_ms)
            })
            .cloned()
            .collect()
    }
}

/// The plan in `loaded`, when it is one.
fn open_plan(loaded: LoadedSource) -> Option<OpenPlan> {
    match &loaded.loaded.document {
        Document::CampaignPlan(p) => Some(OpenPlan {
            plan: p.clone(),
            source: loaded,
        }),
        _ => None,
    }
}
