//! The demo STM32 in its DfuSe loader, reached as a USB device: read on the Device page, its
//! flash backed up and saved (compared byte for byte with what the demo device holds), then a
//! two-element `.dfu` written, read back, and run.

use super::{Ctx, Scenario};
use crate::util::Result;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario { name: "dfu", run };

const SHORT: Duration = Duration::from_secs(20);
const FLASH: Duration = Duration::from_secs(120);

/// What the demo STM32 holds before it is flashed: its 40 KiB application, then erased flash
/// to the end of its 512 KiB.
fn demo_flash() -> Vec<u8> {
    let mut flash = otadeck_sim::dfu::stm32_image(40 * 1024);
    flash.resize(512 * 1024, 0xFF);
    flash
}

fn run(ctx: &Ctx) -> Result<()> {
    ctx.session.goto(&ctx.url("/"))?;
    ctx.connect_demo("dfu", "DfuSe device")?;
    ctx.click("#nav-device", SHORT)?;
    ctx.wait_text("#device-family", "USB DFU", SHORT, |t| t == "USB DFU")?;
    ctx.click("#backup-start-0", SHORT)?;
    ctx.wait_element("#backup-save", SHORT)?;
    let name = ctx.attr("#backup-save", "download")?.unwrap_or_default();
    if name != "dfuse-device-internal-flash-backup-0x08000000.bin" {
        return Err(format!("the backup would be saved as {name:?}"));
    }
    let saved = ctx.saved_backup()?;
    let held = demo_flash();
    if saved != held {
        let first = saved.iter().zip(&held).position(|(a, b)| a != b);
        return Err(format!(
            "the saved backup ({} bytes) differs from the flash ({} bytes), first at {first:?}",
            saved.len(),
            held.len()
        ));
    }
    println!(
        "    the saved backup equals the demo flash ({} bytes)",
        saved.len()
    );
    ctx.wait_text(
        "#device-restart",
        "offering to leave DFU mode",
        SHORT,
        |t| t.contains("Leave DFU mode"),
    )?;
    ctx.screenshot("dfu-backup.png")?;

    ctx.click("#nav-flash", SHORT)?;
    ctx.use_sample()?;
    // Mass erase is offered, and off: only the pages the file covers are erased.
    ctx.wait_element("#erase-all", SHORT)?;
    ctx.scroll_to("#erase-all")?;
    ctx.screenshot("dfu-image.png")?;
    ctx.session.set_window_size(390, 844)?;
    super::layout::no_sideways_scroll(ctx, "the flash card at 390 px")?;
    ctx.scroll_to("#erase-all")?;
    ctx.screenshot("dfu-image-390.png")?;
    ctx.session.set_window_size(1280, 800)?;
    ctx.click("#flash-start", SHORT)?;
    ctx.wait_flash_outcome("success", FLASH)?;
    ctx.wait_text("#log", "naming the read back and the restart", SHORT, |t| {
        t.contains("Erasing 6 pages.")
            && t.contains("The device came back running its application.")
    })?;
    // The header names the device as it came back: the application's USB id.
    ctx.wait_text("#connection-status", "naming the application", SHORT, |t| {
        t.contains("0483:5740")
    })?;
    ctx.screenshot("dfu-flashed.png")?;
    Ok(())
}
