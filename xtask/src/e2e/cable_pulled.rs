//! Pull the demo module's cable in the middle of a flash: the page must say what happened and
//! that the module keeps its firmware, drop the connection, and after plugging the same module
//! back in the Device page must show the firmware it ran before.

use super::{Ctx, Scenario};
use crate::util::Result;
use serde_json::Value;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "cable_pulled",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const FLASH: Duration = Duration::from_secs(120);

fn run(ctx: &Ctx) -> Result<()> {
    ctx.session.goto(&ctx.url("/"))?;
    ctx.click("#connect-demo", SHORT)?;
    ctx.wait_text("#module-identity", "containing \"2.0.3\"", SHORT, |t| {
        t.contains("2.0.3")
    })?;
    ctx.wait_element("#demo-fault", SHORT)?;
    ctx.session.execute(
        "const s = document.querySelector('#demo-fault'); s.value = 'cable'; \
         s.dispatchEvent(new Event('change', { bubbles: true }));",
        Vec::<Value>::new(),
    )?;
    ctx.use_sample()?;
    ctx.click("#flash-start", SHORT)?;
    ctx.wait_for("#flash-state data-state=failed", FLASH, || {
        match ctx.attr("#flash-state", "data-state")?.as_deref() {
            Some("failed") => Ok(Some(())),
            Some(bad @ ("success" | "cancelled")) => {
                Err(format!("the flash ended in state {bad}, expected failed"))
            }
            _ => Ok(None),
        }
    })?;
    // The headline, then what the module holds now, then what to do.
    for (css, expected) in [
        ("#flash-error", "Writing failed at byte"),
        ("#flash-error", "the connection to the module was lost"),
        ("#flash-module-state", "still runs its previous firmware"),
        ("#flash-state .advice", "Check the USB cable"),
    ] {
        let text = ctx.text(css)?.unwrap_or_default();
        if !text.contains(expected) {
            return Err(format!("{css} says {text:?}, missing {expected:?}"));
        }
    }
    ctx.wait_text(
        "#connection-status",
        "equal to \"Not connected\"",
        SHORT,
        |t| t.trim() == "Not connected",
    )?;
    ctx.screenshot("cable-pulled.png")?;

    // Plug the same module back in: it restarts and still runs what it ran before.
    ctx.click("#connect-demo", SHORT)?;
    ctx.click("#nav-device", SHORT)?;
    ctx.wait_text(
        "#device-firmware-version",
        "equal to \"2.0.3\"",
        SHORT,
        |t| t.trim() == "2.0.3",
    )?;
    ctx.screenshot("cable-pulled-device.png")?;
    Ok(())
}
