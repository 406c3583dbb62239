//! The record of one module's attempt in a campaign, and every change of its state. The caller
//! keeps it (IndexedDB in the browser) whenever a change says so, before the next step starts.

use serde::{Deserialize, Serialize};

use super::facts::module_key;
use crate::manifest::plan::{CampaignPlan, Eligibility, Mode, ModuleReport, Reason};
use crate::module::ModuleInfo;
use crate::session::Step;

/// Lines of an attempt's log kept in its record (the newest).
pub const MAX_LOG_LINES: usize = 400;

/// Where an attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// The plan does not apply to the module now; the reasons say why.
    NotEligible,
    /// Manual mode: waiting for the technician to accept or reject.
    AwaitingConfirmation,
    /// The technician rejected the update (`otaAction(0)`).
    Rejected,
    /// Downloading and writing.
    Installing,
    /// Written, checked, and the module runs (or boots next) the target.
    Verified,
    /// It failed; the message says where and what the module holds.
    Failed,
    /// A reload or a closed page cut it off while it was writing.
    Interrupted,
}

impl AttemptState {
    /// The state in a few words.
    pub fn label(self) -> &'static str {
        match self {
            AttemptState::NotEligible => "not eligible",
            AttemptState::AwaitingConfirmation => "awaiting confirmation",
            AttemptState::Rejected => "rejected",
            AttemptState::Installing => "installing",
            AttemptState::Verified => "verified",
            AttemptState::Failed => "failed",
            AttemptState::Interrupted => "interrupted",
        }
    }

    /// Nothing more happens in this attempt.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            AttemptState::AwaitingConfirmation | AttemptState::Installing
        )
    }
}

/// The technician's answer in manual mode, recorded as the device side's `otaAction` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// `otaAction(1)`: go ahead.
    Accepted,
    /// `otaAction(0)`: not this module, not now.
    Rejected,
}

impl Decision {
    /// The `otaAction` argument.
    pub fn ota_action(self) -> u8 {
        match self {
            Decision::Accepted => 1,
            Decision::Rejected => 0,
        }
    }
}

/// One component's result, as a module reports per component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentResult {
    /// The component id.
    pub component: String,
    /// The version before.
    pub from_version: String,
    /// The version the plan brings it to.
    pub to_version: String,
    /// `succeeded`, `failed`, `interrupted`, `rejected`.
    pub result: String,
}

/// What to do next with an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Show the reasons; the module is not updated.
    ShowReasons,
    /// Show the release notes and wait for accept or reject.
    AskConfirmation,
    /// Download and install the plan's packages.
    Install,
    /// Nothing: the attempt has ended.
    Done,
}

/// One module's attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Unique: campaign, module and start time.
    pub id: String,
    /// The plan id.
    pub campaign: String,
    /// The module's identity ([`module_key`]).
    pub module: String,
    /// The module reported an identity (otherwise modules cannot be told apart).
    pub identified: bool,
    /// Model.
    pub model: String,
    /// The family's key.
    pub family: String,
    /// When it began, ms since the Unix epoch (the caller's clock).
    pub started_ms: i64,
    /// The last change, ms since the Unix epoch.
    pub updated_ms: i64,
    /// What was installed, in a few words (the plan's name, the image or source).
    #[serde(default)]
    pub image: String,
    /// The firmware version it ran before.
    pub from_version: String,
    /// The version the plan brings it to.
    pub to_version: String,
    /// The version it runs after the update, when read.
    pub running_after: Option<String>,
    /// Battery %, signal dBm, free bytes, as reported.
    pub battery_percent: Option<u8>,
    /// Signal strength, dBm.
    pub signal_dbm: Option<i32>,
    /// Free file system space, bytes.
    pub free_bytes: Option<u64>,
    /// Where it stands.
    pub state: AttemptState,
    /// Manual mode's answer.
    pub decision: Option<Decision>,
    /// Why the plan does not apply, when it does not.
    pub reasons: Vec<Reason>,
    /// The step of the install, while it runs or where it stopped.
    pub step: Option<Step>,
    /// Bytes of the current job done.
    pub done: u64,
    /// Of this many.
    pub total: u64,
    /// How it ended, in words.
    pub message: Option<String>,
    /// Per component results.
    pub results: Vec<ComponentResult>,
    /// This attempt's lines of the session log.
    pub log: Vec<String>,
}

impl Attempt {
    /// Open the record of `info`'s attempt at `now_ms`, given what the plan said of it.
    pub fn begin(
        plan: &CampaignPlan,
        info: &ModuleInfo,
        report: &ModuleReport,
        eligibility: &Eligibility,
        now_ms: i64,
    ) -> Attempt {
        let (state, reasons) = match eligibility {
            Eligibility::NotEligible { reasons } => (AttemptState::NotEligible, reasons.clone()),
            Eligibility::Eligible {
                mode: Mode::Manual, ..
            } => (AttemptState::AwaitingConfirmation, Vec::new()),
            Eligibility::Eligible { .. } => (AttemptState::Installing, Vec::new()),
        };
        let to_version = match eligibility {
            Eligibility::Eligible { updates, .. } => updates
                .first()
                .map_or_else(|| plan.target_version.clone(), |u| u.to_version.clone()),
            Eligibility::NotEligible { .. } => plan.target_version.clone(),
        };
        let results = match eligibility {
            Eligibility::Eligible { updates, .. } => updates
                .iter()
                .map(|u| ComponentResult {
                    component: u.component.clone(),
                    from_version: u.from_version.clone(),
                    to_version: u.to_version.clone(),
                    result: "pending".into(),
                })
                .collect(),
            Eligibility::NotEligible { .. } => Vec::new(),
        };
        let mut attempt = Attempt::outside_campaign(info, &plan.name, Some(to_version), now_ms);
        attempt.id = format!("{}/{}/{now_ms}", plan.id, attempt.module);
        attempt.campaign = plan.id.clone();
        attempt.battery_percent = report.battery_percent;
        attempt.signal_dbm = report.signal_dbm;
        attempt.free_bytes = report.free_bytes;
        attempt.state = state;
        attempt.reasons = reasons;
        attempt.results = results;
        attempt
    }

    /// The record of a flash or install outside any campaign (the Flash page), begun at
    /// `now_ms`: `what` names the image, `to_version` is the version it carries when known.
    /// Its `campaign` is empty.
    pub fn outside_campaign(
        info: &ModuleInfo,
        what: &str,
        to_version: Option<String>,
        now_ms: i64,
    ) -> Attempt {
        let (module, identified) = module_key(info);
        Attempt {
            id: format!("flash/{module}/{now_ms}"),
            campaign: String::new(),
            module,
            identified,
            model: info.model.clone(),
            family: info.family.key().into(),
            started_ms: now_ms,
            updated_ms: now_ms,
            image: what.to_string(),
            from_version: info.firmware_version.clone(),
            to_version: to_version.unwrap_or_default(),
            running_after: None,
            battery_percent: info.details.battery_percent(),
            signal_dbm: info.details.signal_dbm,
            free_bytes: info.details.free_bytes,
            state: AttemptState::Installing,
            decision: None,
            reasons: Vec::new(),
            step: None,
            done: 0,
            total: 0,
            message: None,
            results: Vec::new(),
            log: Vec::new(),
        }
    }

    /// What the caller does next.
    pub fn next(&self) -> Next {
        match self.state {
            AttemptState::NotEligible => Next::ShowReasons,
            AttemptState::AwaitingConfirmation => Next::AskConfirmation,
            AttemptState::Installing if self.step.is_none() => Next::Install,
            _ => Next::Done,
        }
    }

    /// The technician accepted or rejected (manual mode). False, and nothing changes, when the
    /// attempt was not waiting for an answer.
    pub fn decide(&mut self, decision: Decision, now_ms: i64) -> bool {
        if self.state != AttemptState::AwaitingConfirmation {
            return false;
        }
        self.decision = Some(decision);
        self.updated_ms = now_ms;
        match decision {
            Decision::Accepted => self.state = AttemptState::Installing,
            Decision::Rejected => {
                self.state = AttemptState::Rejected;
                self.message = Some("the technician rejected the update (otaAction(0))".into());
                self.set_results("rejected");
            }
        }
        true
    }

    /// The install moved on; true when the change is worth keeping now (a new step, every
    /// 5 %, the end of a job), false for a small step within one.
    pub fn progress(&mut self, step: Step, done: u64, total: u64, now_ms: i64) -> bool {
        if self.state != AttemptState::Installing {
            return false;
        }
        let percent = |d: u64, t: u64| (d * 100).checked_div(t).unwrap_or(0) / 5;
        let keep = self.step != Some(step)
            || self.total != total
            || percent(self.done, self.total) != percent(done, total)
            || (done == total && self.done != done);
        (self.step, self.done, self.total) = (Some(step), done, total);
        if keep {
            self.updated_ms = now_ms;
        }
        keep
    }

    /// Add a line to this attempt's log (only the newest [`MAX_LOG_LINES`] are kept).
    pub fn log_line(&mut self, line: impl Into<String>) {
        self.log.push(line.into());
        if self.log.len() > MAX_LOG_LINES {
            let extra = self.log.len() - MAX_LOG_LINES;
            self.log.drain(..extra);
        }
    }

    /// The install ended: `Ok(running version after, when read)` or `Err(why)`.
    pub fn finish(&mut self, result: Result<Option<String>, String>, now_ms: i64) {
        self.updated_ms = now_ms;
        match result {
            Ok(running) => {
                self.state = AttemptState::Verified;
                self.message = Some(match &running {
                    Some(v) => format!("verified; the module runs {v}"),
                    None => "verified".into(),
                });
                self.running_after = running;
                self.set_results("succeeded");
            }
            Err(why) => {
                self.state = AttemptState::Failed;
                self.message = Some(why);
                self.set_results("failed");
            }
        }
    }

    /// After a reload: an attempt still installing was cut off. True when it was (the record
    /// then says at which step and byte).
    pub fn interrupted(&mut self, now_ms: i64) -> bool {
        if self.state != AttemptState::Installing {
            return false;
        }
        self.state = AttemptState::Interrupted;
        self.updated_ms = now_ms;
        let at = match self.step {
            Some(step) => format!(
                "in step {} at byte {} of {}",
                step.label().to_lowercase(),
                crate::session::group_digits(self.done),
                crate::session::group_digits(self.total)
            ),
            None => "before the first byte was written".into(),
        };
        self.message = Some(format!(
            "interrupted by a reload or a closed page {at}; reconnect the module and check it \
             before it is updated again"
        ));
        self.set_results("interrupted");
        true
    }

    fn set_results(&mut self, result: &str) {
        for r in &mut self.results {
            r.result = result.into();
        }
    }
}
