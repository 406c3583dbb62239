//! Detection against each simulated module, and against a silent port.

use std::time::Duration;

use otadeck_core::detect::{Detector, ANSWER_TIMEOUT};
use otadeck_core::module::Family;
use otadeck_core::session::FlashErrorKind;
use otadeck_sim::firmware::demo_running_image;
use otadeck_sim::harness::run;
use otadeck_sim::line::{Device, SimLink};
use otadeck_sim::mp_repl::RawPasteSupport;
use otadeck_sim::{esp32_mp, pycom, quecpython};

fn detect<D: Device>(device: D) -> (otadeck_sim::harness::Run, SimLink<D>) {
    let mut link = SimLink::new(device, 115_200);
    let mut d = Detector::start(Duration::ZERO);
    let r = run(
        &mut d,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(10),
        None,
    );
    (r, link)
}

#[test]
fn each_micropython_firmware_is_told_apart() {
    let paste = RawPasteSupport::Window(128);
    let (r, _) = detect(quecpython::device(
        quecpython::QuecPythonConfig::default(),
        demo_running_image(),
        paste,
    ));
    let m = r.outcome().module.clone().unwrap();
    assert_eq!((m.family, m.model.as_str()), (Family::QuecPython, "EC600U"));

    let (r, link) = detect(esp32_mp::device(
        esp32_mp::Esp32Config::default(),
        demo_running_image(),
        paste,
    ));
    let m = r.outcome().module.clone().unwrap();
    assert_eq!(m.family, Family::Esp32MicroPython);
    assert_eq!(m.firmware_version, "v1.24.1");
    // Nothing ran on the board: detection costs an interrupt, no code.
    assert_eq!(link.device.execs, 0);

    let (r, _) = detect(pycom::device(
        pycom::PycomConfig::default(),
        demo_running_image(),
        paste,
    ));
    let m = r.outcome().module.clone().unwrap();
    assert_eq!((m.family, m.model.as_str()), (Family::Pycom, "FiPy"));
}

#[test]
fn the_nodemcu_lua_prompt_is_recognised_and_nothing_changes() {
    let board = otadeck_sim::nodemcu::NodeMcu::new(Default::default(), demo_running_image());
    let (r, link) = detect(board);
    let m = r.outcome().module.clone().unwrap();
    assert_eq!(m.family, Family::NodeMcu);
    assert_eq!(link.device.writes, 0);
    assert_eq!(link.device.flash.boots, 0);
}

/// A port where nothing answers.
struct Silent;

impl Device for Silent {
    fn receive(&mut self, _now: Duration, _data: &[u8]) {}
    fn transmit(&mut self, _now: Duration) -> Vec<u8> {
        Vec::new()
    }
    fn next_wakeup(&self) -> Option<Duration> {
        None
    }
    fn tick(&mut self, _now: Duration) {}
}

#[test]
fn a_silent_port_is_reported_in_words() {
    let (r, _) = detect(Silent);
    let e = r.error();
    assert!(matches!(e.kind, FlashErrorKind::NoResponse { .. }));
    let text = e.to_string();
    assert!(text.contains("check the port, the baud rate"), "{text}");
    // The interrupt, then one SMP echo request, each given its time to be answered.
    assert!(r.elapsed <= ANSWER_TIMEOUT * 2 + Duration::from_millis(200));
}

#[test]
fn an_smp_server_answers_the_echo_probe_and_nothing_changes() {
    use otadeck_sim::mcuboot::{McuBoot, McuBootConfig};
    let image = otadeck_sim::mcuboot_slots::demo_mcuboot_image((1, 0, 0), 4096);
    let (r, link) = detect(McuBoot::new(McuBootConfig::default(), image));
    let m = r.outcome().module.clone().unwrap();
    assert_eq!(m.family, Family::McuBoot);
    // The echo alone was answered: no state read, no upload, the same image runs.
    assert_eq!(link.device.requests, 1);
    assert!(link.device.upload.is_none());
    assert_eq!(link.device.running_version().as_deref(), Some("1.0.0"));
}

#[test]
fn a_console_that_is_not_smp_is_reported_with_what_it_printed() {
    /// Prints a shell prompt at every carriage return, ignores everything else.
    struct Shell(Vec<u8>);
    impl Device for Shell {
        fn receive(&mut self, _now: Duration, data: &[u8]) {
            for b in data {
                if *b == b'\r' {
                    self.0.extend_from_slice(b"\r\nuart:~$ ");
                }
            }
        }
        fn transmit(&mut self, _now: Duration) -> Vec<u8> {
            std::mem::take(&mut self.0)
        }
        fn next_wakeup(&self) -> Option<Duration> {
            None
        }
        fn tick(&mut self, _now: Duration) {}
    }
    let (r, _) = detect(Shell(Vec::new()));
    let e = r.error();
    let text = e.to_string();
    assert!(matches!(e.kind, FlashErrorKind::BadAnswer { .. }), "{text}");
    assert!(text.contains("uart:~$"), "{text}");
}
