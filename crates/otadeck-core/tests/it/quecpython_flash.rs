//! The QuecPython `fota` driver against the simulated module, on a virtual clock.

use std::time::Duration;

use otadeck_core::driver::quecpython::{FotaOptions, QuecPythonSession};
use otadeck_core::session::{SessionEvent, Step};
use otadeck_sim::firmware::{
    quecpython_running_package, quecpython_sample_package, SAMPLE_VERSION,
};
use otadeck_sim::harness::run;
use otadeck_sim::line::SimLink;
use otadeck_sim::mp_repl::{RawPasteSupport, ReplDevice};
use otadeck_sim::quecpython::{device, QuecPython, QuecPythonConfig};

fn module(paste: RawPasteSupport) -> SimLink<ReplDevice<QuecPython>> {
    module_with(QuecPythonConfig::default(), paste)
}

fn module_with(
    config: QuecPythonConfig,
    paste: RawPasteSupport,
) -> SimLink<ReplDevice<QuecPython>> {
    SimLink::new(device(config, quecpython_running_package(), paste), 115_200)
}

#[test]
fn flash_sample_restarts_into_new_version() {
    let mut link = module(RawPasteSupport::Window(128));
    let image = quecpython_sample_package();
    let mut s = QuecPythonSession::flash(Duration::ZERO, image.clone(), FotaOptions::default());
    let r = run(
        &mut s,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(120),
        None,
    );
    r.restarted_into(&image, SAMPLE_VERSION);
    assert_eq!(link.device.interpreter.running_version(), SAMPLE_VERSION);
    assert_eq!(link.device.overflowed, 0);
    assert!(r
        .events
        .iter()
        .any(|e| matches!(e, SessionEvent::Step(Step::Verify))));
    eprintln!("flash took {:?} virtual", r.elapsed);
}

#[test]
fn a_package_left_for_the_next_restart_runs_after_a_restart_session() {
    use otadeck_core::link::mp_repl::ReplConfig;
    let mut link = module(RawPasteSupport::Window(128));
    let image = quecpython_sample_package();
    let keep = FotaOptions {
        restart: false,
        ..FotaOptions::default()
    };
    let mut s = QuecPythonSession::flash(Duration::ZERO, image, keep);
    let limit = Duration::from_secs(120);
    let r = run(&mut s, &mut link, Duration::ZERO, limit, None);
    assert!(!r.outcome().restarted);
    let old = otadeck_sim::firmware::DEMO_RUNNING_VERSION;
    assert_eq!(link.device.interpreter.running_version(), old);
    let start = link.now();
    let mut s = QuecPythonSession::restart(start, ReplConfig::default());
    let r = run(&mut s, &mut link, start, limit, None);
    assert!(r.outcome().restarted);
    assert_eq!(r.module_version(), SAMPLE_VERSION);
    assert_eq!(link.device.interpreter.running_version(), SAMPLE_VERSION);
    assert!(r.logged("Restarting the module"));
}

#[test]
fn a_module_still_booting_is_reached_on_a_later_try() {
    use otadeck_core::link::mp_repl::ReplConfig;
    use otadeck_core::session::LogLevel;
    let mut link = module(RawPasteSupport::Window(128));
    // Just plugged in: the module boots for a while and ignores what it is sent.
    link.device.power_cycle(Duration::ZERO);
    let mut s = QuecPythonSession::identify(Duration::ZERO, ReplConfig::default());
    let r = run(
        &mut s,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(30),
        None,
    );
    let module = r.outcome().module.clone().expect("identified");
    assert_eq!(
        module.firmware_version,
        otadeck_sim::firmware::DEMO_RUNNING_VERSION
    );
    assert!(r.events.iter().any(|e| matches!(
        e,
        SessionEvent::Log { level: LogLevel::Warn, message } if message.contains("try 2 of 3")
    )));
}

#[test]
fn a_silent_module_fails_to_connect_after_every_try() {
    use otadeck_core::link::mp_repl::ReplConfig;
    use otadeck_core::session::FlashErrorKind;
    let mut link = module(RawPasteSupport::Window(128));
    link.inject(otadeck_sim::line::LineFault::StallAfter(0));
    let mut s = QuecPythonSession::identify(Duration::ZERO, ReplConfig::default());
    let r = run(
        &mut s,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(60),
        None,
    );
    let e = r.error();
    assert_eq!(e.step, Step::Connect);
    assert!(matches!(e.kind, FlashErrorKind::NoResponse { .. }));
    // Three tries of a 100 ms drain and a 2 s wait each.
    assert!(r.elapsed >= Duration::from_millis(6300), "{:?}", r.elapsed);
    assert_eq!(e.to_string(), "Connecting failed: the module stopped answering while entering the raw REPL. The module was not changed.");
}

#[test]
fn identify_reads_imei_battery_signal_and_free_space_where_the_module_has_them() {
    use otadeck_core::link::mp_repl::ReplConfig;
    let read = |config: QuecPythonConfig| {
        let mut link = module_with(config, RawPasteSupport::Window(128));
        let mut s = QuecPythonSession::identify(Duration::ZERO, ReplConfig::default());
        let r = run(
            &mut s,
            &mut link,
            Duration::ZERO,
            Duration::from_secs(30),
            None,
        );
        r.outcome().module.clone().expect("identified").details
    };
    let d = read(QuecPythonConfig {
        imei: "861234050000001".into(),
        battery_mv: Some(3720),
        csq: 14,
        free_bytes: 80 * 1024,
        ..QuecPythonConfig::default()
    });
    assert_eq!(d.imei.as_deref(), Some("861234050000001"));
    assert_eq!(d.battery_mv, Some(3720));
    assert_eq!(d.battery_percent(), Some(40));
    assert_eq!(d.signal_dbm, Some(-85));
    assert_eq!(d.free_bytes, Some(80 * 1024));
    // No battery gauge (the call raises) and no signal (CSQ 99): identify still succeeds.
    let d = read(QuecPythonConfig {
        battery_mv: None,
        csq: 99,
        ..QuecPythonConfig::default()
    });
    assert_eq!((d.battery_mv, d.signal_dbm), (None, None));
    assert!(d.imei.is_some());
}
