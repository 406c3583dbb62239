//! The QuecPython `fota` driver against the simulated module, on a virtual clock.

use std::time::Duration;

use otadeck_core::driver::quecpython::{FotaOptions, QuecPythonSession};
use otadeck_core::session::{SessionEvent, Step};
use otadeck_sim::firmware::{demo_running_image, sample_image, SAMPLE_VERSION};
use otadeck_sim::harness::run;
use otadeck_sim::line::SimLink;
use otadeck_sim::mp_repl::{RawPasteSupport, ReplDevice};
use otadeck_sim::quecpython::{device, QuecPython, QuecPythonConfig};

fn module(paste: RawPasteSupport) -> SimLink<ReplDevice<QuecPython>> {
    SimLink::new(
        device(QuecPythonConfig::default(), demo_running_image(), paste),
        115_200,
    )
}

#[test]
fn flash_sample_restarts_into_new_version() {
    let mut link = module(RawPasteSupport::Window(128));
    let image = sample_image();
    let mut s = QuecPythonSession::flash(Duration::ZERO, image.clone(), FotaOptions::default());
    let r = run(
        &mut s,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(120),
        None,
    );
    let outcome = r.outcome();
    assert!(outcome.restarted);
    assert_eq!(outcome.bytes, image.len() as u64);
    assert_eq!(
        outcome.module.as_ref().unwrap().firmware_version,
        SAMPLE_VERSION
    );
    assert_eq!(link.device.interpreter.running_version(), SAMPLE_VERSION);
    assert_eq!(link.device.overflowed, 0);
    assert!(r
        .events
        .iter()
        .any(|e| matches!(e, SessionEvent::Step(Step::Verify))));
    eprintln!("flash took {:?} virtual", r.elapsed);
}
