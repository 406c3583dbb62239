//! The demo fleet: QuecPython modules (EC600U), each with its own IMEI and condition, and the
//! campaign plan that brings them to the sample firmware. Two of them may not take it: one is on
//! the plan's blacklist, one has a flat battery. The web app serves the plan and the package from
//! `static/demo/campaign/`; "Next module" powers on the next member the campaign has not seen.

use serde_json::json;
use sha2::Digest;

use crate::demo::{quecpython_demo_config, DemoModule};
use crate::firmware::{quecpython_running_package, quecpython_sample_package, SAMPLE_VERSION};
use crate::mp_repl::RawPasteSupport;
use crate::quecpython::{self, QuecPythonConfig};

/// The plan's id.
pub const DEMO_PLAN_ID: &str = "demo-ec600u-2.1.0";
/// Where the plan is, under the demo folder.
pub const DEMO_PLAN_PATH: &str = "campaign/plan.json";
/// The package's file name, next to the plan.
pub const DEMO_PACKAGE_FILE: &str = "ec600u-app-2.1.0.bin";
/// The family of every member.
pub const DEMO_FLEET_FAMILY: otadeck_core::family::Family =
    otadeck_core::family::Family::QuecPython;

/// One module of the demo fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetMember {
    /// Its IMEI.
    pub imei: &'static str,
    /// Battery voltage, mV.
    pub battery_mv: u32,
    /// Signal quality, CSQ (0–31).
    pub csq: i64,
    /// What it shows in the demo, in a few words.
    pub note: &'static str,
}

/// The fleet, in the order "Next module" brings them.
pub const DEMO_FLEET: [FleetMember; 6] = [
    FleetMember {
        imei: "869999050000011",
        battery_mv: 3980,
        csq: 22,
        note: "eligible",
    },
    FleetMember {
        imei: "869999050000029",
        battery_mv: 4010,
        csq: 25,
        note: "on the blacklist",
    },
    FleetMember {
        imei: "869999050000037",
        battery_mv: 3900,
        csq: 18,
        note: "eligible",
    },
    FleetMember {
        imei: "869999050000045",
        battery_mv: 3500,
        csq: 20,
        note: "battery at 12 %",
    },
    FleetMember {
        imei: "869999050000052",
        battery_mv: 4100,
        csq: 27,
        note: "eligible",
    },
    FleetMember {
        imei: "869999050000060",
        battery_mv: 3850,
        csq: 16,
        note: "eligible",
    },
];

/// The blacklisted member's IMEI.
const BLACKLISTED: &str = "869999050000029";

impl FleetMember {
    /// The member powered on, at its prompt, running the demo firmware.
    pub fn module(&self) -> DemoModule {
        let config = QuecPythonConfig {
            imei: self.imei.into(),
            battery_mv: Some(self.battery_mv),
            csq: self.csq,
            ..quecpython_demo_config("EC600U")
        };
        DemoModule::QuecPython(quecpython::device(
            config,
            quecpython_running_package(),
            RawPasteSupport::Window(128),
        ))
    }
}

/// The member to bring next: the first whose IMEI is not in `seen`, else the first.
pub fn next_member<'a>(seen: impl Fn(&str) -> bool + 'a) -> &'static FleetMember {
    DEMO_FLEET
        .iter()
        .find(|m| !seen(m.imei))
        .unwrap_or(&DEMO_FLEET[0])
}

/// The demo plan: every member on the whitelist, one on the blacklist, a battery minimum of
/// 30 % and a signal minimum of -105 dBm, manual mode with notes in three languages, one full
/// package of the sample firmware at a URL relative to the plan.
pub fn demo_plan() -> String {
    let package = quecpython_sample_package();
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let plan = json!({
        "format": "otadeck-campaign-plan",
        "version": 1,
        "id": DEMO_PLAN_ID,
        "name": "EC600U trackers to firmware 2.1.0",
        "target_version": SAMPLE_VERSION,
        "models": ["EC600U"],
        "components": [{"id": "firmware", "name": "Module firmware"}],
        "packages": [{
            "type": "full",
            "files": [{
                "url": DEMO_PACKAGE_FILE,
                "size": package.len(),
                "hashes": {
                    "sha256": hex(&sha2::Sha256::digest(&package)),
                    "md5": hex(&md5::Md5::digest(&package)),
                },
                "role": "firmware",
            }],
        }],
        "whitelist": DEMO_FLEET.iter().map(|m| m.imei).collect::<Vec<_>>(),
        "blacklist": [BLACKLISTED],
        "timezone": "+01:00",
        "mode": "manual",
        "strategy": {"min_battery_percent": 30, "min_signal_dbm": -105},
        "release_notes": {
            "en": "Firmware 2.1.0: faster GNSS fix, fewer modem resets in weak coverage.",
            "de": "Firmware 2.1.0: schnellerer GNSS-Fix, weniger Modem-Neustarts bei schwachem Empfang.",
            "zh-CN": "固件 2.1.0：GNSS 定位更快，弱信号下调制解调器重启更少。",
        },
    });
    serde_json::to_string_pretty(&plan).expect("a JSON value serialises")
}

/// The plan and its package, as `(path under the demo folder, bytes)`.
pub fn demo_campaign_files() -> Vec<(String, Vec<u8>)> {
    vec![
        (DEMO_PLAN_PATH.into(), demo_plan().into_bytes()),
        (
            format!("campaign/{DEMO_PACKAGE_FILE}"),
            quecpython_sample_package(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_member_is_the_first_not_seen() {
        assert_eq!(next_member(|_| false).imei, DEMO_FLEET[0].imei);
        let seen = [DEMO_FLEET[0].imei, DEMO_FLEET[1].imei];
        assert_eq!(next_member(|i| seen.contains(&i)).imei, DEMO_FLEET[2].imei);
        assert_eq!(next_member(|_| true).imei, DEMO_FLEET[0].imei);
    }
}
