//! A campaign worked through the demo fleet in the core: each module identified on the simulator,
//! judged against the plan, its attempt recorded through every state, the package downloaded
//! through its checks and installed; then the counts, the chart and the exports.

use std::time::Duration;

use otadeck_core::campaign::export::{rfc3339, to_csv, to_json};
use otadeck_core::campaign::facts::module_report;
use otadeck_core::campaign::plan_offer;
use otadeck_core::campaign::record::{Attempt, AttemptState, Decision, Next};
use otadeck_core::campaign::tally::{tally, Standing};
use otadeck_core::driver::quecpython::QuecPythonSession;
use otadeck_core::family::{self, Family, OpenOptions};
use otadeck_core::link::mp_repl::ReplConfig;
use otadeck_core::manifest::plan::{self, CampaignPlan, Eligibility, ReasonCode};
use otadeck_core::module::ModuleInfo;
use otadeck_core::session::Step;
use otadeck_core::source::download::Download;
use otadeck_core::source::install::prepare;
use otadeck_core::source::{ModuleFacts, Target};
use otadeck_sim::demo::DemoModule;
use otadeck_sim::firmware::{DEMO_RUNNING_VERSION, SAMPLE_VERSION};
use otadeck_sim::fleet::{demo_campaign_files, FleetMember, DEMO_FLEET, DEMO_PLAN_PATH};
use otadeck_sim::harness::run;
use otadeck_sim::line::SimLink;

const PLAN_URL: &str = "http://127.0.0.1:8080/demo/campaign/plan.json";
/// 2026-12-03 10:00 UTC.
const NOW: i64 = 1_796_292_000;

fn demo_file(path: &str) -> Vec<u8> {
    demo_campaign_files()
        .into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, d)| d)
        .unwrap()
}

fn demo_plan() -> CampaignPlan {
    let base = url::Url::parse(PLAN_URL).unwrap();
    plan::parse_with(&demo_file(DEMO_PLAN_PATH), Some(&base)).unwrap()
}

fn identify(link: &mut SimLink<DemoModule>) -> ModuleInfo {
    identify_at(link, Duration::ZERO)
}

fn identify_at(link: &mut SimLink<DemoModule>, start: Duration) -> ModuleInfo {
    let mut s = QuecPythonSession::identify(start, ReplConfig::default());
    let r = run(&mut s, link, start, Duration::from_secs(30), None);
    r.outcome().module.clone().expect("identified")
}

fn powered_on(member: &FleetMember) -> SimLink<DemoModule> {
    SimLink::new(member.module(), 921_600)
}

#[test]
fn the_demo_fleet_has_two_modules_that_may_not_take_the_plan_each_for_its_reason() {
    let plan = demo_plan();
    let mut verdicts = Vec::new();
    for m in &DEMO_FLEET {
        let info = identify(&mut powered_on(m));
        assert_eq!(info.details.imei.as_deref(), Some(m.imei));
        let e = plan.eligibility(&module_report(&info, &plan), NOW);
        verdicts.push(match e {
            Eligibility::Eligible { .. } => vec![],
            Eligibility::NotEligible { reasons } => reasons.iter().map(|r| r.code).collect(),
        });
    }
    assert_eq!(
        verdicts,
        vec![
            vec![],
            vec![ReasonCode::Blacklisted],
            vec![],
            vec![ReasonCode::BatteryLow],
            vec![],
            vec![],
        ]
    );
}

#[test]
fn an_eligible_module_is_confirmed_installed_and_verified_and_every_state_is_recorded() {
    let plan = demo_plan();
    let mut link = powered_on(&DEMO_FLEET[0]);
    let info = identify(&mut link);
    let report = module_report(&info, &plan);
    let eligibility = plan.eligibility(&report, NOW);
    let mut attempt = Attempt::begin(&plan, &info, &report, &eligibility, NOW * 1000);
    assert_eq!(attempt.state, AttemptState::AwaitingConfirmation);
    assert_eq!(attempt.next(), Next::AskConfirmation);
    assert_eq!(attempt.from_version, DEMO_RUNNING_VERSION);
    assert_eq!(attempt.to_version, SAMPLE_VERSION);
    assert_eq!(attempt.battery_percent, Some(72));
    assert!(attempt.decide(Decision::Accepted, NOW * 1000 + 5));
    assert!(!attempt.decide(Decision::Rejected, NOW * 1000 + 6));
    assert_eq!(attempt.next(), Next::Install);

    let Eligibility::Eligible { updates, .. } = &eligibility else {
        panic!("eligible")
    };
    let offer = plan_offer(&plan, updates, Family::QuecPython).unwrap();
    assert_eq!(offer.items.len(), 1);
    assert_eq!(offer.items[0].target, Target::App);
    assert_eq!(
        offer.items[0].url,
        "http://127.0.0.1:8080/demo/campaign/ec600u-app-2.1.0.bin"
    );
    let mut download = Download::new(&offer.items[0]);
    for c in demo_file("campaign/ec600u-app-2.1.0.bin").chunks(4096) {
        download.feed(c).unwrap();
    }
    let image = download.finish().unwrap().data;
    let facts = ModuleFacts::from_module(&info, None);
    let install = prepare(&offer, vec![image], &facts, None).unwrap();
    let mut kept = 0;
    let mut clock = Duration::from_secs(1);
    for job in install.jobs {
        let mut session =
            family::open(Family::QuecPython, job, OpenOptions::default(), clock).unwrap();
        let r = run(
            &mut session,
            &mut link,
            clock,
            Duration::from_secs(120),
            None,
        );
        clock += r.elapsed + Duration::from_secs(5);
        for e in &r.events {
            if let otadeck_core::session::SessionEvent::Progress { done, total } = e {
                kept += usize::from(attempt.progress(Step::Write, *done, *total, NOW * 1000));
            }
        }
        let running = r
            .outcome()
            .module
            .as_ref()
            .map(|m| m.firmware_version.clone());
        attempt.finish(Ok(running), NOW * 1000 + 30_000);
    }
    // Kept at every 5 % of the write, not at every block.
    assert!((20..=23).contains(&kept), "kept {kept} times");
    assert_eq!(attempt.state, AttemptState::Verified);
    assert_eq!(attempt.running_after.as_deref(), Some(SAMPLE_VERSION));
    assert_eq!(attempt.results[0].result, "succeeded");
    // Seen again, the module is on the target and may not take the plan.
    let again = identify_at(&mut link, clock);
    let e = plan.eligibility(&module_report(&again, &plan), NOW);
    assert!(
        matches!(&e, Eligibility::NotEligible { reasons } if reasons[0].code == ReasonCode::AlreadyCurrent)
    );
    let second = Attempt::begin(
        &plan,
        &again,
        &module_report(&again, &plan),
        &e,
        NOW * 1000 + 60_000,
    );
    let t = tally(&plan, &[attempt, second]);
    assert_eq!(t.rows.len(), 1, "one module, seen twice");
    assert_eq!(t.rows[0].standing, Standing::Done);
    assert_eq!(t.rows[0].attempts, 2);
    assert_eq!(t.counts.done, 1);
    assert_eq!(t.counts.remaining, Some(5));
}

fn attempt_for(plan: &CampaignPlan, member: &FleetMember, at_s: i64) -> Attempt {
    let info = identify(&mut powered_on(member));
    let report = module_report(&info, plan);
    let e = plan.eligibility(&report, NOW);
    Attempt::begin(plan, &info, &report, &e, at_s * 1000)
}

#[test]
fn a_reload_marks_the_write_it_cut_off_with_its_step_and_byte() {
    let plan = demo_plan();
    let mut a = attempt_for(&plan, &DEMO_FLEET[2], NOW);
    a.decide(Decision::Accepted, NOW * 1000);
    assert!(a.progress(Step::Write, 40_960, 98_400, NOW * 1000 + 10));
    assert!(a.interrupted(NOW * 1000 + 20));
    assert_eq!(a.state, AttemptState::Interrupted);
    let m = a.message.clone().unwrap();
    assert!(
        m.contains("in step writing at byte 40,960 of 98,400"),
        "{m}"
    );
    // Said once: a second reload changes nothing.
    assert!(!a.interrupted(NOW * 1000 + 30));
    // A module waiting for its confirmation was not being written.
    let mut waiting = attempt_for(&plan, &DEMO_FLEET[4], NOW);
    assert!(!waiting.interrupted(NOW * 1000));
    assert_eq!(waiting.state, AttemptState::AwaitingConfirmation);
}

#[test]
fn counts_rows_and_chart_follow_the_latest_state_of_each_module() {
    let plan = demo_plan();
    let mut first = attempt_for(&plan, &DEMO_FLEET[0], NOW);
    first.decide(Decision::Accepted, NOW * 1000 + 1000);
    first.finish(
        Err("the link dropped in step writing".into()),
        NOW * 1000 + 2000,
    );
    let blacklisted = attempt_for(&plan, &DEMO_FLEET[1], NOW + 10);
    let mut rejected = attempt_for(&plan, &DEMO_FLEET[2], NOW + 20);
    rejected.decide(Decision::Rejected, NOW * 1000 + 21_000);
    let mut retry = attempt_for(&plan, &DEMO_FLEET[0], NOW + 30);
    retry.decide(Decision::Accepted, NOW * 1000 + 31_000);
    retry.finish(Ok(Some(SAMPLE_VERSION.into())), NOW * 1000 + 40_000);
    let all = [first, blacklisted, rejected, retry];
    let t = tally(&plan, &all);
    let c = &t.counts;
    assert_eq!((c.done, c.failed, c.skipped, c.in_progress), (1, 0, 2, 0));
    assert_eq!(c.remaining, Some(5));
    assert_eq!(t.rows.len(), 3);
    assert_eq!(t.rows[0].attempts, 2);
    assert_eq!(t.rows[0].version_after.as_deref(), Some(SAMPLE_VERSION));
    let points: Vec<(usize, usize, usize)> = t
        .series
        .iter()
        .map(|p| (p.done, p.failed, p.skipped))
        .collect();
    assert_eq!(points, vec![(0, 1, 0), (0, 1, 1), (0, 1, 2), (1, 0, 2)]);
    assert_eq!(rejected_action(&all[2]), Some(0));
}

fn rejected_action(a: &Attempt) -> Option<u8> {
    a.decision.map(Decision::ota_action)
}

#[test]
fn exports_have_one_csv_row_per_attempt_and_every_field_in_json() {
    let plan = demo_plan();
    let mut failed = attempt_for(&plan, &DEMO_FLEET[0], NOW);
    failed.decide(Decision::Accepted, NOW * 1000);
    failed.finish(
        Err("the module stopped answering, in step writing, at 40,960 bytes".into()),
        NOW * 1000 + 9000,
    );
    let low = attempt_for(&plan, &DEMO_FLEET[3], NOW + 60);
    let csv_text = to_csv(&[failed.clone(), low.clone()]);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("module")], DEMO_FLEET[0].imei);
    assert_eq!(&rows[0][col("state")], "failed");
    assert_eq!(&rows[0][col("decision")], "accepted");
    assert_eq!(
        &rows[0][col("message")],
        "the module stopped answering, in step writing, at 40,960 bytes"
    );
    assert_eq!(&rows[0][col("started")], "2026-12-03T10:00:00Z");
    assert_eq!(&rows[1][col("state")], "not eligible");
    assert!(
        rows[1][col("reasons")].contains("battery"),
        "{:?}",
        &rows[1]
    );
    let json: Vec<Attempt> = serde_json::from_str(&to_json(&[failed.clone(), low])).unwrap();
    assert_eq!(json[0], failed);
    assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
}

#[test]
fn a_plan_file_for_the_file_system_is_refused_on_a_module_that_takes_no_files() {
    let doc = serde_json::json!({
        "format": "otadeck-campaign-plan", "version": 1, "id": "files", "name": "Files",
        "target_version": "2.1.0", "components": [{"id": "firmware"}],
        "packages": [{"type": "full", "files": [{
            "url": "https://example.com/main.py", "size": 10,
            "hashes": {"sha256": "00".repeat(32)}, "destination": "/usr/main.py"}]}],
        "mode": "silent"
    });
    let plan = plan::parse(doc.to_string().as_bytes()).unwrap();
    let info = identify(&mut powered_on(&DEMO_FLEET[0]));
    let Eligibility::Eligible { updates, .. } = plan.eligibility(&module_report(&info, &plan), NOW)
    else {
        panic!("eligible")
    };
    let why = plan_offer(&plan, &updates, Family::QuecPython)
        .unwrap_err()
        .why;
    assert!(why.contains("/usr/main.py"), "{why}");
    let ok = plan_offer(&plan, &updates, Family::Pycom).unwrap();
    assert!(matches!(ok.items[0].target, Target::File { .. }));
}

#[test]
fn a_relative_file_url_resolves_against_the_plan_and_a_pasted_plan_needs_absolute_ones() {
    let text = demo_file(DEMO_PLAN_PATH);
    let fetched = demo_plan();
    assert_eq!(
        fetched.packages[0].files[0].url,
        "http://127.0.0.1:8080/demo/campaign/ec600u-app-2.1.0.bin"
    );
    let pasted = plan::parse(&text).unwrap_err().to_string();
    assert!(pasted.contains("is relative"), "{pasted}");
    // Resolved, the URL meets the same rules: plain http only to this machine.
    let far = url::Url::parse("http://updates.example.com/plan.json").unwrap();
    let refused = plan::parse_with(&text, Some(&far)).unwrap_err().to_string();
    assert!(refused.contains("plain http"), "{refused}");
}

#[test]
fn a_plan_reports_each_result_and_records_updated_modules_in_hawkbit_as_offline_updates() {
    use otadeck_core::campaign::outbox::{reports_for, Delivery, ReportKind};
    let mut doc: serde_json::Value = serde_json::from_slice(&demo_file(DEMO_PLAN_PATH)).unwrap();
    doc["report"] = serde_json::json!({
        "url": "results",
        "hawkbit": {"base": "https://hawkbit.example.com/", "distribution_set": 42}
    });
    let base = url::Url::parse(PLAN_URL).unwrap();
    let plan = plan::parse_with(doc.to_string().as_bytes(), Some(&base)).unwrap();
    let mut verified = attempt_for(&plan, &DEMO_FLEET[0], NOW);
    // Nothing to report while it runs.
    assert!(reports_for(&plan, &verified).is_empty());
    verified.decide(Decision::Accepted, NOW * 1000);
    verified.finish(Ok(Some(SAMPLE_VERSION.into())), NOW * 1000 + 20_000);
    let reports = reports_for(&plan, &verified);
    assert_eq!(reports.len(), 2);
    let result = &reports[0];
    assert_eq!(result.kind, ReportKind::Result);
    assert_eq!(result.url, "http://127.0.0.1:8080/demo/campaign/results");
    let body: serde_json::Value = serde_json::from_str(&result.body).unwrap();
    assert_eq!(body["module"], DEMO_FLEET[0].imei);
    assert_eq!(body["report_id"], result.id.as_str());
    assert_eq!(body["otaAction"], 1);
    assert_eq!(body["components"][0]["result"], "succeeded");
    assert_eq!(body["components"][0]["to_version"], SAMPLE_VERSION);
    let hawkbit = &reports[1];
    assert_eq!(
        hawkbit.url,
        "https://hawkbit.example.com/rest/v1/distributionsets/42/assignedTargets?offline=true"
    );
    assert_eq!(
        hawkbit.body,
        format!("[{{\"id\":\"{}\"}}]", DEMO_FLEET[0].imei)
    );
    // The same attempt gives the same ids: it is queued once however often it is kept.
    assert_eq!(reports_for(&plan, &verified)[0].id, result.id);
    // A module left as it was is reported, and not recorded in hawkBit.
    let blacklisted = attempt_for(&plan, &DEMO_FLEET[1], NOW);
    let only = reports_for(&plan, &blacklisted);
    assert_eq!(only.len(), 1);
    assert!(
        only[0].body.contains("\"state\":\"not eligible\""),
        "{}",
        only[0].body
    );

    // Delivery: retried after a failure or a 5xx, kept after a 2xx, dropped after a 4xx.
    let mut r = result.clone();
    r.failed("no network");
    r.answered(503, "", 1);
    assert!(matches!(r.delivery, Delivery::Pending { tries: 2, .. }));
    r.answered(201, "", 2);
    assert_eq!(
        r.delivery,
        Delivery::Sent {
            at_ms: 2,
            status: 201
        }
    );
    let mut h = hawkbit.clone();
    h.answered(429, "", 3);
    assert!(h.pending());
    h.answered(404, "distribution set 42 not found", 4);
    assert!(matches!(h.delivery, Delivery::Refused { status: 404, .. }));
}
