//! Working a campaign plan through a fleet, one module at a time, with no I/O: what a module
//! reports against the plan ([`facts`]), the record of each module's attempt and its state
//! changes ([`record`]), what the plan installs on it ([`plan_offer`]), the counts and the
//! progress over time ([`tally`]), and the exports ([`export`]).
//!
//! The caller (the web app, a test) owns the clock, the link and the store:
//! 1. identify the module, then [`facts::module_report`] and
//!    [`CampaignPlan::eligibility`](crate::manifest::plan::CampaignPlan::eligibility) at the
//!    caller's time;
//! 2. [`record::Attempt::begin`] opens the module's record; its [`record::Attempt::next`] says
//!    what to do: show the reasons, ask for a confirmation (manual mode), or install;
//! 3. [`record::Attempt::decide`], [`record::Attempt::progress`] and [`record::Attempt::finish`]
//!    move it on; each says whether the change must be kept before the next step starts;
//! 4. after a reload, [`record::Attempt::interrupted`] marks what was cut off.

pub mod export;
pub mod facts;
pub mod outbox;
pub mod record;
pub mod tally;

mod offer;

pub use offer::plan_offer;
