//! Two modules at once on a bench: one demo module updated alone, then two in two slots side by
//! side (each its own session and card); both are counted. Prints the time of one alone against
//! two together.

use std::time::{Duration, Instant};

use super::{Ctx, Scenario};
use crate::serve::StaticServer;
use crate::util::Result;

pub const SCENARIO: Scenario = Scenario {
    name: "campaign_bench",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const INSTALL: Duration = Duration::from_secs(120);

fn wait_state(ctx: &Ctx, card: &str, want: &str, timeout: Duration) -> Result<()> {
    ctx.wait_for(&format!("{card} in state {want}"), timeout, || {
        Ok((ctx.attr(card, "data-state")?.as_deref() == Some(want)).then_some(()))
    })
}

/// "Next demo module" on `suffix`'s card until it shows a module waiting for its confirmation.
fn next_eligible(ctx: &Ctx, suffix: &str) -> Result<()> {
    let card = format!("#campaign-module{suffix}");
    for _ in 0..4 {
        ctx.click(&format!("#next-module{suffix}"), SHORT)?;
        ctx.wait_for("a verdict", SHORT, || {
            let s = ctx.attr(&card, "data-state")?;
            Ok(matches!(s.as_deref(), Some("awaiting-confirmation" | "not-eligible")).then_some(s))
        })?;
        if ctx.attr(&card, "data-state")?.as_deref() == Some("awaiting-confirmation") {
            return Ok(());
        }
    }
    Err(format!("{card}: no eligible module in four"))
}

fn run(ctx: &Ctx) -> Result<()> {
    let server = StaticServer::start(&crate::bundle::dist_dir(), "127.0.0.1:0", false)?;
    let base = server.base_url();
    ctx.session.goto(&format!(
        "{base}/#/campaign?plan={base}/demo/campaign/plan.json"
    ))?;
    ctx.wait_text("#plan-name", "the demo plan", SHORT, |t| {
        t.contains("EC600U")
    })?;
    ctx.click("#plan-allow-unsigned", SHORT)?;

    next_eligible(ctx, "")?;
    let alone = Instant::now();
    ctx.click("#confirm-accept", SHORT)?;
    wait_state(ctx, "#campaign-module", "verified", INSTALL)?;
    let alone = alone.elapsed().as_secs_f64();

    ctx.click("#add-slot", SHORT)?;
    next_eligible(ctx, "")?;
    next_eligible(ctx, "-2")?;
    let together = Instant::now();
    ctx.click("#confirm-accept", SHORT)?;
    ctx.click("#confirm-accept-2", SHORT)?;
    wait_state(ctx, "#campaign-module", "verified", INSTALL)?;
    wait_state(ctx, "#campaign-module-2", "verified", INSTALL)?;
    let together = together.elapsed().as_secs_f64();
    ctx.wait_text("#count-done", "3 updated", SHORT, |t| t == "3")?;
    ctx.screenshot("campaign-bench.png")?;
    println!(
        "    one module alone: {alone:.1} s; two side by side: {together:.1} s ({:.2} of twice one)",
        together / (2.0 * alone)
    );
    if together > 1.6 * alone {
        return Err(format!(
            "two modules took {together:.1} s against {alone:.1} s for one: they did not run side by side"
        ));
    }
    Ok(())
}
