//! A campaign's counts, one row per module, and the progress over time, from its attempts. A
//! module seen twice is one module: it counts once, by its latest state (a module once verified
//! stays done).

use std::collections::BTreeMap;

use serde::Serialize;

use super::record::{Attempt, AttemptState};
use crate::manifest::plan::{CampaignPlan, ReasonCode};

/// How a module stands in the campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Updated and verified.
    Done,
    /// It already ran the target.
    Current,
    /// The last attempt failed or was interrupted.
    Failed,
    /// Not eligible, or rejected.
    Skipped,
    /// An attempt is open.
    InProgress,
}

impl Standing {
    fn of(attempt: &Attempt) -> Standing {
        match attempt.state {
            AttemptState::Verified => Standing::Done,
            AttemptState::NotEligible
                if attempt
                    .reasons
                    .iter()
                    .all(|r| r.code == ReasonCode::AlreadyCurrent) =>
            {
                Standing::Current
            }
            AttemptState::NotEligible | AttemptState::Rejected => Standing::Skipped,
            AttemptState::Failed | AttemptState::Interrupted => Standing::Failed,
            AttemptState::AwaitingConfirmation | AttemptState::Installing => Standing::InProgress,
        }
    }
}

/// One module of the campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Its identity.
    pub module: String,
    /// How it stands.
    pub standing: Standing,
    /// Its latest attempt's state.
    pub state: AttemptState,
    /// The version before its first attempt.
    pub version_before: String,
    /// The version after, when verified.
    pub version_after: Option<String>,
    /// Attempts made.
    pub attempts: usize,
    /// When it was first and last seen, ms since the Unix epoch.
    pub first_ms: i64,
    /// See [`Row::first_ms`].
    pub last_ms: i64,
    /// Ids of its attempts, oldest first.
    pub attempt_ids: Vec<String>,
}

/// The counts of a campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Updated and verified.
    pub done: usize,
    /// Already on the target.
    pub current: usize,
    /// Failed or interrupted (their last attempt).
    pub failed: usize,
    /// Not eligible or rejected.
    pub skipped: usize,
    /// Open now.
    pub in_progress: usize,
    /// Modules of the whitelist not yet done or current; `None` when the plan has no
    /// whitelist (an open fleet).
    pub remaining: Option<usize>,
}

/// A point of the progress chart: the counts after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Point {
    /// When, ms since the Unix epoch.
    pub at_ms: i64,
    /// Done (updated or already current) by then.
    pub done: usize,
    /// Failed by then.
    pub failed: usize,
    /// Skipped by then.
    pub skipped: usize,
}

/// The campaign from its attempts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// The counts.
    pub counts: Counts,
    /// One row per module, in the order they were first seen.
    pub rows: Vec<Row>,
    /// The progress over time, one point per change.
    pub series: Vec<Point>,
}

/// Tally `attempts` (any order) of `plan`. Attempts of other campaigns are left out.
pub fn tally(plan: &CampaignPlan, attempts: &[Attempt]) -> Tally {
    let mut mine: Vec<&Attempt> = attempts.iter().filter(|a| a.campaign == plan.id).collect();
    crate::order::sort_by_key(&mut mine, |a| (a.started_ms, a.id.clone()));
    let mut rows: Vec<Row> = Vec::new();
    for a in &mine {
        let standing = Standing::of(a);
        match rows
            .iter_mut()
            .find(|r| r.module == a.module && a.identified)
        {
            Some(row) => {
                row.attempts += 1;
                row.attempt_ids.push(a.id.clone());
                row.last_ms = row.last_ms.max(a.updated_ms);
                // Once done, a later look at the same module (now current) does not undo it.
                if row.standing != Standing::Done {
                    row.standing = standing;
                    row.state = a.state;
                    row.version_after = a.running_after.clone();
                }
            }
            None => rows.push(Row {
                module: a.module.clone(),
                standing,
                state: a.state,
                version_before: a.from_version.clone(),
                version_after: a.running_after.clone(),
                attempts: 1,
                first_ms: a.started_ms,
                last_ms: a.updated_ms,
                attempt_ids: vec![a.id.clone()],
            }),
        }
    }
    let mut counts = Counts::default();
    for r in &rows {
        match r.standing {
            Standing::Done => counts.done += 1,
            Standing::Current => counts.current += 1,
            Standing::Failed => counts.failed += 1,
            Standing::Skipped => counts.skipped += 1,
            Standing::InProgress => counts.in_progress += 1,
        }
    }
    if !plan.whitelist.is_empty() {
        let finished = rows
            .iter()
            .filter(|r| matches!(r.standing, Standing::Done | Standing::Current))
            .filter(|r| plan.whitelist.contains(&r.module))
            .count();
        counts.remaining = Some(plan.whitelist.len().saturating_sub(finished));
    }
    Tally {
        counts,
        rows,
        series: series(&mine),
    }
}

/// The counts after each change, in time order.
fn series(attempts: &[&Attempt]) -> Vec<Point> {
    let mut changes: Vec<&&Attempt> = attempts.iter().filter(|a| a.state.is_final()).collect();
    crate::order::sort_by_key(&mut changes, |a| a.updated_ms);
    let mut by_module: BTreeMap<String, Standing> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, a) in changes.iter().enumerate() {
        let key = if a.identified {
            a.module.clone()
        } else {
            format!("{}#{i}", a.module)
        };
        let standing = Standing::of(a);
        let entry = by_module.entry(key).or_insert(standing);
        if *entry != Standing::Done {
            *entry = standing;
        }
        let count = |f: fn(Standing) -> bool| by_module.values().filter(|s| f(**s)).count();
        out.push(Point {
            at_ms: a.updated_ms,
            done: count(|s| matches!(s, Standing::Done | Standing::Current)),
            failed: count(|s| s == Standing::Failed),
            skipped: count(|s| s == Standing::Skipped),
        });
    }
    out
}
