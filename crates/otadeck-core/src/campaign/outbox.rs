//! Reports of a campaign's results, queued until they are delivered: each module's result per
//! component (POSTed to the plan's `report.url`), and each updated module recorded in hawkBit as
//! a manual offline update (`assignedTargets?offline=true`), so that the fleet's view stays true
//! for modules updated with no server session. Each report has a fixed id made from its attempt,
//! so it is queued once however often the attempt is kept; it is sent until the server takes it
//! (2xx) or refuses it for good (a 4xx other than 408 and 429). A result carries that id, so a
//! receiver can drop a copy sent again after the page closed before the answer was kept.

use serde::{Deserialize, Serialize};

use super::export::rfc3339;
use super::record::{Attempt, AttemptState};
use crate::manifest::plan::CampaignPlan;

/// What a report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// The module's result per component, to the plan's `report.url`.
    Result,
    /// A hawkBit offline assignment of the plan's distribution set to the module.
    HawkbitOffline,
}

/// Where a report stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Delivery {
    /// Not delivered yet: queued (offline, or the server failed for now).
    Pending {
        /// Attempts so far.
        tries: u32,
        /// The last failure, in words.
        last: Option<String>,
    },
    /// The server took it.
    Sent {
        /// When, ms since the Unix epoch.
        at_ms: i64,
        /// Its status.
        status: u16,
    },
    /// The server refused it for good; it is not sent again.
    Refused {
        /// Its status.
        status: u16,
        /// What it said, shortened.
        why: String,
    },
}

/// One report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// `<attempt id>#<kind>`: one per attempt and kind.
    pub id: String,
    /// The attempt it reports.
    pub attempt: String,
    /// What it is.
    pub kind: ReportKind,
    /// Where it is POSTed.
    pub url: String,
    /// The JSON body.
    pub body: String,
    /// Where it stands.
    pub delivery: Delivery,
}

impl Outgoing {
    /// It is still to be sent.
    pub fn pending(&self) -> bool {
        matches!(self.delivery, Delivery::Pending { .. })
    }

    /// The server answered `status` (`body`: what it said) at `now_ms`.
    pub fn answered(&mut self, status: u16, body: &str, now_ms: i64) {
        self.delivery = match status {
            200..=299 => Delivery::Sent {
                at_ms: now_ms,
                status,
            },
            408 | 429 => self.retry(format!("HTTP {status}: the server asks to try later")),
            400..=499 => Delivery::Refused {
                status,
                why: body.chars().take(300).collect(),
            },
            _ => self.retry(format!("HTTP {status}")),
        };
    }

    /// It could not be sent (no network, the server unreachable): it stays queued.
    pub fn failed(&mut self, why: impl Into<String>) {
        self.delivery = self.retry(why.into());
    }

    fn retry(&self, why: String) -> Delivery {
        let tries = match self.delivery {
            Delivery::Pending { tries, .. } => tries + 1,
            _ => 1,
        };
        Delivery::Pending {
            tries,
            last: Some(why),
        }
    }
}

/// A result per component, as a module reports its update.
#[derive(Serialize)]
struct ResultBody<'a> {
    /// The report's id: the same for every copy, so a receiver can drop a copy sent again.
    report_id: &'a str,
    plan: &'a str,
    module: &'a str,
    model: &'a str,
    state: &'a str,
    /// The technician's answer in manual mode: 1 accepted, 0 rejected.
    #[serde(rename = "otaAction", skip_serializing_if = "Option::is_none")]
    ota_action: Option<u8>,
    components: Vec<ComponentBody<'a>>,
    version_after: Option<&'a str>,
    message: Option<&'a str>,
    at: String,
}

#[derive(Serialize)]
struct ComponentBody<'a> {
    component: &'a str,
    from_version: &'a str,
    to_version: &'a str,
    result: &'a str,
}

#[derive(Serialize)]
struct AssignedTarget<'a> {
    id: &'a str,
}

/// The reports `plan` asks for about `attempt`, once it has ended: its result (any ending) and,
/// for a verified module with an identity, its hawkBit offline assignment.
pub fn reports_for(plan: &CampaignPlan, attempt: &Attempt) -> Vec<Outgoing> {
    if !attempt.state.is_final() || attempt.campaign != plan.id {
        return Vec::new();
    }
    let mut out = Vec::new();
    let new = |kind: ReportKind, url: String, body: String| Outgoing {
        id: format!(
            "{}#{}",
            attempt.id,
            match kind {
                ReportKind::Result => "result",
                ReportKind::HawkbitOffline => "hawkbit",
            }
        ),
        attempt: attempt.id.clone(),
        kind,
        url,
        body,
        delivery: Delivery::Pending {
            tries: 0,
            last: None,
        },
    };
    if let Some(url) = &plan.report.url {
        let report_id = format!("{}#result", attempt.id);
        let body = ResultBody {
            report_id: &report_id,
            plan: &plan.id,
            module: &attempt.module,
            model: &attempt.model,
            state: attempt.state.label(),
            ota_action: attempt.decision.map(|d| d.ota_action()),
            components: attempt
                .results
                .iter()
                .map(|r| ComponentBody {
                    component: &r.component,
                    from_version: &r.from_version,
                    to_version: &r.to_version,
                    result: &r.result,
                })
                .collect(),
            version_after: attempt.running_after.as_deref(),
            message: attempt.message.as_deref(),
            at: rfc3339(attempt.updated_ms),
        };
        if let Ok(json) = serde_json::to_string(&body) {
            out.push(new(ReportKind::Result, url.clone(), json));
        }
    }
    if let Some(h) = &plan.report.hawkbit {
        if attempt.state == AttemptState::Verified && attempt.identified {
            let url = format!(
                "{}/rest/v1/distributionsets/{}/assignedTargets?offline=true",
                h.base, h.distribution_set
            );
            let body = [AssignedTarget {
                id: &attempt.module,
            }];
            if let Ok(json) = serde_json::to_string(&body) {
                out.push(new(ReportKind::HawkbitOffline, url, json));
            }
        }
    }
    out
}
