//! The serial monitor on the Device page: a demo ESP32 board's output shown as it prints, a line
//! sent to it and its answer, then the port handed back to a session ("Read again") and the
//! monitor stopped by it.

use super::{Ctx, Scenario};
use crate::util::Result;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "monitor",
    run,
};

const SHORT: Duration = Duration::from_secs(20);

fn run(ctx: &Ctx) -> Result<()> {
    ctx.session.goto(&ctx.url("/"))?;
    ctx.connect_demo("micropython-esp32", "ESP32 MicroPython")?;
    ctx.click("#nav-device", SHORT)?;
    ctx.click("#monitor-toggle", SHORT)?;
    ctx.wait_text("#monitor-toggle", "Stop monitor", SHORT, |t| {
        t.contains("Stop")
    })?;
    let input = ctx.wait_element("#monitor-input", SHORT)?;
    ctx.session
        .send_keys(&input, "print('hello from the van')")?;
    ctx.click("#monitor-send", SHORT)?;
    ctx.wait_text(
        "#monitor-output",
        "showing the sent line and the answer",
        SHORT,
        |t| {
            t.contains("› print('hello from the van')")
                && t.lines()
                    .any(|l| l.trim_end().ends_with(" hello from the van"))
        },
    )?;
    ctx.scroll_to("#monitor-card")?;
    ctx.screenshot("monitor.png")?;
    ctx.session.set_window_size(390, 844)?;
    ctx.scroll_to("#monitor-card")?;
    ctx.screenshot("monitor-phone.png")?;
    ctx.session.set_window_size(1280, 900)?;
    // A session takes the port back: the monitor stops, and the module is read again.
    ctx.click("#device-refresh", SHORT)?;
    ctx.wait_text("#monitor-toggle", "Start monitor", SHORT, |t| {
        t.contains("Start")
    })?;
    ctx.wait_text("#device-family", "ESP32 MicroPython", SHORT, |t| {
        t == "ESP32 MicroPython"
    })?;
    Ok(())
}
