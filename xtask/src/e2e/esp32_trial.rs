//! An ESP32 MicroPython demo board: flash the sample image leaving it on trial, see the slots on
//! the Device page, accept it, and see the slot turn valid.

use super::{Ctx, Scenario};
use crate::util::Result;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "esp32_trial",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const FLASH: Duration = Duration::from_secs(180);

fn slot_state(ctx: &Ctx, slot: &str) -> Result<Option<String>> {
    ctx.attr(
        &format!("#device-slots tr[data-slot='{slot}'] td[data-state]"),
        "data-state",
    )
}

fn run(ctx: &Ctx) -> Result<()> {
    ctx.session.goto(&ctx.url("/"))?;
    ctx.select("#demo-family", "micropython-esp32")?;
    ctx.click("#connect-demo", SHORT)?;
    ctx.wait_text("#module-identity", "naming ESP32 MicroPython", SHORT, |t| {
        t.contains("ESP32 MicroPython")
    })?;
    ctx.click("#use-sample", SHORT)?;
    ctx.wait_text("#image-summary", "containing \"SHA-256\"", SHORT, |t| {
        t.contains("SHA-256")
    })?;
    ctx.click("#keep-on-trial", SHORT)?;
    ctx.click("#flash-start", SHORT)?;
    ctx.wait_for("#flash-state data-state=success", FLASH, || {
        match ctx.attr("#flash-state", "data-state")?.as_deref() {
            Some("success") => Ok(Some(())),
            Some(bad @ ("failed" | "cancelled")) => {
                let text = ctx.text("#flash-state")?.unwrap_or_default();
                Err(format!("flash ended in state {bad}: {text}"))
            }
            _ => Ok(None),
        }
    })?;
    ctx.screenshot("esp32-flash-success.png")?;

    ctx.click("#nav-device", SHORT)?;
    ctx.wait_element("#device-trial", SHORT)?;
    ctx.wait_for("ota_1 on trial", SHORT, || {
        Ok((slot_state(ctx, "ota_1")?.as_deref() == Some("testing")).then_some(()))
    })?;
    ctx.screenshot("esp32-device-on-trial.png")?;
    ctx.click("#device-accept", SHORT)?;
    ctx.wait_for("ota_1 valid after accepting", SHORT, || {
        Ok((slot_state(ctx, "ota_1")?.as_deref() == Some("valid")).then_some(()))
    })?;
    ctx.wait_text(
        "#device-firmware-version",
        "equal to \"2.1.0\"",
        SHORT,
        |t| t.trim() == "2.1.0",
    )?;
    ctx.screenshot("esp32-device-accepted.png")?;
    Ok(())
}
