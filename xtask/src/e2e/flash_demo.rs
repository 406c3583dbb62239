//! Connect the built-in demo module, flash the sample image without the restart, restart it from
//! the result card, and check the device page shows the new firmware version.

use super::{Ctx, Scenario};
use crate::util::Result;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "flash_demo",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const FLASH: Duration = Duration::from_secs(180);

fn run(ctx: &Ctx) -> Result<()> {
    let url = ctx.url("/");
    println!("    open {url}");
    ctx.session.goto(&url)?;
    ctx.wait_element("#connect-demo", SHORT)?;
    ctx.click("#connect-demo", SHORT)?;
    ctx.wait_text("#connection-status", "containing \"Demo\"", SHORT, |t| {
        t.contains("Demo")
    })?;

    ctx.use_sample()?;

    ctx.click("#restart-after", SHORT)?;
    ctx.click("#flash-start", SHORT)?;
    ctx.wait_flash_outcome("restart-pending", FLASH)?;
    ctx.screenshot("flash-restart-pending.png")?;
    ctx.click("#flash-restart", SHORT)?;
    ctx.wait_flash_state("success", FLASH)?;
    ctx.wait_text("#flash-state", "naming 2.1.0", SHORT, |t| {
        t.contains("now runs firmware 2.1.0")
    })?;
    ctx.screenshot("flash-success.png")?;

    ctx.click("#nav-device", SHORT)?;
    ctx.wait_text(
        "#device-firmware-version",
        "equal to \"2.1.0\"",
        SHORT,
        |t| t.trim() == "2.1.0",
    )?;
    ctx.screenshot("device-page.png")?;
    Ok(())
}
