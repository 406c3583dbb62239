//! The record store in real IndexedDB: each write read back in order, a reload that marks the
//! install it cut off and reopens the plan (resume), the export, and a flash from the Flash page
//! recorded with the campaigns' records.

#![cfg(target_arch = "wasm32")]

use otadeck::services::campaign::Campaigns;
use otadeck::services::devices::Devices;
use otadeck::services::records::{self, KeptPlan};
use otadeck_core::campaign::export::to_csv;
use otadeck_core::campaign::facts::module_report;
use otadeck_core::campaign::record::{Attempt, AttemptState, Decision};
use otadeck_core::manifest::plan;
use otadeck_core::module::{Family, ModuleInfo};
use otadeck_core::session::Step;
use otadeck_sim::firmware::SAMPLE_VERSION;
use otadeck_sim::fleet::{demo_plan, DEMO_FLEET, DEMO_PLAN_ID};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

mod common;

const PLAN_URL: &str = "http://127.0.0.1:18765/fx/ok/campaign/plan.json";

fn module(imei: &str) -> ModuleInfo {
    ModuleInfo {
        family: Family::QuecPython,
        model: "EC600U".into(),
        firmware_version: "2.0.3".into(),
        runtime: "MicroPython 1.13.0".into(),
        details: otadeck_core::module::ModuleDetails {
            imei: Some(imei.into()),
            battery_mv: Some(3900),
            signal_dbm: Some(-80),
            free_bytes: Some(1 << 20),
            identity: None,
        },
    }
}

/// An attempt of plan `campaign` for `imei`, accepted and writing at `done` of 1000 bytes.
fn writing(campaign: &str, imei: &str, done: u64) -> Attempt {
    let doc = demo_plan().replace(DEMO_PLAN_ID, campaign);
    let base = url::Url::parse(PLAN_URL).unwrap();
    let plan = plan::parse_with(doc.as_bytes(), Some(&base)).unwrap();
    let info = module(imei);
    let report = module_report(&info, &plan);
    let e = plan.eligibility(&report, 1_796_292_000);
    let mut a = Attempt::begin(&plan, &info, &report, &e, 1_796_292_000_000);
    assert!(a.decide(Decision::Accepted, 1_796_292_001_000));
    a.progress(Step::Write, done, 1000, 1_796_292_002_000);
    a
}

#[wasm_bindgen_test]
async fn each_write_is_read_back_and_the_newest_progress_wins() {
    otadeck::transport::demo::run_in_this_page();
    let a = writing("store-order", "869999050000011", 100);
    let b = writing("store-order", "869999050000037", 200);
    records::put(&a).await.unwrap();
    records::put(&b).await.unwrap();
    let mut later = a.clone();
    for done in [300, 400, 500] {
        later.progress(Step::Write, done, 1000, 1_796_292_003_000);
        records::put_soon(&later);
    }
    later.finish(Ok(Some(SAMPLE_VERSION.into())), 1_796_292_004_000);
    // The awaited write comes after the queued ones: nothing overtakes it.
    records::put(&later).await.unwrap();
    let kept = common::kept_of("store-order").await;
    assert_eq!(kept.len(), 2);
    let first = kept.iter().find(|k| k.id == a.id).unwrap();
    assert_eq!(first.state, AttemptState::Verified);
    assert_eq!(first.done, 500);
    assert_eq!(kept.iter().find(|k| k.id == b.id).unwrap(), &b);
}

#[wasm_bindgen_test]
async fn a_reload_marks_the_cut_off_install_keeps_it_so_and_reopens_the_plan() {
    otadeck::transport::demo::run_in_this_page();
    let cut = writing("store-reload", "869999050000052", 640);
    records::put(&cut).await.unwrap();
    let text = demo_plan().replace(DEMO_PLAN_ID, "store-reload");
    records::open_plan(&KeptPlan {
        id: "store-reload".into(),
        text,
        url: Some(PLAN_URL.into()),
        origin: PLAN_URL.into(),
        allow_unsigned: true,
    })
    .await
    .unwrap();

    // A new page: the service starts from what the browser kept.
    let campaigns = Campaigns::new(Devices::default());
    campaigns.restore().await;
    let plan_id = campaigns
        .view
        .get()
        .plan
        .as_ref()
        .map(|p| p.plan.id.clone());
    assert_eq!(plan_id.as_deref(), Some("store-reload"));
    assert!(campaigns.view.get().allow_unsigned);
    let shown = campaigns.interrupted();
    assert_eq!(shown.len(), 1);
    let message = shown[0].message.clone().unwrap();
    assert!(
        message.contains("in step writing at byte 640 of 1,000"),
        "{message}"
    );
    let kept = common::kept_of("store-reload").await;
    assert_eq!(kept[0].state, AttemptState::Interrupted);

    // Once marked, a second reload changes nothing, and the export has its row.
    let again = Campaigns::new(Devices::default());
    again.restore().await;
    assert_eq!(common::kept_of("store-reload").await, kept);
    let csv = to_csv(&kept);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(
        csv.lines().nth(1).unwrap().contains(",interrupted,"),
        "{csv}"
    );
}

#[wasm_bindgen_test]
async fn a_flash_from_the_flash_page_is_recorded_with_the_campaigns_records() {
    otadeck::transport::demo::run_in_this_page();
    use otadeck::image::load;
    use otadeck::services::jobs::FlashChoice;
    use otadeck_sim::demo::DemoFamily;
    let devices = Devices::default();
    let device = devices.current();
    device.connect_demo_member(&DEMO_FLEET[5], 921_600).await;
    let image =
        std::rc::Rc::new(load("sample.bin".into(), Family::QuecPython.sample_image()).await);
    let choice = FlashChoice {
        restart: true,
        keep_on_trial: false,
        erase_all: false,
        policy: Default::default(),
    };
    device.flash(image, choice).await;
    let mine: Vec<Attempt> = records::all()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.campaign.is_empty() && a.module == DEMO_FLEET[5].imei)
        .collect();
    // The end is kept in the background: wait for it.
    let mut last = mine.last().cloned().expect("the flash is recorded");
    for _ in 0..40 {
        if last.state != AttemptState::Installing {
            break;
        }
        gloo::timers::future::sleep(std::time::Duration::from_millis(50)).await;
        last = records::all()
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.id == last.id)
            .unwrap();
    }
    assert_eq!(last.state, AttemptState::Verified, "{last:?}");
    assert_eq!(last.running_after.as_deref(), Some(SAMPLE_VERSION));
    assert!(last.image.contains("sample.bin"), "{}", last.image);
    assert_eq!(last.from_version, "2.0.3");
}
