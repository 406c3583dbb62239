//! Install from a source through the deep link: `#/install?manifest=<url>` opens the Flash page
//! with the demo's ESP Web Tools manifest (bootloader, partition table, app) loaded; connected
//! to the demo ESP32 bootloader, the page shows what will be written where, refuses to start
//! until the unsigned source is accepted, then writes the three regions in one session (each
//! checked by the chip's MD5) and the chip boots the new app from ota_0.

use super::{Ctx, Scenario};
use crate::util::Result;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "install_source",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const INSTALL: Duration = Duration::from_secs(180);

fn run(ctx: &Ctx) -> Result<()> {
    let manifest = ctx.url("/demo/esp32-install.json");
    ctx.session
        .goto(&ctx.url(&format!("/#/install?manifest={manifest}")))?;
    ctx.wait_text(
        "#source-kind",
        "the kind found from the content",
        SHORT,
        |t| t == "ESP Web Tools manifest",
    )?;
    ctx.wait_text("#source-signature", "unsigned", SHORT, |t| {
        t.eq_ignore_ascii_case("unsigned")
    })?;
    // Before a module answers, the page says what it needs.
    ctx.wait_text("#source-offer-problem", "asking to connect", SHORT, |t| {
        t.contains("connect the module first")
    })?;
    ctx.screenshot("install-source-loaded.png")?;

    ctx.connect_demo("esp-rom", "ESP32 bootloader")?;
    ctx.wait_text(
        "#source-items",
        "the three parts and their places",
        SHORT,
        |t| {
            t.contains("bootloader.bin → flash at 0x1000")
                && t.contains("partitions.bin → flash at 0x8000")
                && t.contains("app-2.1.0.bin → flash at 0x10000")
        },
    )?;
    ctx.wait_text("#source-version-check", "newer than 2.0.3", SHORT, |t| {
        t.contains("2.1.0 is newer than the installed 2.0.3")
    })?;
    // Unsigned: the install waits for the technician's explicit choice.
    let disabled = ctx.attr("#source-install", "disabled")?;
    if disabled.is_none() {
        return Err("Install is enabled before the unsigned source was accepted".into());
    }
    ctx.scroll_to("#source-install")?;
    ctx.screenshot("install-source-offer.png")?;
    // On a phone: the card, its long URLs and hashes, within the width.
    ctx.session.set_window_size(390, 844)?;
    super::layout::no_sideways_scroll(ctx, "the source card at 390 px")?;
    ctx.scroll_to("#source-items")?;
    ctx.screenshot("install-source-offer-390.png")?;
    ctx.session.set_window_size(1280, 800)?;
    ctx.click("#source-unsigned-ok", SHORT)?;
    ctx.click("#source-install", SHORT)?;
    ctx.wait_flash_outcome("restart-pending", INSTALL)?;
    ctx.wait_text("#source-done", "installed", SHORT, |t| {
        t.contains("Installed")
    })?;
    ctx.screenshot("install-source-done.png")?;
    // Each region was read back by the chip's MD5 and matched, or was found in place by its
    // MD5 before writing (the demo chip's partition table is the same one), and not written
    // again; the whole log is on its page.
    ctx.click("#nav-log", SHORT)?;
    ctx.wait_text(
        "#log",
        "three regions verified or found in place",
        SHORT,
        |t| {
            ["0x1000", "0x8000", "0x10000"].iter().all(|at| {
                t.contains(&format!("MD5 of {at}+"))
                    || t.contains(&format!("{at}: the flash already holds these"))
            })
        },
    )?;
    // The layout the install wrote: ota_0 holds 2.1.0 and boots next (otadata was blanked).
    ctx.click("#nav-device", SHORT)?;
    ctx.wait_for("ota_0 holding 2.1.0 and booting next", SHORT, || {
        let cell = |c: usize| {
            ctx.text(&format!(
                "#device-slots tr[data-slot='ota_0'] td:nth-child({c})"
            ))
        };
        let (role, firmware) = (cell(2)?.unwrap_or_default(), cell(4)?.unwrap_or_default());
        Ok((firmware.contains("2.1.0") && role.contains("boots next")).then_some(()))
    })?;
    ctx.screenshot("install-source-device.png")?;
    Ok(())
}
