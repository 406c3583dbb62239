//! A serial port on another machine: a simulated ESP32 in its ROM loader on a pseudo-terminal,
//! exposed by `otadeck bridge` over WebSocket, flashed from the site (reset lines and data
//! through the bridge); then a simulated Pycom board served by `otadeck sim --ws` is identified
//! the same way.

use super::sim_cli::{connect_bridge, Otadeck};
use super::{Ctx, Scenario};
use crate::util::Result;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "bridge",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const FLASH: Duration = Duration::from_secs(180);

fn run(ctx: &Ctx) -> Result<()> {
    let (_sim, pty) = Otadeck::start(&["sim", "esp32", "--pty"], "pty: ")?;
    let (_bridge, url) =
        Otadeck::start(&["bridge", "--port", &pty, "--ws", "127.0.0.1:0"], "ws: ")?;
    ctx.session.goto(&ctx.url("/"))?;
    connect_bridge(ctx, &url, true, "ESP32 bootloader")?;
    ctx.wait_text("#connection-status", "naming the port", SHORT, |t| {
        t.contains(&pty)
    })?;
    ctx.use_sample()?;
    ctx.click("#flash-start", SHORT)?;
    ctx.wait_flash_outcome("restart-pending", FLASH)?;
    ctx.screenshot("bridge-esp-rom.png")?;
    // The slots are read again after the flash; then the port is let go.
    ctx.wait_text("#log", "naming the slots read again", FLASH, |t| {
        t.contains("ota_1 (running, next boot)")
    })?;
    ctx.click("#disconnect", SHORT)?;

    let (_pycom, url) = Otadeck::start(&["sim", "pycom", "--ws", "127.0.0.1:0"], "ws: ")?;
    ctx.wait_text("#connection-status", "Not connected", SHORT, |t| {
        t.contains("Not connected")
    })?;
    // The address field keeps the last bridge: cleared as a person would, the bootloader box
    // unticked.
    connect_bridge(ctx, &url, false, "Pycom")?;
    ctx.screenshot("bridge-pycom.png")?;
    Ok(())
}
