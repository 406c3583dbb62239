//! Waits that end on what the module prints, not on a timer: the drain after the interrupt ends
//! at the friendly prompt, and a restart ends when the boot log reaches it. A module that never
//! prints the prompt still gets through, on the timers.

use crate::support;

use std::time::Duration;

use otadeck_core::driver::esp32_micropython::{Esp32MicroPython, Esp32Session, Job};
use otadeck_core::driver::quecpython::{FotaOptions, QuecPythonSession};
use otadeck_core::driver::repl::flow::FlowConfig;
use otadeck_core::link::mp_repl::{RawRepl, ReplConfig};
use otadeck_core::session::{Machine, Step};
use otadeck_sim::esp32_mp::{self, Esp32Config};
use otadeck_sim::firmware::{
    demo_running_image, quecpython_running_package, quecpython_sample_package, sample_image,
};
use otadeck_sim::harness::run;
use otadeck_sim::line::{Device, SimLink};
use otadeck_sim::mp_repl::RawPasteSupport;
use otadeck_sim::quecpython::{self, QuecPythonConfig};
use support::Recorder;

const LIMIT: Duration = Duration::from_secs(600);
/// How long the simulated boards take to boot.
const BOOT: Duration = Duration::from_millis(1200);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn sent(repl: &mut RawRepl) -> Vec<u8> {
    std::iter::from_fn(|| repl.poll_transmit())
        .flatten()
        .collect()
}

#[test]
fn the_drain_ends_as_soon_as_the_answer_reaches_the_friendly_prompt() {
    let mut repl = RawRepl::new(ReplConfig::default());
    repl.enter(Duration::ZERO);
    assert_eq!(sent(&mut repl), b"\r\x03\x03");
    // The prompt arrives a byte at a time, as a UART delivers it.
    for (i, b) in b"\r\n>>".iter().enumerate() {
        repl.handle_input(ms(2) + Duration::from_micros(i as u64 * 10), &[*b]);
        assert_eq!(sent(&mut repl), b"", "asked for raw mode after byte {i}");
    }
    repl.handle_input(ms(3), b"> ");
    assert_eq!(sent(&mut repl), b"\r\x01");
}

#[test]
fn output_that_only_contains_a_prompt_keeps_the_drain_going() {
    let config = ReplConfig::default();
    let quiet = config.drain_quiet;
    let mut repl = RawRepl::new(config);
    repl.enter(Duration::ZERO);
    sent(&mut repl);
    repl.handle_input(ms(5), b"\r\n>>> sensor: 23.5\r\n");
    assert_eq!(sent(&mut repl), b"");
    repl.handle_timeout(ms(5) + quiet - ms(1));
    assert_eq!(sent(&mut repl), b"");
    repl.handle_timeout(ms(5) + quiet);
    assert_eq!(sent(&mut repl), b"\r\x01");
}

/// A board whose boot log never reaches the friendly prompt (a `main.py` that keeps running,
/// say): the prompt after the banner is cut out of what it prints.
struct NoBootPrompt<D>(D);

impl<D: Device> Device for NoBootPrompt<D> {
    fn receive(&mut self, now: Duration, data: &[u8]) {
        self.0.receive(now, data);
    }
    fn transmit(&mut self, now: Duration) -> Vec<u8> {
        let out = self.0.transmit(now);
        let cut = b"information.\r\n>>> ";
        match out.windows(cut.len()).position(|w| w == cut) {
            Some(i) => [&out[..i + cut.len() - 4], &out[i + cut.len()..]].concat(),
            None => out,
        }
    }
    fn next_wakeup(&self) -> Option<Duration> {
        self.0.next_wakeup()
    }
    fn tick(&mut self, now: Duration) {
        self.0.tick(now);
    }
}

/// Run `session` on `link`; the virtual time from the restart step to the confirm step.
fn restart_to_confirm<M: Machine, D: Device>(
    session: M,
    link: &mut SimLink<D>,
    len: usize,
) -> Duration {
    let mut s = Recorder::new(session);
    let mut marks: Vec<(Step, Duration)> = Vec::new();
    let mut hook = |now: Duration, m: &mut Recorder<M>, _: &mut SimLink<D>| {
        if let Some(&step) = m.steps.last() {
            if marks.last().map(|x| x.0) != Some(step) {
                marks.push((step, now));
            }
        }
    };
    let r = run(&mut s, link, Duration::ZERO, LIMIT, Some(&mut hook));
    assert_eq!(r.outcome().bytes, len as u64);
    assert!(r.outcome().restarted);
    let at = |step| marks.iter().find(|m| m.0 == step).expect("step reached").1;
    at(Step::Confirm) - at(Step::Restart)
}

fn esp32_flash() -> Esp32Session {
    let job = Job::Flash {
        image: sample_image(),
        accept: true,
    };
    Esp32MicroPython::start(Duration::ZERO, job, FlowConfig::default())
}

fn esp32_board() -> otadeck_sim::mp_repl::ReplDevice<esp32_mp::Esp32MicroPython> {
    esp32_mp::device(
        Esp32Config::default(),
        demo_running_image(),
        RawPasteSupport::Window(128),
    )
}

#[test]
fn esp32_reconnects_when_the_boot_log_reaches_the_prompt() {
    let mut link = SimLink::new(esp32_board(), 921_600);
    let wait = restart_to_confirm(esp32_flash(), &mut link, sample_image().len());
    assert!(wait >= BOOT, "confirmed before the board booted: {wait:?}");
    assert!(wait < BOOT + ms(50), "restart took {wait:?}");
}

#[test]
fn esp32_without_a_boot_prompt_reconnects_on_the_timers() {
    let mut link = SimLink::new(NoBootPrompt(esp32_board()), 921_600);
    let wait = restart_to_confirm(esp32_flash(), &mut link, sample_image().len());
    // The restart exec's 2 s of silence after the boot log, then half a second before the
    // first try at the raw REPL.
    assert!(wait >= BOOT + ms(2500), "restart took {wait:?}");
    assert!(wait < BOOT + ms(2600), "restart took {wait:?}");
}

#[test]
fn quecpython_reconnects_when_the_boot_log_reaches_the_prompt() {
    let board = quecpython::device(
        QuecPythonConfig::default(),
        quecpython_running_package(),
        RawPasteSupport::Window(128),
    );
    let mut link = SimLink::new(board, 921_600);
    let image = quecpython_sample_package();
    let s = QuecPythonSession::flash(Duration::ZERO, image.clone(), FotaOptions::default());
    let wait = restart_to_confirm(s, &mut link, image.len());
    assert!(wait >= BOOT, "confirmed before the module booted: {wait:?}");
    assert!(wait < BOOT + ms(50), "restart took {wait:?}");
}
