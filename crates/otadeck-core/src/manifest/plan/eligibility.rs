//! May this module take this plan's update now? Every reason it may not, in words a technician
//! understands.

use super::time::WindowMiss;
use super::{CampaignPlan, FileTarget, Mode, PackageType};
use crate::version::{classify_update, UpdateKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// What a module reports about itself (read over the serial link). Deserialises from JSON with
/// every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModuleReport {
    /// IMEI, for cellular modules.
    pub imei: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Any other identity (device key, MAC address).
    pub identity: Option<String>,
    /// Model, e.g. `EC200U-CN`.
    pub model: Option<String>,
    /// Installed version of each component, by component id.
    pub versions: BTreeMap<String, String>,
    /// Battery level, %.
    pub battery_percent: Option<u8>,
    /// Signal strength, dBm.
    pub signal_dbm: Option<i32>,
    /// Free file system space, bytes.
    pub free_bytes: Option<u64>,
}

impl ModuleReport {
    /// The identities reported (trimmed, empty ones skipped), IMEI first.
    pub fn identities(&self) -> impl Iterator<Item = &str> {
        [&self.imei, &self.serial, &self.identity]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    fn name(&self) -> String {
        self.identities()
            .next()
            .map_or_else(|| "the module".into(), |id| format!("module {id}"))
    }
}

/// Why a module may not take the update, as a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// On the blacklist.
    Blacklisted,
    /// A whitelist exists and the module is not on it.
    NotWhitelisted,
    /// The plan has a list and the module reported no identity.
    NoIdentity,
    /// The model is not one the plan is for (or was not reported).
    WrongModel,
    /// Outside the daily push hours.
    OutsidePushHours,
    /// Before the plan's first date.
    PlanNotStarted,
    /// After the plan's last date.
    PlanEnded,
    /// Battery below the minimum (or not reported).
    BatteryLow,
    /// Signal below the minimum (or not reported).
    SignalWeak,
    /// Free space below the minimum or below what the files need (or not reported).
    FreeSpaceLow,
    /// A component's version was not reported.
    VersionUnknown,
    /// Every component is already at its target.
    AlreadyCurrent,
    /// A component is newer than the plan's target.
    Downgrade,
    /// A component's version cannot be ordered against the target.
    VersionIncomparable,
    /// No full package and no delta from the installed version.
    NoPackage,
}

/// A reason, with its code and its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// What kind of reason.
    pub code: ReasonCode,
    /// In words.
    pub message: String,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The package chosen for one component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChosenUpdate {
    /// Component id.
    pub component: String,
    /// Installed version.
    pub from_version: String,
    /// Version after the update.
    pub to_version: String,
    /// Index into [`CampaignPlan::packages`].
    pub package_index: usize,
    /// Full or delta.
    pub kind: PackageType,
    /// Bytes to download.
    pub download_bytes: u64,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Eligibility {
    /// The module may take these updates now (in manual mode, after a person confirms).
    Eligible {
        /// Silent or manual.
        mode: Mode,
        /// One per component that needs updating.
        updates: Vec<ChosenUpdate>,
    },
    /// It may not, for all these reasons.
    NotEligible {
        /// Every reason found.
        reasons: Vec<Reason>,
    },
}

impl Eligibility {
    /// True for [`Eligibility::Eligible`].
    pub fn is_eligible(&self) -> bool {
        matches!(self, Self::Eligible { .. })
    }
}

/// `12.5 MiB`, `300 KiB`, `512 B`.
fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

impl CampaignPlan {
    /// Decide for `module` at `now_unix` (seconds since the Unix epoch, from the caller's clock).
    pub fn eligibility(&self, module: &ModuleReport, now_unix: i64) -> Eligibility {
        let mut reasons = Vec::new();
        let mut why = |code, message: String| reasons.push(Reason { code, message });
        let who = module.name();
        self.check_lists(module, &mut why);
        self.check_model(module, &mut why);
        self.check_window(now_unix, &mut why);
        self.check_strategy(module, &mut why);
        let (updates, current) = self.choose_updates(module, &mut why);
        let fs_bytes: u64 = updates
            .iter()
            .flat_map(|u| &self.packages[u.package_index].files)
            .filter(|f| matches!(f.target, FileTarget::Destination(_)))
            .map(|f| f.size)
            .sum();
        if let (Some(free), true) = (module.free_bytes, fs_bytes > 0) {
            if free < fs_bytes {
                why(
                    ReasonCode::FreeSpaceLow,
                    format!(
                        "the files need {} on the file system; the module has {} free",
                        bytes(fs_bytes),
                        bytes(free)
                    ),
                );
            }
        }
        if reasons.is_empty() && updates.is_empty() && current == self.components.len() {
            let versions: Vec<String> = self
                .components
                .iter()
                .map(|c| format!("{} {}", c.id, c.target_version))
                .collect();
            let message = format!("{who} is already on {}", versions.join(", "));
            reasons.push(Reason {
                code: ReasonCode::AlreadyCurrent,
                message,
            });
        }
        if reasons.is_empty() {
            Eligibility::Eligible {
                mode: self.mode,
                updates,
            }
        } else {
            Eligibility::NotEligible { reasons }
        }
    }
}

impl CampaignPlan {
    /// The whitelist and the blacklist (which wins).
    fn check_lists(&self, module: &ModuleReport, why: &mut impl FnMut(ReasonCode, String)) {
        let who = module.name();
        let has_lists = !self.whitelist.is_empty() || !self.blacklist.is_empty();
        if module.identities().next().is_none() && has_lists {
            why(ReasonCode::NoIdentity, "the module reported no IMEI, serial or identity, so the plan's whitelist and blacklist cannot be checked".into());
        } else if let Some(id) = module.identities().find(|id| self.blacklist.contains(*id)) {
            why(
                ReasonCode::Blacklisted,
                format!("module {id} is on the blacklist"),
            );
        } else if !self.whitelist.is_empty()
            && !module.identities().any(|id| self.whitelist.contains(id))
        {
            why(
                ReasonCode::NotWhitelisted,
                format!("{who} is not on the plan's whitelist"),
            );
        }
    }

    /// The models the plan is for.
    fn check_model(&self, module: &ModuleReport, why: &mut impl FnMut(ReasonCode, String)) {
        if !self.models.is_empty() {
            match module.model.as_deref().map(str::trim) {
                None => why(
                    ReasonCode::WrongModel,
                    format!(
                        "the module did not report its model; the plan is for {}",
                        self.models.join(", ")
                    ),
                ),
                Some(m) if !self.models.iter().any(|p| p.eq_ignore_ascii_case(m)) => why(
                    ReasonCode::WrongModel,
                    format!(
                        "model {m} is not one the plan is for ({})",
                        self.models.join(", ")
                    ),
                ),
                Some(_) => {}
            }
        }
    }

    /// The push window, in the plan's time zone.
    fn check_window(&self, now_unix: i64, why: &mut impl FnMut(ReasonCode, String)) {
        if let Some(w) = &self.push_window {
            let tz = self.timezone;
            for miss in w.misses(tz, now_unix) {
                match miss {
                    WindowMiss::Hours { now } => why(
                        ReasonCode::OutsidePushHours,
                        format!(
                            "outside the push window {}–{} ({tz}); now {now}",
                            w.start, w.end
                        ),
                    ),
                    WindowMiss::NotYet { today } => why(
                        ReasonCode::PlanNotStarted,
                        format!(
                            "the plan starts on {} ({tz}); today is {today}",
                            w.from.unwrap_or(today)
                        ),
                    ),
                    WindowMiss::Over { today } => why(
                        ReasonCode::PlanEnded,
                        format!(
                            "the plan ended on {} ({tz}); today is {today}",
                            w.until.unwrap_or(today)
                        ),
                    ),
                }
            }
        }
    }

    /// The strategy's minimums: battery, signal, free space.
    fn check_strategy(&self, module: &ModuleReport, why: &mut impl FnMut(ReasonCode, String)) {
        let s = &self.strategy;
        if let Some(min) = s.min_battery_percent {
            match module.battery_percent {
                None => why(ReasonCode::BatteryLow, format!("the module did not report its battery level; the plan needs at least {min} %")),
                Some(b) if b < min => why(ReasonCode::BatteryLow, format!("battery {b} % is below the plan's minimum {min} %")),
                Some(_) => {}
            }
        }
        if let Some(min) = s.min_signal_dbm {
            match module.signal_dbm {
                None => why(ReasonCode::SignalWeak, format!("the module did not report its signal strength; the plan needs at least {min} dBm")),
                Some(d) if d < min => why(ReasonCode::SignalWeak, format!("signal {d} dBm is below the plan's minimum {min} dBm")),
                Some(_) => {}
            }
        }
        if let Some(min) = s.min_free_bytes {
            match module.free_bytes {
                None => why(
                    ReasonCode::FreeSpaceLow,
                    format!(
                        "the module did not report its free space; the plan needs at least {}",
                        bytes(min)
                    ),
                ),
                Some(f) if f < min => why(
                    ReasonCode::FreeSpaceLow,
                    format!(
                        "free space {} is below the plan's minimum {}",
                        bytes(f),
                        bytes(min)
                    ),
                ),
                Some(_) => {}
            }
        }
    }

    /// The package for each component that needs one (a delta from the installed version
    /// first, else a full package), and how many components are already current.
    fn choose_updates(
        &self,
        module: &ModuleReport,
        why: &mut impl FnMut(ReasonCode, String),
    ) -> (Vec<ChosenUpdate>, usize) {
        let mut updates = Vec::new();
        let mut current = 0;
        for c in &self.components {
            let Some(installed) = module.versions.get(&c.id).map(|v| v.trim()) else {
                why(
                    ReasonCode::VersionUnknown,
                    format!("the module did not report a version for {}", c.id),
                );
                continue;
            };
            let check = classify_update(installed, &c.target_version);
            match check.kind {
                UpdateKind::Same => current += 1,
                UpdateKind::Downgrade => why(
                    ReasonCode::Downgrade,
                    format!("{} {installed} is newer than the plan's target {}; the plan never downgrades", c.id, c.target_version),
                ),
                UpdateKind::Incomparable => why(
                    ReasonCode::VersionIncomparable,
                    format!("{} {installed} cannot be compared with the target {}: {}", c.id, c.target_version, check.note.unwrap_or_default()),
                ),
                UpdateKind::Upgrade => {
                    let ours = |i: &usize| self.packages[*i].component == c.id;
                    let delta = (0..self.packages.len()).filter(ours).find(|&i| {
                        self.packages[i].kind == PackageType::Delta
                            && self.packages[i].source_version.as_deref() == Some(installed)
                    });
                    let full = (0..self.packages.len()).filter(ours).find(|&i| self.packages[i].kind == PackageType::Full);
                    match delta.or(full) {
                        None => why(
                            ReasonCode::NoPackage,
                            format!("the plan has no full package for {} and no delta from {installed}", c.id),
                        ),
                        Some(i) => updates.push(ChosenUpdate {
                            component: c.id.clone(),
                            from_version: installed.into(),
                            to_version: c.target_version.clone(),
                            package_index: i,
                            kind: self.packages[i].kind,
                            download_bytes: self.packages[i].files.iter().map(|f| f.size).sum(),
                        }),
                    }
                }
            }
        }

        (updates, current)
    }
}
