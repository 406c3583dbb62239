//! QuecPython module-side download (`httpDownload`, mini FOTA, `download_cancel`) against the
//! simulated module on a virtual clock: live progress, both return behaviours, failures,
//! cancel, faults and URL checks. After each run the module is power-cycled and the firmware it
//! boots is checked.

use crate::support;

use std::time::Duration;

use otadeck_core::driver::quecpython::download::{
    check_url, download, ApnSettings, DownloadOptions, QuecPythonDownload,
};
use otadeck_core::session::{FlashErrorKind, LogLevel, Machine, SessionEvent, Step};
use otadeck_sim::firmware::{
    quecpython_package, quecpython_running_package, quecpython_sample_package,
    DEMO_RUNNING_VERSION, SAMPLE_VERSION,
};
use otadeck_sim::harness::{run, Hook, Run};
use otadeck_sim::line::{LineFault, SimLink};
use otadeck_sim::mp_repl::{RawPasteSupport, ReplDevice};
use otadeck_sim::quecpython::{device, QuecPython, QuecPythonConfig};
use otadeck_sim::quecpython_download::{SimPackage, REJECTED};
use support::{check_report, Recorder};

type Link = SimLink<ReplDevice<QuecPython>>;
type Session = Recorder<QuecPythonDownload>;

const LIMIT: Duration = Duration::from_secs(900);
const KEEP_OLD: &str = "still runs its previous firmware";
const PKG: &str = "https://fw.example.com/ec/app-2.1.0.bin";
const STAGE1: &str = "https://fw.example.com/ec600n/mini-stage1.bin";
const STAGE2: &str = "https://fw.example.com/ec600n/mini-stage2.bin";
const MINI_VERSION: &str = "3.0.0-mini";

fn bad_package() -> Vec<u8> {
    let mut p = quecpython_sample_package();
    let mid = p.len() / 2;
    p[mid] ^= 0x5a;
    p
}

fn config(model: &str) -> QuecPythonConfig {
    QuecPythonConfig {
        model: model.into(),
        packages: vec![
            SimPackage::serving(PKG, quecpython_sample_package()),
            SimPackage::serving(
                "http://fw.example.com/plain.bin",
                quecpython_sample_package(),
            ),
            SimPackage::serving("https://fw.example.com/bad.bin", bad_package()),
            SimPackage::failing("https://fw.example.com/missing.bin", 3, 404),
            SimPackage::serving(STAGE1, quecpython_package("mini-system", 32 * 1024)),
            SimPackage::serving(STAGE2, quecpython_package(MINI_VERSION, 96 * 1024)),
        ],
        ..QuecPythonConfig::default()
    }
}

fn module(config: QuecPythonConfig) -> Link {
    SimLink::new(
        device(
            config,
            quecpython_running_package(),
            RawPasteSupport::Window(128),
        ),
        115_200,
    )
}

fn go(
    link: &mut Link,
    options: DownloadOptions,
    hook: Option<Hook<'_, Session, ReplDevice<QuecPython>>>,
) -> (Run, Session) {
    let mut s = Recorder::new(download(Duration::ZERO, options));
    let r = run(&mut s, link, Duration::ZERO, LIMIT, hook);
    (r, s)
}

/// Download [`PKG`], pressing Cancel once the module reports `percent` %.
fn download_cancelled_at(link: &mut Link, percent: u64) -> (Run, Session) {
    let mut pressed = false;
    let mut hook = |now: Duration, s: &mut Session, _l: &mut Link| {
        if s.done >= percent && !pressed {
            pressed = true;
            s.cancel(now);
        }
    };
    go(link, DownloadOptions::new(PKG), Some(&mut hook))
}

/// Pull the power, let it boot, and say what the module runs.
fn version_after_power_cycle(link: &mut Link, now: Duration) -> String {
    link.device.power_cycle(now);
    link.advance(now + Duration::from_secs(120));
    link.device.interpreter.running_version()
}

#[test]
fn a_blocking_download_reports_rising_progress_and_the_host_restarts_into_it() {
    let mut link = module(config("EC600U"));
    let (r, s) = go(&mut link, DownloadOptions::new(PKG), None);
    assert!(r.outcome().restarted);
    assert_eq!(r.module_version(), SAMPLE_VERSION);
    let pct = r.progress();
    assert!(pct.len() >= 5, "{pct:?}");
    assert!(pct.windows(2).all(|w| w[0] < w[1]), "{pct:?}");
    assert_eq!(pct.last(), Some(&100));
    eprintln!(
        "download of {} bytes took {:?} virtual, {} bytes sent by the host",
        quecpython_sample_package().len(),
        r.elapsed,
        s.sent.len()
    );
    let calls = &link.device.interpreter.calls;
    assert!(
        calls.contains(&"fota(reset_disable=1)".to_string()),
        "{calls:?}"
    );
    assert!(calls.contains(&"powerRestart()".to_string()), "{calls:?}");
    assert!(s.steps.contains(&Step::Download) && s.steps.contains(&Step::Confirm));
    // https: no warning about plain http.
    assert!(!r.logged_at(LogLevel::Warn, "plain http"));
    assert_eq!(
        version_after_power_cycle(&mut link, r.elapsed),
        SAMPLE_VERSION
    );
}

#[test]
fn progress_arrives_while_the_exec_still_runs() {
    // Progress events must come out before the download exec ends, not all at its end.
    let mut link = module(config("EC600U"));
    let mut seen_live = false;
    let mut hook = |_now: Duration, s: &mut Session, _l: &mut Link| {
        if (1..100).contains(&s.done) && s.steps.last() == Some(&Step::Download) {
            seen_live = true;
        }
    };
    let (r, _) = go(&mut link, DownloadOptions::new(PKG), Some(&mut hook));
    r.outcome();
    assert!(seen_live, "no progress was reported while downloading");
}

#[test]
fn an_async_model_restarts_by_itself_and_is_waited_for() {
    let mut link = module(config("EC600N"));
    let (r, _) = go(&mut link, DownloadOptions::new(PKG), None);
    assert_eq!(r.module_version(), SAMPLE_VERSION);
    assert_eq!(r.progress().last(), Some(&100));
    let calls = &link.device.interpreter.calls;
    // The EC600N cannot disable its restart, so the host neither asks nor restarts it.
    assert!(
        calls.contains(&"fota(reset_disable=0)".to_string()),
        "{calls:?}"
    );
    assert!(!calls.contains(&"powerRestart()".to_string()), "{calls:?}");
    assert!(r.logged_at(LogLevel::Info, "restarts by itself"));
    assert_eq!(
        version_after_power_cycle(&mut link, r.elapsed),
        SAMPLE_VERSION
    );
}

#[test]
fn reset_disable_without_restart_runs_the_new_firmware_only_after_a_power_cycle() {
    let mut link = module(config("EC200U"));
    let mut options = DownloadOptions::new(PKG);
    options.restart = false;
    let (r, _) = go(&mut link, options, None);
    assert!(!r.outcome().restarted);
    assert_eq!(
        link.device.interpreter.running_version(),
        DEMO_RUNNING_VERSION
    );
    assert_eq!(
        version_after_power_cycle(&mut link, r.elapsed),
        SAMPLE_VERSION
    );
}

#[test]
fn mini_fota_applies_both_stages_in_order() {
    let mut cfg = config("EC600N");
    cfg.mini_fota_only = true;
    let mut link = module(cfg);
    let mut options = DownloadOptions::new(STAGE1);
    options.url2 = Some(STAGE2.into());
    let (r, _) = go(&mut link, options, None);
    assert_eq!(r.module_version(), MINI_VERSION);
    let calls = &link.device.interpreter.calls;
    let at = |c: &str| calls.iter().position(|x| x.starts_with(c)).expect(c);
    assert!(at("httpDownload(url1=") < at("mini FOTA stage 1 done"));
    assert!(at("mini FOTA stage 1 done") < at("mini FOTA stage 2 applied"));
    assert_eq!(
        version_after_power_cycle(&mut link, r.elapsed),
        MINI_VERSION
    );
}

#[test]
fn a_mini_fota_whose_second_stage_is_missing_comes_back_on_the_old_firmware() {
    let mut link = module(config("EC600N"));
    let mut options = DownloadOptions::new(STAGE1);
    options.url2 = Some("https://fw.example.com/missing.bin".into());
    let (r, _) = go(&mut link, options, None);
    let e = r.error();
    assert_eq!(e.step, Step::Confirm);
    assert!(matches!(e.kind, FlashErrorKind::Mismatch(_)), "{e}");
    check_report(&r, e, KEEP_OLD);
    assert_eq!(
        version_after_power_cycle(&mut link, r.elapsed),
        DEMO_RUNNING_VERSION
    );
}

#[test]
fn a_mini_fota_only_model_refuses_a_single_package_and_other_models_refuse_url2() {
    let mut cfg = config("EC600N");
    cfg.mini_fota_only = true;
    let mut link = module(cfg);
    let (r, _) = go(&mut link, DownloadOptions::new(PKG), None);
    let e = r.error();
    assert_eq!(e.step, Step::Download);
    assert_eq!(
        e.kind,
        FlashErrorKind::Rejected {
            call: "fota.httpDownload",
            returned: "-1".into()
        }
    );
    check_report(&r, e, KEEP_OLD);
    assert_eq!(
        version_after_power_cycle(&mut link, r.elapsed),
        DEMO_RUNNING_VERSION
    );

    let mut link = module(config("EC600U"));
    let mut options = DownloadOptions::new(STAGE1);
    options.url2 = Some(STAGE2.into());
    let (r, s) = go(&mut link, options, None);
    let e = r.error();
    assert_eq!(e.step, Step::Prepare);
    assert!(
        e.to_string()
            .contains("mini FOTA (two packages) is only for"),
        "{e}"
    );
    check_report(&r, e, "was not changed");
    assert!(!String::from_utf8_lossy(&s.sent).contains("httpDownload"));
}

#[test]
fn a_failing_url_names_the_status_and_code() {
    for model in ["EC600U", "EC600N"] {
        let mut link = module(config(model));
        let (r, _) = go(
            &mut link,
            DownloadOptions::new("https://fw.example.com/missing.bin"),
            None,
        );
        let e = r.error();
        assert_eq!(e.step, Step::Download);
        assert_eq!(
            e.kind,
            FlashErrorKind::DownloadFailed {
                status: 3,
                code: 404
            }
        );
        assert!(e
            .to_string()
            .contains("the module could not download the package: the server answered HTTP 404"));
        assert!(e.advice().contains("no file at that URL"), "{}", e.advice());
        check_report(&r, e, KEEP_OLD);
        assert_eq!(
            version_after_power_cycle(&mut link, r.elapsed),
            DEMO_RUNNING_VERSION
        );
    }
}

#[test]
fn a_bad_package_fails_its_check_and_never_runs() {
    for model in ["EC600U", "EC600N"] {
        let mut link = module(config(model));
        let (r, _) = go(
            &mut link,
            DownloadOptions::new("https://fw.example.com/bad.bin"),
            None,
        );
        let e = r.error();
        assert_eq!(
            e.kind,
            FlashErrorKind::DownloadFailed {
                status: REJECTED.0,
                code: REJECTED.1
            },
            "{model}"
        );
        check_report(&r, e, KEEP_OLD);
        assert!(link.device.interpreter.flash.staging.is_none(), "{model}");
        assert_eq!(
            version_after_power_cycle(&mut link, r.elapsed),
            DEMO_RUNNING_VERSION
        );
    }
}

#[test]
fn cancel_during_a_blocking_download_is_not_confirmed_and_says_so() {
    // The EC600U's httpDownload blocks: Ctrl-C lands only once it returned, with the package
    // already verified, so download_cancel() has nothing to stop and returns -1.
    let mut link = module(config("EC600U"));
    let (r, _) = download_cancelled_at(&mut link, 30);
    let e = r.error();
    assert_eq!(e.kind, FlashErrorKind::Cancelled);
    check_report(&r, e, "did not confirm the cancel");
    // Not restarted by the session, but the verified package boots at the next power-on.
    assert_eq!(
        link.device.interpreter.running_version(),
        DEMO_RUNNING_VERSION
    );
    assert_eq!(
        version_after_power_cycle(&mut link, r.elapsed),
        SAMPLE_VERSION
    );
}

#[test]
fn cancel_mid_download_is_confirmed_by_download_cancel() {
    let mut link = module(config("EC600N"));
    let (r, _) = download_cancelled_at(&mut link, 30);
    let e = r.error();
    assert_eq!(e.kind, FlashErrorKind::Cancelled);
    assert_eq!(e.step, Step::Download);
    check_report(&r, e, "confirmed the cancel (download_cancel() returned 0)");
    assert!(link
        .device
        .interpreter
        .calls
        .contains(&"download_cancel()".to_string()));
    assert!(!link.device.interpreter.downloading());
    // The module is back at its friendly prompt and keeps its firmware.
    link.advance(r.elapsed + Duration::from_secs(30));
    assert_eq!(
        link.device.interpreter.running_version(),
        DEMO_RUNNING_VERSION
    );
    assert_eq!(
        version_after_power_cycle(&mut link, r.elapsed + Duration::from_secs(30)),
        DEMO_RUNNING_VERSION
    );
}

#[test]
fn a_pulled_cable_mid_download_says_the_module_may_go_on() {
    let mut link = module(config("EC600U"));
    let mut hook = |_now: Duration, s: &mut Session, l: &mut Link| {
        if s.done >= 40 && !l.is_dead() && l.delivered() > 0 {
            l.inject(LineFault::DropAfter(l.delivered()));
            l.host_write(l.now(), b"\r");
        }
    };
    let (r, _) = go(&mut link, DownloadOptions::new(PKG), Some(&mut hook));
    let e = r.error();
    assert_eq!(e.kind, FlashErrorKind::LinkLost);
    assert_eq!(e.step, Step::Download);
    check_report(&r, e, "but may go on downloading");
    // Power is cut before the module finished: nothing was applied.
    assert_eq!(
        version_after_power_cycle(&mut link, r.elapsed),
        DEMO_RUNNING_VERSION
    );
}

#[test]
fn a_stalled_download_times_out_and_is_cancelled_on_the_module() {
    let mut cfg = config("EC600N");
    cfg.stall_download_at = Some(40);
    let mut link = module(cfg);
    let mut options = DownloadOptions::new(PKG);
    options.download_timeout = Duration::from_secs(60);
    let (r, _) = go(&mut link, options, None);
    let e = r.error();
    assert_eq!(
        e.kind,
        FlashErrorKind::DownloadStalled {
            percent: 40,
            waited_s: 60
        }
    );
    assert!(r.elapsed >= Duration::from_secs(60), "{:?}", r.elapsed);
    check_report(&r, e, "the download was cancelled on it");
    assert!(!link.device.interpreter.downloading());
    assert_eq!(
        version_after_power_cycle(&mut link, r.elapsed),
        DEMO_RUNNING_VERSION
    );
}

#[test]
fn a_module_that_hangs_mid_download_is_reported_silent() {
    let mut link = module(config("EC600N"));
    let mut hung = false;
    let mut hook = |_now: Duration, s: &mut Session, l: &mut Link| {
        if s.done >= 20 && !hung {
            hung = true;
            // The stall takes effect at the next byte the module is sent.
            l.inject(LineFault::StallAfter(l.delivered()));
            l.host_write(l.now(), b"\r");
        }
    };
    let (r, _) = go(&mut link, DownloadOptions::new(PKG), Some(&mut hook));
    let e = r.error();
    assert!(matches!(e.kind, FlashErrorKind::NoResponse { .. }), "{e}");
    assert_eq!(e.step, Step::Download);
    check_report(&r, e, "restart into the new one by itself");
    // As the report says: behind the silent line the module went on and restarted into it.
    link.advance(r.elapsed + Duration::from_secs(60));
    assert_eq!(link.device.interpreter.running_version(), SAMPLE_VERSION);
    assert_eq!(
        version_after_power_cycle(&mut link, r.elapsed + Duration::from_secs(60)),
        SAMPLE_VERSION
    );
}

#[test]
fn bad_urls_and_apn_fields_are_refused_before_anything_is_sent() {
    let bad = [
        ("ftp://fw.example.com/a.bin", "only http:// and https://"),
        (
            "https://fw.example.com/a.bin'); import os; ('",
            "not allowed",
        ),
        ("https://fw.example.com/a\n.bin", "line breaks"),
        ("https://fw.example.com/a b.bin", "spaces"),
        ("https:///a.bin", "no valid host"),
        ("https://user:pw@fw.example.com/a.bin", "credentials"),
        ("https://fw.example.com:99999/a.bin", "port"),
        ("https://[zz::1]/a.bin", "well-formed"),
        ("https://fw.example.com:80:80/a.bin", "no valid host"),
        ("https://fw.example.com/a%zz.bin\u{7f}", "control"),
        ("https://fw.example.com/a\\x27.bin", "not allowed"),
    ];
    for (url, why) in bad {
        let err = check_url(url).unwrap_err().to_string();
        assert!(err.contains(why), "{url}: {err}");
        let mut link = module(config("EC600U"));
        let (r, s) = go(&mut link, DownloadOptions::new(url), None);
        let e = r.error();
        assert_eq!(e.step, Step::Prepare);
        assert!(matches!(e.kind, FlashErrorKind::Unsuitable(_)));
        assert!(
            e.to_string().contains("the package URL is refused") && e.to_string().contains(why),
            "{e}"
        );
        check_report(&r, e, "was not changed");
        assert!(s.sent.is_empty(), "{url}: sent {:?}", s.sent);
        assert_eq!(link.device.execs, 0);
    }
    let mut options = DownloadOptions::new(PKG);
    options.url2 = Some("javascript:alert(1)".into());
    let (r, s) = go(&mut module(config("EC600N")), options, None);
    assert!(r
        .error()
        .to_string()
        .contains("the second-stage package URL is refused"));
    assert!(s.sent.is_empty());

    let mut options = DownloadOptions::new(PKG);
    options.apn = Some(ApnSettings {
        apn: "cmnet".into(),
        ip_type: 0,
        user: "x'".into(),
        password: String::new(),
    });
    let (r, s) = go(&mut module(config("EC600U")), options, None);
    assert!(r.error().to_string().contains("APN user"), "{}", r.error());
    assert!(s.sent.is_empty());

    for good in [
        PKG,
        "http://10.0.0.5:8080/fw/app.bin?token=abc%20d&x=1",
        "https://[2001:db8::1]/a.bin",
    ] {
        assert_eq!(check_url(good), Ok(()), "{good}");
    }
}

#[test]
fn plain_http_works_with_a_warning_and_apn_settings_reach_the_module() {
    let mut link = module(config("EC600U"));
    let mut options = DownloadOptions::new("http://fw.example.com/plain.bin");
    options.apn = Some(ApnSettings {
        apn: "iot.example".into(),
        ip_type: 0,
        user: String::new(),
        password: String::new(),
    });
    let (r, _) = go(&mut link, options, None);
    r.outcome();
    assert!(r.logged_at(LogLevel::Warn, "plain http"));
    let warned = r.events.iter().position(|e| {
        matches!(e, SessionEvent::Log { level: LogLevel::Warn, message } if message.contains("plain http"))
    });
    let identify = r
        .events
        .iter()
        .position(|e| *e == SessionEvent::Step(Step::Identify));
    assert!(warned < identify, "the warning comes first");
    let calls = &link.device.interpreter.calls;
    let apn = calls
        .iter()
        .position(|c| c.starts_with("apn_set(fota_apn='iot.example'"));
    let dl = calls.iter().position(|c| c.starts_with("httpDownload("));
    assert!(apn.is_some() && apn < dl, "{calls:?}");
}

#[test]
fn the_demo_module_serves_its_listed_package_urls() {
    use otadeck_core::family::Family;
    use otadeck_sim::demo::{
        DemoFamily, DemoModule, DEMO_CORRUPT_URL, DEMO_MISSING_URL, DEMO_PACKAGE_URL,
        DEMO_PACKAGE_VERSION,
    };
    let urls: Vec<&str> = Family::QuecPython
        .download_packages()
        .iter()
        .map(|p| p.url)
        .collect();
    assert!(
        urls.contains(&DEMO_PACKAGE_URL) && urls.len() == 6,
        "{urls:?}"
    );
    assert!(Family::Pycom.download_packages().is_empty());
    for url in &urls {
        assert_eq!(check_url(url), Ok(()), "{url}");
    }
    let fresh = || SimLink::new(DemoModule::new(Family::QuecPython), 115_200);
    let mut link = fresh();
    let mut s = download(Duration::ZERO, DownloadOptions::new(DEMO_PACKAGE_URL));
    let r = run(&mut s, &mut link, Duration::ZERO, LIMIT, None);
    assert_eq!(
        r.outcome().module.as_ref().unwrap().firmware_version,
        DEMO_PACKAGE_VERSION
    );
    assert_eq!(link.device.running_version(), DEMO_PACKAGE_VERSION);
    for (url, status, code) in [
        (DEMO_MISSING_URL, 3, 404),
        (DEMO_CORRUPT_URL, REJECTED.0, REJECTED.1),
    ] {
        let mut link = fresh();
        let mut s = download(Duration::ZERO, DownloadOptions::new(url));
        let r = run(&mut s, &mut link, Duration::ZERO, LIMIT, None);
        assert_eq!(
            r.error().kind,
            FlashErrorKind::DownloadFailed { status, code }
        );
        assert_eq!(link.device.running_version(), DEMO_RUNNING_VERSION);
    }
}
