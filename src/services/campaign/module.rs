//! The technician's actions on one bench slot: judge the module connected there against the
//! plan, accept or reject, install, bring the next module. Several slots run at once.

use otadeck_core::campaign::facts::module_report;
use otadeck_core::campaign::plan_offer;
use otadeck_core::campaign::record::{Attempt, Decision, Next};
use otadeck_core::manifest::plan::Eligibility;
use otadeck_core::session::LogLevel;
use otadeck_sim::fleet::next_member;

use super::super::device::{DeviceHandle, FlashView, LinkKind};
use super::super::install::Installed;
use super::super::records;
use super::{now_ms, Campaigns};

/// The baud rate the demo fleet's modules are reached at.
const DEMO_BAUD: u32 = 115_200;

impl Campaigns {
    /// Judge the connected module against the plan, record it, and go on as the plan's mode
    /// says: show the reasons, ask for a confirmation, or install at once (silent mode).
    pub async fn check(&self, device: &DeviceHandle) {
        let Some(open) = self.view.get().plan.clone() else {
            return self.fail_at(device, "Open a campaign plan first");
        };
        if device.view.get().link == LinkKind::None {
            return self.fail_at(device, "Connect a module first");
        }
        if open.source.signature.needs_consent() && !self.view.get().allow_unsigned {
            return self.fail_at(device, format!(
                "The plan is {}: tick \"Run this plan although it is {0}\" on the plan card, or import the key that signed it",
                open.source.signature.badge()
            ));
        }
        self.working(device, Some("Reading the module"));
        if device.view.get().module.is_none() {
            device.identify().await;
        }
        let Some(info) = device.view.get().module.clone() else {
            return self.fail_at(
                device,
                "The module did not say what it is: check the log, then try again",
            );
        };
        let report = module_report(&info, &open.plan);
        let eligibility = open.plan.eligibility(&report, now_ms() / 1000);
        let attempt = Attempt::begin(&open.plan, &info, &report, &eligibility, now_ms());
        self.log_from.borrow_mut().insert(
            attempt.id.clone(),
            super::LogCursor {
                next: self.devices.log().get().len(),
                prefix: device.log_prefix(),
            },
        );
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
            let slot = v.slots.entry(device.slot).or_default();
            slot.current = Some(id.clone());
            slot.working = None;
        });
        if self.attempt(&id).map(|a| a.next()) == Some(Next::Install) {
            self.install(device, &id, eligibility).await;
        }
    }

    /// The technician's answer in manual mode.
    pub async fn decide(&self, device: &DeviceHandle, accept: bool) {
        let Some(id) = self.view.get().slot(device.slot).current else {
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
            return self.fail_at(device, "The module is no longer connected");
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
            Err(why) => return self.end(device, id, Err(why)).await,
        };
        self.working(device, Some("Installing"));
        device.clear_result();
        let mirror = self.mirror_progress(device, id);
        let (view, slot) = (self.view.clone(), device.slot);
        device.set_in_campaign(true);
        let installed = device
            .install(&open.source, &offer, None, false, move |_, f| {
                view.update(|v| v.slots.entry(slot).or_default().fetching = Some(f))
            })
            .await;
        drop(mirror);
        device.set_in_campaign(false);
        self.view
            .update(|v| v.slots.entry(device.slot).or_default().fetching = None);
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
        self.end(device, id, result).await;
    }

    async fn end(&self, device: &DeviceHandle, id: &str, result: Result<Option<String>, String>) {
        let Some(mut attempt) = self.attempt(id) else {
            return;
        };
        attempt.finish(result, now_ms());
        self.keep(attempt).await;
        self.working(device, None);
    }

    /// Copy each progress change of `device`'s flash into the attempt; kept at each step and
    /// every 5 %.
    fn mirror_progress(
        &self,
        device: &DeviceHandle,
        id: &str,
    ) -> crate::services::store::Watch<crate::services::device::Progress> {
        let (this, progress, id) = (self.clone(), device.progress.clone(), id.to_string());
        device.progress.watch(yew::Callback::from(move |_| {
            let FlashView::Running {
                step, done, total, ..
            } = progress.get().view.clone()
            else {
                return;
            };
            let mut kept = None;
            // A small step within a job changes the record but redraws nothing.
            this.view.update_if(|v| {
                if let Some(a) = v.attempts.iter_mut().find(|a| a.id == id) {
                    if a.progress(step, done, total, now_ms()) {
                        this.copy_log(a);
                        kept = Some(a.clone());
                    }
                }
                kept.is_some()
            });
            if let Some(a) = kept {
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
        // A member on another slot now is not brought twice.
        let elsewhere: Vec<String> = self
            .devices
            .list()
            .get()
            .iter()
            .filter(|d| d.slot != device.slot)
            .filter_map(|d| d.view.get().module.as_ref()?.details.imei.clone())
            .collect();
        let member = next_member(|imei| seen.iter().chain(&elsewhere).any(|s| s == imei));
        device.log(
            LogLevel::Info,
            format!(
                "Demo fleet: module {} plugged in ({})",
                member.imei, member.note
            ),
        );
        self.forget_current(device);
        device.connect_demo_member(member, DEMO_BAUD).await;
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
    pub fn forget_current(&self, device: &DeviceHandle) {
        self.view
            .update(|v| v.slots.entry(device.slot).or_default().current = None);
    }
}
