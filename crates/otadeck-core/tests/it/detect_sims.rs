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

/// Flash `family`'s sample into the module on `link` at 115200 baud until `percent` of the bytes
/// a whole flash sends have crossed, then the host vanishes (a reload): the line goes dead and
/// comes back empty, the module left as the session left it.
fn cut_off_mid_write<D: Device>(family: Family, link: &mut SimLink<D>, total: u64, percent: u64) {
    use otadeck_core::family::{self, FlashOptions, Job, OpenOptions};
    use otadeck_sim::demo::DemoFamily;
    use otadeck_sim::line::LineFault;
    let job = Job::Flash {
        image: family.sample_image(),
        options: FlashOptions::default(),
    };
    let options = OpenOptions {
        line_baud: Some(115_200),
        ..OpenOptions::default()
    };
    let mut m = family::open(family, job, options, Duration::ZERO).unwrap();
    let at = total * percent / 100;
    let mut hook = |_: Duration, _: &mut Box<_>, l: &mut SimLink<D>| {
        if l.delivered() >= at && !l.is_dead() {
            l.inject(LineFault::DropAfter(l.delivered()));
        }
    };
    let r = run(
        &mut m,
        link,
        Duration::ZERO,
        Duration::from_secs(600),
        Some(&mut hook),
    );
    assert!(
        r.events.iter().any(|e| matches!(
            e,
            otadeck_core::session::SessionEvent::Progress { done, .. } if *done > 0
        )),
        "the write had begun"
    );
    // The harness times each step: in order, the write after the preparation.
    assert!(
        r.steps.windows(2).all(|w| w[0].0 <= w[1].0),
        "{:?}",
        r.steps
    );
    let at = |step| r.steps.iter().find(|(_, s)| *s == step).map(|(t, _)| *t);
    assert!(at(otadeck_core::session::Step::Write) > at(otadeck_core::session::Step::Connect));
    let now = link.now();
    link.replug(now);
    // The next page opens the port at its usual rate.
    link.set_baud(115_200);
}

/// Detection on `link` after what happened on it, at the port's rate of 115200.
fn detect_again<D: Device>(link: &mut SimLink<D>) -> otadeck_sim::harness::Run {
    let now = link.now() + Duration::from_secs(1);
    let mut d = Detector::start_at(now, Some(115_200));
    run(&mut d, link, now, Duration::from_secs(20), None)
}

fn logged(r: &otadeck_sim::harness::Run) -> String {
    r.events
        .iter()
        .filter_map(|e| match e {
            otadeck_core::session::SessionEvent::Log { message, .. } => Some(message.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_raw_repl_left_by_a_cut_off_write_is_left_and_named() {
    let paste = RawPasteSupport::Window(128);
    let mut link = SimLink::new(
        quecpython::device(
            otadeck_sim::demo::quecpython_demo_config("EC600U"),
            otadeck_sim::firmware::quecpython_running_package(),
            paste,
        ),
        115_200,
    );
    cut_off_mid_write(Family::QuecPython, &mut link, 98_000, 30);
    let r = detect_again(&mut link);
    let m = r.outcome().module.clone().unwrap();
    assert_eq!((m.family, m.model.as_str()), (Family::QuecPython, "EC600U"));
    assert!(logged(&r).contains("raw REPL answered"), "{}", logged(&r));
}

#[test]
fn a_nodemcu_console_left_at_the_write_rate_is_found_and_set_back() {
    let board = otadeck_sim::nodemcu::NodeMcu::new(Default::default(), demo_running_image());
    let mut link = SimLink::new(board, 115_200);
    cut_off_mid_write(Family::NodeMcu, &mut link, 130_000, 40);
    // The write ran at the fast rate, and the console is still there.
    assert_eq!(link.device.uart_rate(), Some(921_600));
    let r = detect_again(&mut link);
    let m = r.outcome().module.clone().unwrap();
    assert_eq!(m.family, Family::NodeMcu);
    let log = logged(&r);
    assert!(log.contains("asking again at 921600 baud"), "{log}");
    assert!(log.contains("setting it back to 115200 baud"), "{log}");
    // The console is back at the port's rate: a plain interrupt at 115200 finds it.
    assert_ne!(link.device.uart_rate(), Some(921_600));
    assert_eq!(link.baud(), 115_200);
    let again = detect_again(&mut link);
    assert_eq!(
        again.outcome().module.as_ref().unwrap().family,
        Family::NodeMcu
    );
    assert!(!logged(&again).contains("garbled"), "{}", logged(&again));
}

#[test]
fn after_a_vain_try_at_the_write_rate_the_port_returns_to_its_rate_for_the_smp_probe() {
    use otadeck_sim::mcuboot::{McuBoot, McuBootConfig};
    /// An SMP server on a UART fixed at 115200 whose console answers a carriage return with
    /// bytes no console prints.
    struct Noisy(McuBoot, Vec<u8>);
    impl Device for Noisy {
        fn receive(&mut self, now: Duration, data: &[u8]) {
            if data.contains(&b'\r') {
                self.1.extend_from_slice(&[0xfe, 0x81, 0xc3]);
            }
            self.0.receive(now, data);
        }
        fn transmit(&mut self, now: Duration) -> Vec<u8> {
            let mut out = std::mem::take(&mut self.1);
            out.extend(self.0.transmit(now));
            out
        }
        fn next_wakeup(&self) -> Option<Duration> {
            self.0.next_wakeup()
        }
        fn tick(&mut self, now: Duration) {
            self.0.tick(now);
        }
        fn uart_rate(&self) -> Option<u32> {
            Some(115_200)
        }
    }
    let image = otadeck_sim::mcuboot_slots::demo_mcuboot_image((1, 0, 0), 4096);
    let config = McuBootConfig {
        banner: false,
        ..McuBootConfig::default()
    };
    let mut link = SimLink::new(Noisy(McuBoot::new(config, image), Vec::new()), 115_200);
    let r = detect_again(&mut link);
    let log = logged(&r);
    assert!(log.contains("asking again at 921600 baud"), "{log}");
    assert_eq!(
        r.outcome().module.as_ref().unwrap().family,
        Family::McuBoot,
        "{log}"
    );
    assert_eq!(link.baud(), 115_200);
}
