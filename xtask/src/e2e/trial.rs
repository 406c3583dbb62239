//! A demo board with two slots (ESP32 MicroPython, NodeMCU, MCUboot): flash the sample image
//! leaving it on trial, see the slots on the Device page, accept it, and see the slot turn valid.

use super::{Ctx, Scenario};
use crate::util::Result;
use std::time::Duration;

/// The ESP32 MicroPython demo board.
pub const ESP32: Scenario = Scenario {
    name: "esp32_trial",
    run: |ctx| {
        run(
            ctx,
            "micropython-esp32",
            "ESP32 MicroPython",
            "esp32",
            "ota_1",
        )
    },
};

/// The NodeMCU (Lua) demo board.
pub const NODEMCU: Scenario = Scenario {
    name: "nodemcu_trial",
    run: |ctx| run(ctx, "nodemcu", "NodeMCU", "nodemcu", "ota_1"),
};

/// The Zephyr / MCUboot demo board: after the test swap the new image runs from the primary
/// slot.
pub const MCUBOOT: Scenario = Scenario {
    name: "mcuboot_trial",
    run: |ctx| run(ctx, "smp", "Zephyr / MCUboot", "mcuboot", "slot0"),
};

const SHORT: Duration = Duration::from_secs(20);
const FLASH: Duration = Duration::from_secs(180);

fn slot_state(ctx: &Ctx, slot: &str) -> Result<Option<String>> {
    ctx.attr(
        &format!("#device-slots tr[data-slot='{slot}'] td[data-state]"),
        "data-state",
    )
}

/// `key`: the demo menu's value; `family`: the name the page shows; `shots`: the screenshot
/// file prefix; `slot`: the slot the new firmware runs from on trial.
fn run(ctx: &Ctx, key: &str, family: &str, shots: &str, slot: &str) -> Result<()> {
    ctx.session.goto(&ctx.url("/"))?;
    ctx.connect_demo(key, family)?;
    ctx.use_sample()?;
    ctx.click("#keep-on-trial", SHORT)?;
    ctx.click("#flash-start", SHORT)?;
    // While it runs: the step's own elapsed time, and what the module is doing.
    ctx.wait_element("#flash-state #step-time", SHORT)?;
    ctx.wait_element("#flash-state #step-activity", SHORT)?;
    ctx.wait_flash_outcome("trial", FLASH)?;
    if key == "nodemcu" {
        // Connected at 115200, the console is written at 921600, then back at the restart.
        ctx.wait_text("#log", "naming the switch to 921600", SHORT, |t| {
            t.contains("Switching the console to 921600 baud for the write")
        })?;
    }
    // The decision is offered right in the result card.
    ctx.wait_element("#flash-state #device-accept", SHORT)?;
    ctx.wait_element("#flash-state #device-rollback", SHORT)?;
    ctx.screenshot(&format!("{shots}-flash-on-trial.png"))?;

    ctx.click("#nav-device", SHORT)?;
    ctx.wait_element("#device-trial", SHORT)?;
    ctx.wait_for(&format!("{slot} on trial"), SHORT, || {
        Ok((slot_state(ctx, slot)?.as_deref() == Some("testing")).then_some(()))
    })?;
    ctx.screenshot(&format!("{shots}-device-on-trial.png"))?;
    ctx.click("#device-accept", SHORT)?;
    ctx.wait_for(&format!("{slot} valid after accepting"), SHORT, || {
        Ok((slot_state(ctx, slot)?.as_deref() == Some("valid")).then_some(()))
    })?;
    // In the words of the family's bootloader, in the colour of a good state.
    let word = if key == "smp" { "confirmed" } else { "valid" };
    let cell = format!("#device-slots tr[data-slot='{slot}'] td[data-state]");
    let (text, class) = (ctx.text(&cell)?, ctx.attr(&cell, "class")?);
    if text.as_deref() != Some(word) || class.as_deref() != Some("good") {
        return Err(format!(
            "{slot} reads {text:?} in class {class:?}, not {word:?} in good"
        ));
    }
    ctx.wait_text(
        "#device-firmware-version",
        "equal to \"2.1.0\"",
        SHORT,
        |t| t.trim() == "2.1.0",
    )?;
    ctx.screenshot(&format!("{shots}-device-accepted.png"))?;
    if key == "smp" {
        erase_update_slot(ctx)?;
    }

    // Back on the Flash page, the demo menu still names the module connected.
    ctx.click("#nav-flash", SHORT)?;
    let chosen = ctx.session.execute(
        "return document.querySelector('#demo-family').value;",
        vec![],
    )?;
    if chosen.as_str() != Some(key) {
        return Err(format!("the demo menu shows {chosen}, not {key}"));
    }
    for (css, primary) in [("#connect-serial", false), ("#connect-demo", false)] {
        let class = ctx.attr(css, "class")?.unwrap_or_default();
        let disabled = ctx.attr(css, "disabled")?.is_some();
        if class.contains("btn-primary") != primary || !disabled {
            return Err(format!(
                "{css} while connected: class {class:?}, disabled {disabled}"
            ));
        }
    }
    Ok(())
}

/// MCUboot: the update slot (holding the previous firmware after the swap) erased after asking
/// once, naming what it holds; it then shows empty and the running slot stays confirmed.
fn erase_update_slot(ctx: &Ctx) -> Result<()> {
    ctx.click("#device-erase", SHORT)?;
    let old = otadeck_sim::firmware::DEMO_RUNNING_VERSION;
    ctx.wait_text(
        "#erase-confirm",
        "naming slot1 and what it holds",
        SHORT,
        |t| t.contains("slot1") && t.contains(old),
    )?;
    ctx.screenshot("mcuboot-device-erase-confirm.png")?;
    ctx.click("#erase-yes", SHORT)?;
    ctx.wait_for("slot1 empty after the erase", SHORT, || {
        let firmware = ctx.text("#device-slots tr[data-slot='slot1'] td:nth-child(4)")?;
        Ok((firmware.as_deref() == Some("empty")).then_some(()))
    })?;
    if slot_state(ctx, "slot0")?.as_deref() != Some("valid") {
        return Err("slot0 is no longer confirmed after erasing slot1".into());
    }
    ctx.screenshot("mcuboot-device-erased.png")?;
    Ok(())
}
