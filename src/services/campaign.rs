//! The campaign the Campaigns page works through: the open plan, every attempt kept in the
//! browser, and the technician's actions (judge the connected module, accept or reject, install,
//! next module). What a plan means for a module is the core's ([`otadeck_core::campaign`]); this
//! runs it on a device, keeps each change ([`records`]) and mirrors the install's progress.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use otadeck_core::campaign::facts::module_report;
use otadeck_core::campaign::plan_offer;
use otadeck_core::campaign::record::{Attempt, AttemptState, Decision, Next};
use otadeck_core::manifest::detect::Document;
use otadeck_core::manifest::plan::{CampaignPlan, Eligibility};
use otadeck_core::session::LogLevel;
use otadeck_sim::fleet::next_member;

use super::device::{DeviceHandle, FlashView, LinkKind};
use super::devices::Devices;
use super::install::Installed;
use super::records::{self, KeptPlan};
use super::source::{self, Fetching, LoadedSource};
use super::store::Store;

/// The baud rate the demo fleet's modules are reached at.
const DEMO_BAUD: u32 = 115_200;

/// The open plan.
#[derive(Debug, PartialEq)]
pub struct OpenPlan {
    /// The plan, checked.
    pub plan: CampaignPlan,
    /// The document as loaded, with its signature state.
    pub source: LoadedSource,
}

/// What the Campaigns page shows.
#[derive(Debug, Default, PartialEq)]
pub struct CampaignView {
    /// The open plan.
    pub plan: Option<Rc<OpenPlan>>,
    /// Every attempt kept, of every campaign, oldest first.
    pub attempts: Vec<Attempt>,
    /// The attempt of the module connected now.
    pub current: Option<String>,
    /// What runs, in words, while something does.
    pub working: Option<String>,
    /// The package download in progress.
    pub fetching: Option<Fetching>,
    /// The last thing that went wrong, in words.
    pub error: Option<String>,
    /// The kept records were read back.
    pub restored: bool,
    /// The technician chose to run the open plan although it is unsigned.
    pub allow_unsigned: bool,
}

impl CampaignView {
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

/// The campaigns service, provided to the pages as a context.
#[derive(Clone)]
pub struct Campaigns {
    /// What the page shows.
    pub view: Store<CampaignView>,
    devices: Devices,
    /// Per attempt, the index of the next session log line to copy into its record.
    log_from: Rc<RefCell<HashMap<String, usize>>>,
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
        }
    }

    fn fail(&self, why: impl Into<String>) {
        let why = why.into();
        self.devices.current().log(LogLevel::Error, why.clone());
        self.view.update(|v| {
            v.error = Some(why);
            v.working = None;
        });
    }

    fn working(&self, what: Option<&str>) {
        self.view.update(|v| {
            v.working = what.map(String::from);
            if what.is_some() {
                v.error = None;
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
        for a in attempts.iter_mut() {
            if a.interrupted(now) {
                let text = format!(
                    "Campaign {}: module {} was {}",
                    a.campaign,
                    a.module,
                    a.message.clone().unwrap_or_default()
                );
                self.devices.current().log(LogLevel::Error, text);
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
    }

    /// Load a plan from `url`.
    pub async fn load_url(&self, url: &str) {
        self.working(Some("Loading the plan"));
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
            v.current = None;
            v.working = None;
            v.error = None;
        });
    }

    /// Judge the connected module against the plan, record it, and go on as the plan's mode
    /// says: show the reasons, ask for a confirmation, or install at once (silent mode).
    pub async fn check(&self, device: &DeviceHandle) {
        let Some(open) = self.view.get().plan.clone() else {
            return self.fail("Open a campaign plan first");
        };
        if device.view.get().link == LinkKind::None {
            return self.fail("Connect a module first");
        }
        if open.source.signature.needs_consent() && !self.view.get().allow_unsigned {
            return self.fail(format!(
                "The plan is {}: tick \"Run this plan although it is {0}\" on the plan card, or import the key that signed it",
                open.source.signature.badge()
            ));
        }
        self.working(Some("Reading the module"));
        if device.view.get().module.is_none() {
            device.identify().await;
        }
        let Some(info) = device.view.get().module.clone() else {
            return self.fail("The module did not say what it is: check the log, then try again");
        };
        let report = module_report(&info, &open.plan);
        let eligibility = open.plan.eligibility(&report, now_ms() / 1000);
        let attempt = Attempt::begin(&open.plan, &info, &report, &eligibility, now_ms());
        self.log_from
            .borrow_mut()
            .insert(attempt.id.clone(), self.devices.log().get().len());
        match &eligibility {
            Eligibility::Eligible { updates, .. } => device.log(
                LogLevel::Info,
                format!(
                    "Module {} may take the plan: {}",
                    attempt.module,
                    updates
                        .iter()
                        .map(|u| format!("{} {} → {}", u.component, u.from_version, u.to_version))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Eligibility::NotEligible { reasons } => device.log(
                LogLevel::Warn,
                format!(
                    "Module {} may not take the plan: {}",
                    attempt.module,
                    reasons
                        .iter()
                        .map(|r| r.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ),
        }
        let id = attempt.id.clone();
        if !self.keep(attempt).await {
            return;
        }
        self.view.update(|v| {
            v.current = Some(id.clone());
            v.working = None;
        });
        if self.attempt(&id).map(|a| a.next()) == Some(Next::Install) {
            self.install(device, &id, eligibility).await;
        }
    }

    /// The technician's answer in manual mode.
    pub async fn decide(&self, device: &DeviceHandle, accept: bool) {
        let Some(id) = self.view.get().current.clone() else {
            return;
        };
        let Some(mut attempt) = self.attempt(&id) else {
            return;
        };
        let decision = if accept {
            Decision::Accepted
        } else {
            Decision::Rejected
        };
        if !attempt.decide(decision, now_ms()) {
            return;
        }
        device.log(
            LogLevel::Info,
            format!(
                "Module {}: otaAction({}), the update was {}",
                attempt.module,
                decision.ota_action(),
                if accept { "accepted" } else { "rejected" }
            ),
        );
        if !self.keep(attempt).await || !accept {
            return;
        }
        let Some(open) = self.view.get().plan.clone() else {
            return;
        };
        // The module is judged again at the time it is installed: the window may have closed.
        let Some(info) = device.view.get().module.clone() else {
            return self.fail("The module is no longer connected");
        };
        let eligibility = open
            .plan
            .eligibility(&module_report(&info, &open.plan), now_ms() / 1000);
        self.install(device, &id, eligibility).await;
    }

    async fn install(&self, device: &DeviceHandle, id: &str, eligibility: Eligibility) {
        let Some(open) = self.view.get().plan.clone() else {
            return;
        };
        let family = device.family();
        let offer = match (&eligibility, family) {
            (Eligibility::Eligible { updates, .. }, Some(f)) => {
                plan_offer(&open.plan, updates, f).map_err(|e| e.why)
            }
            (Eligibility::NotEligible { reasons }, _) => Err(format!(
                "the module may no longer take the plan: {}",
                reasons
                    .iter()
                    .map(|r| r.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            (_, None) => Err("the module's family is not known".into()),
        };
        let offer = match offer {
            Ok(o) => o,
            Err(why) => return self.end(id, Err(why)).await,
        };
        self.working(Some("Installing"));
        device.clear_result();
        let mirror = self.mirror_progress(device, id);
        let view = self.view.clone();
        let installed = device
            .install(&open.source, &offer, None, false, move |_, f| {
                view.update(|v| v.fetching = Some(f))
            })
            .await;
        drop(mirror);
        self.view.update(|v| v.fetching = None);
        let result = match installed {
            Installed::Done { .. } => {
                let running = device
                    .view
                    .get()
                    .module
                    .as_ref()
                    .map(|m| m.firmware_version.clone())
                    .filter(|v| !v.is_empty());
                let target = self.attempt(id).map(|a| a.to_version).unwrap_or_default();
                match running {
                    Some(v) if v != target => Err(format!(
                        "the module was written and checked, but after its restart it runs {v}, not {target}"
                    )),
                    running => Ok(running),
                }
            }
            // A job that failed says where and what the module holds in its result; a refusal
            // before the first byte says why.
            Installed::Failed { why, .. } => Err(match &device.progress.get().view {
                FlashView::Failed(e) => format!("{}. {}", e.headline(), e.module_now()),
                _ => why,
            }),
        };
        self.end(id, result).await;
    }

    async fn end(&self, id: &str, result: Result<Option<String>, String>) {
        let Some(mut attempt) = self.attempt(id) else {
            return;
        };
        attempt.finish(result, now_ms());
        self.keep(attempt).await;
        self.working(None);
    }

    /// Copy each progress change of `device`'s flash into the attempt; kept at each step and
    /// every 5 %.
    fn mirror_progress(
        &self,
        device: &DeviceHandle,
        id: &str,
    ) -> super::store::Watch<super::device::Progress> {
        let (this, progress, id) = (self.clone(), device.progress.clone(), id.to_string());
        device.progress.watch(yew::Callback::from(move |_| {
            let FlashView::Running {
                step, done, total, ..
            } = progress.get().view.clone()
            else {
                return;
            };
            let mut kept = None;
            this.view.update(|v| {
                if let Some(a) = v.attempts.iter_mut().find(|a| a.id == id) {
                    if a.progress(step, done, total, now_ms()) {
                        kept = Some(a.clone());
                    }
                }
            });
            if let Some(mut a) = kept {
                this.copy_log(&mut a);
                records::put_soon(&a);
            }
        }))
    }

    /// The next module: the demo fleet's next member not yet seen in this campaign, powered on
    /// and judged; with a real port, the technician plugs the next module and connects it.
    pub async fn next_module(&self, device: &DeviceHandle) {
        let seen: Vec<String> = self
            .view
            .get()
            .of_plan()
            .iter()
            .map(|a| a.module.clone())
            .collect();
        let member = next_member(|imei| seen.iter().any(|s| s == imei));
        device.log(
            LogLevel::Info,
            format!(
                "Demo fleet: module {} plugged in ({})",
                member.imei, member.note
            ),
        );
        self.view.update(|v| v.current = None);
        device.connect_demo_module(member.module(), DEMO_BAUD).await;
        self.check(device).await;
    }

    /// Run the open plan although it is unsigned (or not); the choice is kept with the plan.
    pub async fn allow_unsigned(&self, allow: bool) {
        if allow {
            self.devices.current().log(
                LogLevel::Warn,
                "The campaign plan runs unsigned, as the technician chose",
            );
        }
        self.view.update(|v| v.allow_unsigned = allow);
        if let Some(mut kept) = records::opened_plan().await {
            kept.allow_unsigned = allow;
            if let Err(e) = records::open_plan(&kept).await {
                self.fail(format!("The choice could not be kept in this browser: {e}"));
            }
        }
    }

    /// Start a new attempt for the same module, after a failure or an interruption.
    pub fn forget_current(&self) {
        self.view.update(|v| v.current = None);
    }

    fn attempt(&self, id: &str) -> Option<Attempt> {
        self.view.get().attempt(id).cloned()
    }

    fn copy_log(&self, attempt: &mut Attempt) {
        let mut from = self.log_from.borrow_mut();
        let Some(start) = from.get_mut(&attempt.id) else {
            return;
        };
        let lines = self.devices.log().get();
        for line in lines.iter().skip(*start) {
            attempt.log_line(format!("{} {}", line.clock, line.message));
        }
        *start = lines.len();
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
            Ok(()) => true,
            Err(e) => {
                self.fail(format!(
                    "The record of module {} could not be kept in this browser ({e}): the campaign stops here so that nothing goes unrecorded",
                    attempt.module
                ));
                false
            }
        }
    }

    /// The attempts of the open plan in a state worth a look after a reload.
    pub fn interrupted(&self) -> Vec<Attempt> {
        self.view
            .get()
            .of_plan()
            .into_iter()
            .filter(|a| a.state == AttemptState::Interrupted)
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
