//! Campaigns in a real browser: the demo fleet judged by the page exactly as the core's rules
//! judge it, one module installed through the plan, and the plan's reports delivered once each. The plan and its package come from the
//! fixture server `cargo xtask test` starts (`otadeck sim fixtures` on 127.0.0.1:18765).

#![cfg(target_arch = "wasm32")]

use otadeck::services::campaign::Campaigns;
use otadeck::services::devices::Devices;
use otadeck_core::campaign::facts::module_report;
use otadeck_core::campaign::record::AttemptState;
use otadeck_core::manifest::plan::{Eligibility, ReasonCode};
use otadeck_sim::firmware::SAMPLE_VERSION;
use otadeck_sim::fleet::DEMO_FLEET;
use wasm_bindgen_test::*;

mod common;

wasm_bindgen_test_configure!(run_in_browser);

const PLAN_URL: &str = "http://127.0.0.1:18765/fx/ok/campaign/plan.json";

#[wasm_bindgen_test]
async fn the_page_judges_the_demo_fleet_by_the_core_rules_and_installs_an_eligible_module() {
    otadeck::transport::demo::run_in_this_page();
    let devices = Devices::default();
    let campaigns = Campaigns::new(devices.clone());
    campaigns.load_url(PLAN_URL).await;
    let plan = campaigns.view.get().plan.clone().expect("the plan opened");
    let device = devices.current();

    // Unsigned: nothing is judged before the technician chose to run it.
    device.connect_demo_member(&DEMO_FLEET[0], 921_600).await;
    campaigns.check(&device).await;
    let error = campaigns.view.get().slot(1).error.unwrap_or_default();
    assert!(error.contains("unsigned"), "{error}");
    assert!(campaigns.view.get().slot(1).current.is_none());
    campaigns.allow_unsigned(true).await;

    let mut seen = Vec::new();
    for member in &DEMO_FLEET[..4] {
        device.connect_demo_member(member, 921_600).await;
        campaigns.check(&device).await;
        let info = device.view.get().module.clone().expect("identified");
        let core = plan.plan.eligibility(
            &module_report(&info, &plan.plan),
            js_sys::Date::now() as i64 / 1000,
        );
        let id = campaigns.view.get().slot(1).current.expect("an attempt");
        let attempt = campaigns.view.get().attempt(&id).cloned().unwrap();
        assert_eq!(attempt.module, member.imei);
        match core {
            Eligibility::Eligible { .. } => {
                assert_eq!(attempt.state, AttemptState::AwaitingConfirmation)
            }
            Eligibility::NotEligible { reasons } => {
                assert_eq!(attempt.state, AttemptState::NotEligible);
                assert_eq!(attempt.reasons, reasons);
            }
        }
        seen.push(
            attempt
                .reasons
                .iter()
                .map(|r| r.code)
                .collect::<Vec<ReasonCode>>(),
        );
        if member.imei == DEMO_FLEET[2].imei {
            // The module waiting for its answer is accepted and updated through the plan.
            campaigns.decide(&device, true).await;
            let done = campaigns.view.get().attempt(&id).cloned().unwrap();
            assert_eq!(done.state, AttemptState::Verified, "{:?}", done.message);
            assert_eq!(done.running_after.as_deref(), Some(SAMPLE_VERSION));
            assert!(
                done.log
                    .iter()
                    .any(|l| l.contains("The module verified the package")),
                "{:?}",
                done.log
            );
        }
    }
    assert_eq!(
        seen,
        vec![
            vec![],
            vec![ReasonCode::Blacklisted],
            vec![],
            vec![ReasonCode::BatteryLow]
        ]
    );
    // What the page shows is what the browser kept.
    let kept = common::kept_of(&plan.plan.id).await;
    assert_eq!(kept, campaigns.view.get().of_plan());
}

/// The POSTs the fixture server received to `path`: (target, body, authorization).
async fn posts_to(path: &str) -> Vec<(String, String, String)> {
    common::requests()
        .await
        .into_iter()
        .filter(|r| r.method == "POST" && r.target.starts_with(path))
        .map(|r| (r.target, r.body, r.authorization))
        .collect()
}

#[wasm_bindgen_test]
async fn results_wait_while_the_server_fails_then_go_once_and_updated_modules_reach_hawkbit() {
    otadeck::transport::demo::run_in_this_page();
    use otadeck_core::campaign::outbox::{Delivery, ReportKind};
    let devices = Devices::default();
    let campaigns = Campaigns::new(devices.clone());
    campaigns
        .load_url("http://127.0.0.1:18765/fx/ok/campaign/plan-reports.json")
        .await;
    campaigns.allow_unsigned(true).await;
    let device = devices.current();

    // A module left as it was: its result is reported; the server fails once (503), so the
    // report waits, and goes when sent again.
    device.connect_demo_member(&DEMO_FLEET[1], 921_600).await;
    campaigns.check(&device).await;
    let waited = || async {
        for _ in 0..100 {
            let o = campaigns.view.get().outbox.clone();
            if !o.is_empty()
                && o.iter()
                    .all(|r| !matches!(r.delivery, Delivery::Pending { tries: 0, .. }))
            {
                return o;
            }
            gloo::timers::future::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the report was never tried");
    };
    let first = waited().await;
    assert_eq!(first.len(), 1);
    assert!(
        matches!(&first[0].delivery, Delivery::Pending { tries: 1, last: Some(l) } if l.contains("503")),
        "{:?}",
        first[0].delivery
    );
    campaigns.send_reports().await;
    campaigns.send_reports().await;
    let results = posts_to("/fx/fleet/results").await;
    assert_eq!(
        results.len(),
        2,
        "one refused with 503, one taken: {results:?}"
    );
    assert!(
        results[1].1.contains("\"state\":\"not eligible\""),
        "{}",
        results[1].1
    );
    assert!(matches!(
        campaigns.view.get().outbox[0].delivery,
        Delivery::Sent { status: 200, .. }
    ));

    // An updated module: its result goes at once; its hawkBit record waits for the login.
    device.connect_demo_member(&DEMO_FLEET[0], 921_600).await;
    campaigns.check(&device).await;
    campaigns.decide(&device, true).await;
    for _ in 0..100 {
        if campaigns.view.get().outbox.len() == 3 {
            break;
        }
        gloo::timers::future::sleep(std::time::Duration::from_millis(50)).await;
    }
    let hawkbit = campaigns
        .view
        .get()
        .outbox
        .iter()
        .find(|r| r.kind == ReportKind::HawkbitOffline)
        .cloned()
        .expect("a hawkBit report");
    assert!(hawkbit.pending());
    assert!(posts_to("/fx/hawkbit-mgmt").await.is_empty());
    campaigns.set_hawkbit_login("admin:admin").await;
    let sent = posts_to("/fx/hawkbit-mgmt").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].0,
        "/fx/hawkbit-mgmt/rest/v1/distributionsets/7/assignedTargets?offline=true"
    );
    assert_eq!(
        sent[0].1,
        format!("[{{\"id\":\"{}\"}}]", DEMO_FLEET[0].imei)
    );
    assert_eq!(sent[0].2, "Basic YWRtaW46YWRtaW4=");

    // After a reload every report is read back as sent, and none goes again.
    let again = Campaigns::new(Devices::default());
    again.restore().await;
    assert!(again
        .view
        .get()
        .outbox
        .iter()
        .filter(|r| r.attempt.starts_with("demo-with-reports"))
        .all(|r| matches!(r.delivery, Delivery::Sent { .. })));
    assert_eq!(posts_to("/fx/fleet/results").await.len(), 3);
    assert_eq!(posts_to("/fx/hawkbit-mgmt").await.len(), 1);
}
