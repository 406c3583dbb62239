//! NodeMCU writes at a faster console rate: `uart.setup` after the checks, the port follows once
//! the line is echoed, and both are back at the usual rate after the restart. The simulated
//! board's console garbles what crosses at the wrong rate, both ways.

use std::time::Duration;

use otadeck_core::driver::nodemcu::{FastBaud, Job, NodeMcuConfig, NodeMcuSession};
use otadeck_core::session::FlashErrorKind;
use otadeck_sim::firmware::{sample_image, DEMO_RUNNING_VERSION, SAMPLE_VERSION};
use otadeck_sim::harness::{run, Run};
use otadeck_sim::line::{LineFault, SimLink};
use otadeck_sim::nodemcu::{NodeMcu, NodeMcuConfig as BoardConfig};

type Link = SimLink<NodeMcu>;

const LIMIT: Duration = Duration::from_secs(900);
const FAST: FastBaud = FastBaud {
    console: 115_200,
    fast: 921_600,
};

fn board(config: BoardConfig) -> Link {
    let fw = otadeck_sim::firmware::demo_running_image();
    SimLink::new(NodeMcu::new(config, fw), 115_200)
}

/// Run `job` with the fast rate on, noting the line's rate at every write line sent.
fn go(link: &mut Link, job: Job) -> (Run, Vec<u32>) {
    let start = link.now() + Duration::from_secs(1);
    let config = NodeMcuConfig {
        fast_baud: Some(FAST),
        ..NodeMcuConfig::default()
    };
    let mut s = NodeMcuSession::start(start, job, config);
    let mut writes = Vec::new();
    let mut seen = link.device.writes;
    let mut hook = |_: Duration, _: &mut NodeMcuSession, l: &mut Link| {
        if l.device.writes != seen {
            seen = l.device.writes;
            writes.push(l.baud());
        }
    };
    let r = run(&mut s, link, start, LIMIT, Some(&mut hook));
    (r, writes)
}

fn flash(image: &[u8]) -> Job {
    Job::Flash {
        image: image.to_vec(),
        accept: true,
    }
}

#[test]
fn the_write_runs_at_921600_and_both_ends_are_back_at_115200_after_the_restart() {
    let image = sample_image();
    let mut link = board(BoardConfig::default());
    let (r, writes) = go(&mut link, flash(&image));
    r.restarted_into(&image, SAMPLE_VERSION);
    assert!(!writes.is_empty());
    assert!(writes.iter().all(|b| *b == 921_600), "{writes:?}");
    assert_eq!((link.baud(), link.device.uart_rate), (115_200, 115_200));
    let logs = r.logs().join("\n");
    assert!(
        logs.contains("Switching the console to 921600 baud"),
        "{logs}"
    );
}

#[test]
fn a_firmware_without_the_uart_module_is_written_at_its_rate() {
    let image = sample_image();
    let mut link = board(BoardConfig {
        no_uart_module: true,
        ..BoardConfig::default()
    });
    let (r, writes) = go(&mut link, flash(&image));
    r.restarted_into(&image, SAMPLE_VERSION);
    assert!(writes.iter().all(|b| *b == 115_200), "{writes:?}");
    assert!(r.logs().join("\n").contains("no uart module"));
}

#[test]
fn no_prompt_at_the_fast_rate_falls_back_to_the_usual_one() {
    let image = sample_image();
    let mut link = board(BoardConfig {
        fixed_console_rate: true,
        ..BoardConfig::default()
    });
    let (r, writes) = go(&mut link, flash(&image));
    r.restarted_into(&image, SAMPLE_VERSION);
    assert!(writes.iter().all(|b| *b == 115_200), "{writes:?}");
    let logs = r.logs().join("\n");
    assert!(
        logs.contains("No prompt at 921600 baud: writing at 115200 baud"),
        "{logs}"
    );
}

#[test]
fn a_write_cut_short_at_the_fast_rate_is_found_there_by_the_next_session() {
    let image = sample_image();
    let mut link = board(BoardConfig::default());
    // The module stops answering in the middle of the write (a hung line), then comes back.
    link.inject(LineFault::StallAfter(20_000));
    let (r, _) = go(&mut link, flash(&image));
    let e = r.error();
    assert!(matches!(e.kind, FlashErrorKind::NoResponse { .. }), "{e:?}");
    // The port went back to the usual rate; the module's console is still fast.
    assert_eq!((link.baud(), link.device.uart_rate), (115_200, 921_600));
    assert!(r.logs().join("\n").contains("may still run at 921600 baud"));
    let now = link.now();
    link.replug(now);

    let (r, writes) = go(&mut link, flash(&image));
    let logs = r.logs().join("\n");
    assert!(logs.contains("trying 921600 baud"), "{logs}");
    r.restarted_into(&image, SAMPLE_VERSION);
    assert!(writes.iter().all(|b| *b == 921_600), "{writes:?}");
    assert_eq!((link.baud(), link.device.uart_rate), (115_200, 115_200));
    assert_ne!(link.device.flash.running_version(), DEMO_RUNNING_VERSION);
}

#[test]
fn a_restart_during_the_write_at_the_fast_rate_is_told_as_a_restart() {
    let image = sample_image();
    let mut link = board(BoardConfig::default());
    let start = link.now() + Duration::from_secs(1);
    let config = NodeMcuConfig {
        fast_baud: Some(FAST),
        ..NodeMcuConfig::default()
    };
    let mut s = NodeMcuSession::start(start, flash(&image), config);
    let mut cut = false;
    let mut hook = |now: Duration, _: &mut NodeMcuSession, l: &mut Link| {
        if !cut && l.device.writes >= 20 {
            cut = true;
            l.device.power_cycle(now);
        }
    };
    let r = run(&mut s, &mut link, start, LIMIT, Some(&mut hook));
    let e = r.error();
    let text = e.to_string();
    assert!(
        matches!(e.kind, FlashErrorKind::ModuleState { .. }),
        "{text}"
    );
    assert!(text.starts_with("Writing failed at byte"), "{text}");
    assert!(text.contains("as when the module restarts"), "{text}");
    assert!(text.contains("back to 115200 baud"), "{text}");
    // A byte garbled on the wire at the fast rate is still told as such (see the fault matrix).
    boots_old(&mut link);
}

/// The board, power-cycled, runs the firmware it ran before.
fn boots_old(link: &mut Link) {
    let now = link.now();
    link.replug(now);
    link.device.power_cycle(now);
    link.advance(now + Duration::from_secs(10));
    assert_eq!(link.device.flash.running_version(), DEMO_RUNNING_VERSION);
}

#[test]
fn reading_the_slots_leaves_the_rate_alone() {
    let mut link = board(BoardConfig::default());
    let (r, _) = go(&mut link, Job::Inspect);
    r.outcome();
    assert_eq!((link.baud(), link.device.uart_rate), (115_200, 115_200));
}

#[test]
fn a_board_on_native_usb_that_drops_its_port_before_the_restart_line_echoes_comes_back_at_its_rate()
{
    use otadeck_core::family::{self, Family, FlashOptions, Job as FamilyJob, OpenOptions};
    let image = sample_image();
    let mut link = board(BoardConfig::default());
    let options = OpenOptions {
        line_baud: Some(115_200),
        ..OpenOptions::default()
    };
    let job = FamilyJob::Flash {
        image: image.clone(),
        options: FlashOptions::default(),
    };
    let start = link.now() + Duration::from_secs(1);
    let mut m = family::open(Family::NodeMcu, job, options, start).expect("opens");
    let away = Duration::from_millis(1500);
    let r = otadeck_sim::harness::run_reenumerating(&mut m, &mut link, start, LIMIT, away);
    let logs = r.logs().join("\n");
    assert!(
        logs.contains("Switching the console to 921600 baud"),
        "{logs}"
    );
    assert!(logs.contains("The module is back: carrying on."), "{logs}");
    r.restarted_into(&image, SAMPLE_VERSION);
    assert_eq!((link.baud(), link.device.uart_rate), (115_200, 115_200));
}
