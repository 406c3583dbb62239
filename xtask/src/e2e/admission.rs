//! The Flash card refuses what it must not write before anything is sent: on the demo ESP32 ROM
//! loader a damaged app names its damage and raw data asks for the "Write raw data" consent (once
//! given, the Flash button is free); on the demo MCUboot module a signature policy with no key
//! refuses the unsigned sample.

use super::{Ctx, Scenario};
use crate::util::Result;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "admission",
    run,
};

const SHORT: Duration = Duration::from_secs(20);

/// An ESP32 image of one 4-byte segment whose checksum byte is off by one.
fn esp_image_with_a_wrong_checksum() -> Vec<u8> {
    let mut image = vec![0xE9, 1, 2, 0x20];
    image.extend_from_slice(&0x4008_0000u32.to_le_bytes()); // entry point
    image.extend_from_slice(&[0xEE, 0, 0, 0]); // wp_pin, spi_pin_drv
    image.extend_from_slice(&[0; 12]); // chip ESP32, revisions, reserved, no appended hash
    image.extend_from_slice(&0x3FFB_0000u32.to_le_bytes());
    image.extend_from_slice(&4u32.to_le_bytes());
    let data = [1u8, 2, 3, 4];
    image.extend_from_slice(&data);
    let checksum = data.iter().fold(0xEFu8, |c, b| c ^ b);
    while image.len() % 16 != 15 {
        image.push(0);
    }
    image.push(checksum.wrapping_add(1));
    image
}

fn flash_enabled(ctx: &Ctx) -> Result<bool> {
    Ok(ctx.attr("#flash-start", "disabled")?.is_none())
}

fn run(ctx: &Ctx) -> Result<()> {
    ctx.session.goto(&ctx.url("/"))?;
    ctx.connect_demo("esp-rom", "ESP32 bootloader")?;

    let raw = ctx.artifacts.join("admission-blob.bin");
    let bytes: Vec<u8> = (0..8192u32).map(|i| (i * 31 % 256) as u8).collect();
    std::fs::write(&raw, bytes).map_err(|e| format!("{}: {e}", raw.display()))?;
    ctx.choose_file("#file-input", &raw)?;
    ctx.wait_text(
        "#flash-hint",
        "asking for the raw-data consent",
        SHORT,
        |t| t.contains("Cannot flash") && t.contains("without checking it"),
    )?;
    if flash_enabled(ctx)? {
        return Err("the Flash button is enabled for raw data without consent".into());
    }
    ctx.scroll_to("#flash-start")?;
    ctx.screenshot("admission-raw-refused.png")?;
    ctx.click("#allow-raw", SHORT)?;
    ctx.wait_for(
        "the Flash button to be enabled after consent",
        SHORT,
        || Ok(flash_enabled(ctx)?.then_some(())),
    )?;

    let damaged = ctx.artifacts.join("admission-damaged.bin");
    std::fs::write(&damaged, esp_image_with_a_wrong_checksum())
        .map_err(|e| format!("{}: {e}", damaged.display()))?;
    ctx.choose_file("#file-input", &damaged)?;
    ctx.wait_text("#flash-hint", "naming the damage", SHORT, |t| {
        t.contains("is damaged") && t.contains("download it again")
    })?;
    if flash_enabled(ctx)? {
        return Err("the Flash button is enabled for a damaged image".into());
    }
    ctx.scroll_to("#flash-start")?;
    ctx.screenshot("admission-damaged-refused.png")?;

    // An MCUboot module: requiring a signature without a key refuses the unsigned sample.
    ctx.connect_demo("smp", "MCUboot")?;
    ctx.click("#use-sample", SHORT)?;
    ctx.wait_for(
        "the Flash button to be enabled for the sample",
        SHORT,
        || Ok(flash_enabled(ctx)?.then_some(())),
    )?;
    ctx.click("#require-signed", SHORT)?;
    ctx.wait_text("#flash-hint", "asking for a key", SHORT, |t| {
        t.contains("no key was given")
    })?;
    if flash_enabled(ctx)? {
        return Err(
            "the Flash button is enabled for an unsigned image under a signature policy".into(),
        );
    }
    ctx.scroll_to("#flash-start")?;
    ctx.screenshot("admission-signature-required.png")?;
    Ok(())
}
