//! An ESP32 demo chip in its ROM loader: back up the running slot, flash the sample app into the slot that does not boot
//! (ota_1, compressed, checked by MD5, then made to boot next), see the slots read straight from
//! flash, then switch the boot slot back to the other app.

use super::{Ctx, Scenario};
use crate::util::Result;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "esp_rom",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const FLASH: Duration = Duration::from_secs(180);

fn slot_cell(ctx: &Ctx, slot: &str, column: usize) -> Result<Option<String>> {
    ctx.text(&format!(
        "#device-slots tr[data-slot='{slot}'] td:nth-child({column})"
    ))
}

/// One click before the flash: the running slot's image read back and saved, equal to what the
/// demo chip holds there.
fn backup_running_slot(ctx: &Ctx) -> Result<()> {
    ctx.wait_text(
        "#backup-card",
        "offering the running slot first",
        SHORT,
        |t| t.contains("image in slot ota_0 (otadeck-demo 2.0.3, running)"),
    )?;
    ctx.click("#backup-start-0", SHORT)?;
    ctx.wait_element("#backup-save", FLASH)?;
    let name = ctx.attr("#backup-save", "download")?.unwrap_or_default();
    if name != "esp32-ota_0-backup-0x00010000.bin" {
        return Err(format!("the backup would be saved as {name:?}"));
    }
    let held = otadeck_sim::firmware::demo_image(otadeck_sim::esp_rom::OTA0_VERSION, 64 * 1024);
    let saved = ctx.saved_backup()?;
    if saved != held {
        return Err(format!(
            "the backup of ota_0 ({} bytes) is not the image the chip holds ({} bytes)",
            saved.len(),
            held.len()
        ));
    }
    println!(
        "    the backup of ota_0 equals its image ({} bytes)",
        saved.len()
    );
    ctx.screenshot("esp-rom-backup.png")?;
    // On a phone: one slot per line, its button beside or under it, within the width.
    ctx.session.set_window_size(390, 844)?;
    super::layout::no_sideways_scroll(ctx, "the backup card at 390 px")?;
    ctx.scroll_to("#backup-card")?;
    ctx.screenshot("esp-rom-backup-390.png")?;
    ctx.session.set_window_size(1280, 800)
}

fn run(ctx: &Ctx) -> Result<()> {
    ctx.session.goto(&ctx.url("/"))?;
    ctx.connect_demo("esp-rom", "ESP32 bootloader")?;
    backup_running_slot(ctx)?;
    ctx.use_sample()?;
    ctx.click("#flash-start", SHORT)?;
    // The chip stays in its loader so that the slots can be read: a restart is pending.
    ctx.wait_flash_outcome("restart-pending", FLASH)?;
    ctx.screenshot("esp-rom-flash-success.png")?;

    ctx.click("#nav-device", SHORT)?;
    ctx.wait_for("ota_1 holding 2.1.0 and booting next", SHORT, || {
        let firmware = slot_cell(ctx, "ota_1", 4)?.unwrap_or_default();
        let role = slot_cell(ctx, "ota_1", 2)?.unwrap_or_default();
        Ok((firmware.contains("2.1.0") && role.contains("boots next")).then_some(()))
    })?;
    ctx.screenshot("esp-rom-device.png")?;
    ctx.click("#device-rollback", SHORT)?;
    // Switching the boot slot asks once more, naming the slot.
    ctx.wait_text("#rollback-confirm", "naming ota_0", SHORT, |t| {
        t.contains("ota_0")
    })?;
    ctx.screenshot("esp-rom-device-confirm.png")?;
    ctx.click("#rollback-yes", SHORT)?;
    ctx.wait_for("ota_0 booting next after the switch", SHORT, || {
        let role = slot_cell(ctx, "ota_0", 2)?.unwrap_or_default();
        Ok(role.contains("boots next").then_some(()))
    })?;
    ctx.screenshot("esp-rom-device-switched.png")?;

    // Out of the loader, from the result card: after the switch back it boots 2.0.3, which the
    // card says is not the image's version.
    ctx.click("#nav-flash", SHORT)?;
    ctx.click("#flash-restart", SHORT)?;
    ctx.wait_flash_state("other-version", SHORT)?;
    ctx.wait_text("#flash-state", "naming both versions", SHORT, |t| {
        t.contains("runs firmware 2.0.3") && t.contains("declares 2.1.0")
    })?;
    let title = ctx.session.execute("return document.title;", vec![])?;
    if !title
        .as_str()
        .is_some_and(|t| t.contains("Another version runs"))
    {
        return Err(format!("the tab title reads {title}"));
    }
    ctx.wait_text("#log", "naming the restart", SHORT, |t| {
        t.contains("The chip runs its firmware now")
    })?;
    ctx.screenshot("esp-rom-restarted.png")?;
    Ok(())
}
