//! What a module reported, in the plan's terms.

use crate::manifest::plan::{CampaignPlan, ModuleReport};
use crate::module::ModuleInfo;

/// The component id a module's firmware version is reported under.
pub const FIRMWARE_COMPONENT: &str = "firmware";

/// `info` as the plan's eligibility rules read it. The firmware version the module runs is the
/// version of the plan's `firmware` component, or of its only component when it has one; other
/// components are not read from the module and count as not reported.
pub fn module_report(info: &ModuleInfo, plan: &CampaignPlan) -> ModuleReport {
    let running = info.firmware_version.trim();
    let versions = plan
        .components
        .iter()
        .filter(|c| c.id == FIRMWARE_COMPONENT || plan.components.len() == 1)
        .filter(|_| !running.is_empty())
        .map(|c| (c.id.clone(), running.to_string()))
        .collect();
    let d = &info.details;
    ModuleReport {
        imei: d.imei.clone(),
        serial: None,
        identity: d.identity.clone(),
        model: Some(info.model.clone()).filter(|m| !m.is_empty()),
        versions,
        battery_percent: d.battery_percent(),
        signal_dbm: d.signal_dbm,
        free_bytes: d.free_bytes,
    }
}

/// The name a record keeps for a module: its identity, else its model and family, marked as
/// not identified (such modules cannot be told apart).
pub fn module_key(info: &ModuleInfo) -> (String, bool) {
    match info.details.key() {
        Some(id) => (id.to_string(), true),
        None => (
            format!("unidentified {} {}", info.family.name(), info.model)
                .trim()
                .to_string(),
            false,
        ),
    }
}
