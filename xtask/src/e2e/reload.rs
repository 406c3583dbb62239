//! A reload in the middle of a flash, at 1280, 1024 and 390 px: the page asks before leaving
//! while the flash runs; after the reload it says which flash was cut off, where, and what the
//! module holds now, and the log from before the reload is there again.

use super::layout::{no_sideways_scroll, WINDOWS};
use super::{Ctx, Result, Scenario};
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "reload",
    run,
};

const SHORT: Duration = Duration::from_secs(20);

/// Whether leaving the page now would ask first (a handler cancels `beforeunload`).
fn asks_before_leaving(ctx: &Ctx) -> Result<bool> {
    let v = ctx.session.execute(
        "const e = new Event('beforeunload', {cancelable: true});
         window.dispatchEvent(e);
         return e.defaultPrevented;",
        vec![],
    )?;
    Ok(v.as_bool().unwrap_or(false))
}

fn run(ctx: &Ctx) -> Result<()> {
    ctx.session.goto(&ctx.url("/"))?;
    if asks_before_leaving(ctx)? {
        return Err("the page asks before leaving with no flash running".into());
    }
    for (width, height, name) in WINDOWS {
        ctx.session.set_window_size(width, height)?;
        cut_off(ctx, name)?;
    }
    // Said once: dismissed, and not said again at the next load.
    ctx.click("#recovery-dismiss", SHORT)?;
    ctx.session.refresh()?;
    ctx.wait_element("#nav-log", SHORT)?;
    std::thread::sleep(Duration::from_secs(1));
    if ctx.text("#recovery")?.is_some() {
        return Err("the interrupted flash is reported again after a second reload".into());
    }
    Ok(())
}

/// Reload the page in the middle of a flash, in a window `name` px wide.
fn cut_off(ctx: &Ctx, name: &str) -> Result<()> {
    ctx.session.goto(&ctx.url("/"))?;
    // A QuecPython module at 115200 baud: about 10 s for the sample, time to reload mid-way.
    ctx.connect_demo("quecpython", "QuecPython")?;
    ctx.use_sample()?;
    ctx.click("#flash-start", SHORT)?;
    ctx.wait_for("the write past 20 %", SHORT, || {
        let percent: u32 = ctx
            .attr("#flash-state .bar", "aria-valuenow")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok((percent >= 20).then_some(()))
    })?;
    if !asks_before_leaving(ctx)? {
        return Err("the page does not ask before leaving while a flash runs".into());
    }
    ctx.session.refresh()?;
    let text = ctx.wait_for("the recovery message", SHORT, || ctx.text("#recovery"))?;
    for expected in [
        "was interrupted",
        "in step Writing",
        "still runs its previous firmware",
        "Reconnect it",
    ] {
        if !text.contains(expected) {
            return Err(format!("#recovery says {text:?}, missing {expected:?}"));
        }
    }
    no_sideways_scroll(ctx, &format!("the recovery message at {name} px"))?;
    ctx.screenshot(&format!("reload-{name}-recovery.png"))?;
    // The log from before the reload is back.
    ctx.click("#nav-log", SHORT)?;
    ctx.wait_text(
        "#log",
        "with the lines from before the reload",
        SHORT,
        |t| t.contains("Flashing sample firmware") && t.contains("The page was loaded again"),
    )?;
    ctx.screenshot(&format!("reload-{name}-log.png"))?;
    Ok(())
}
