//! The demo campaign through the demo fleet, on a site of its own so that its server can be
//! stopped: opened by its deep link, five modules (two not eligible, each for its reason), the
//! page reloaded in the middle of the third module's write, then the server stopped and one
//! more module updated from what the browser kept (the site is reached through a relay that is
//! cut, as a network that goes away). Every record survives; the CSV export has
//! one row per attempt. Prints the technician's handling time per module beyond the transfer.

use std::time::{Duration, Instant};

use super::relay::Relay;
use super::{Ctx, Scenario};
use crate::serve::StaticServer;
use crate::util::Result;

pub const SCENARIO: Scenario = Scenario {
    name: "campaign",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const INSTALL: Duration = Duration::from_secs(120);
/// The demo fleet's IMEIs, in the order "Next demo module" brings them.
const FLEET: [&str; 6] = [
    "869999050000011",
    "869999050000029",
    "869999050000037",
    "869999050000045",
    "869999050000052",
    "869999050000060",
];

fn state(ctx: &Ctx) -> Result<Option<String>> {
    ctx.attr("#campaign-module", "data-state")
}

fn wait_state(ctx: &Ctx, want: &str, timeout: Duration) -> Result<()> {
    ctx.wait_for(
        &format!("#campaign-module in state {want}"),
        timeout,
        || {
            let now = state(ctx)?;
            match now.as_deref() {
                Some(s) if s == want => Ok(Some(())),
                Some("failed") if want != "failed" => {
                    let text = ctx.text("#attempt-result")?.unwrap_or_default();
                    Err(format!("the attempt failed: {text}"))
                }
                _ => Ok(None),
            }
        },
    )
}

/// Brings the next demo module and waits until the page judged it `module`.
fn next(ctx: &Ctx, module: &str) -> Result<()> {
    ctx.click("#next-module", SHORT)?;
    ctx.wait_text("#module-key", module, SHORT, |t| t == module)?;
    Ok(())
}

/// One eligible module, accepted and verified: (handling seconds, transfer seconds).
fn update(ctx: &Ctx, module: &str, shot: Option<&str>) -> Result<(f64, f64)> {
    let start = Instant::now();
    next(ctx, module)?;
    wait_state(ctx, "awaiting-confirmation", SHORT)?;
    if let Some(name) = shot {
        ctx.scroll_to("#campaign-module")?;
        ctx.screenshot(name)?;
    }
    let accept = Instant::now();
    ctx.click("#confirm-accept", SHORT)?;
    wait_state(ctx, "verified", INSTALL)?;
    Ok((
        accept.duration_since(start).as_secs_f64(),
        accept.elapsed().as_secs_f64(),
    ))
}

fn not_eligible(ctx: &Ctx, module: &str, reason: &str, shot: &str) -> Result<()> {
    next(ctx, module)?;
    wait_state(ctx, "not-eligible", SHORT)?;
    ctx.wait_text("#reasons", reason, SHORT, |t| t.contains(reason))?;
    ctx.scroll_to("#campaign-module")?;
    ctx.screenshot(shot)
}

fn row_state(ctx: &Ctx, module: &str) -> Result<Option<String>> {
    ctx.attr(
        &format!("#campaign-monitor tr[data-module=\"{module}\"]"),
        "data-state",
    )
}

fn run(ctx: &Ctx) -> Result<()> {
    let server = StaticServer::start(&crate::bundle::dist_dir(), "127.0.0.1:0", false)?;
    let network = Relay::start(server.addr)?;
    let base = network.base_url();
    let plan = format!("{base}/demo/campaign/plan.json");
    ctx.session
        .goto(&format!("{base}/#/campaign?plan={plan}"))?;
    ctx.wait_text("#plan-name", "the demo plan", SHORT, |t| {
        t.contains("EC600U")
    })?;
    // Unsigned: nothing starts until the technician chose to run it.
    ctx.click("#next-module", SHORT)?;
    ctx.wait_text("#campaign-error", "asking for the choice", SHORT, |t| {
        t.contains("unsigned")
    })?;
    ctx.click("#plan-allow-unsigned", SHORT)?;
    ctx.screenshot("campaign-plan.png")?;

    let mut figures = Vec::new();
    figures.push(update(ctx, FLEET[0], Some("campaign-confirm.png"))?);
    not_eligible(ctx, FLEET[1], "blacklist", "campaign-blacklisted.png")?;

    // The third module: reloaded in the middle of its write.
    next(ctx, FLEET[2])?;
    wait_state(ctx, "awaiting-confirmation", SHORT)?;
    ctx.click("#confirm-accept", SHORT)?;
    ctx.wait_for("the write past 20 %", INSTALL, || {
        let p: u32 = ctx
            .attr("#campaign-progress", "data-percent")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let writing = ctx
            .text("#campaign-progress")?
            .is_some_and(|t| t.starts_with("Writing"));
        Ok((writing && p >= 20).then_some(()))
    })?;
    ctx.session.refresh()?;
    let text = ctx.wait_text("#campaign-interrupted", "the cut-off write", SHORT, |t| {
        t.contains(FLEET[2]) && t.contains("in step writing at byte")
    })?;
    println!("    after the reload: {}", text.replace('\n', " | "));
    for (module, want) in [
        (FLEET[0], "verified"),
        (FLEET[1], "not-eligible"),
        (FLEET[2], "interrupted"),
    ] {
        let got = ctx.wait_for(&format!("the row of {module}"), SHORT, || {
            row_state(ctx, module)
        })?;
        if got != want {
            return Err(format!("after the reload, {module} is {got}, not {want}"));
        }
    }
    ctx.screenshot("campaign-after-reload.png")?;

    not_eligible(ctx, FLEET[3], "battery", "campaign-battery.png")?;
    figures.push(update(ctx, FLEET[4], None)?);

    // Offline: the server stops; the page reloads from what the browser kept and updates one
    // more module with the package it kept.
    ctx.wait_for("the service worker to control the page", SHORT, || {
        let v = ctx.session.execute(
            "return navigator.serviceWorker && navigator.serviceWorker.controller !== null;",
            vec![],
        )?;
        Ok(v.as_bool().unwrap_or(false).then_some(()))
    })?;
    network.cut();
    ctx.session.refresh()?;
    ctx.wait_text("#plan-name", "the plan, kept", SHORT, |t| {
        t.contains("EC600U")
    })?;
    figures.push(update(ctx, FLEET[5], None)?);
    ctx.wait_text("#count-done", "3 updated", SHORT, |t| t == "3")?;
    // What the browser kept for offline use: the package among it, with its size and hash;
    // removing the downloads leaves the app's own files.
    ctx.click("#offline-show", SHORT)?;
    let package = "/demo/campaign/ec600u-app-2.1.0.bin";
    let kept = ctx.wait_text("#offline-list", "the package", SHORT, |t| {
        t.contains(package)
    })?;
    if !kept.contains("98,380 bytes") {
        return Err(format!(
            "the kept package is listed without its size: {kept}"
        ));
    }
    ctx.scroll_to("#offline-card")?;
    ctx.screenshot("campaign-offline-cache.png")?;
    ctx.click("#offline-clear", SHORT)?;
    ctx.wait_text("#offline-list", "only the app", SHORT, |t| {
        !t.contains(package) && t.contains(".wasm")
    })?;
    ctx.scroll_to("#campaign-counts")?;
    ctx.screenshot("campaign-offline-done.png")?;
    ctx.session.set_window_size(390, 844)?;
    ctx.screenshot("campaign-phone.png")?;
    ctx.session.set_window_size(1280, 900)?;

    // The records on the Log page, and the CSV: one row per attempt.
    ctx.click("#nav-log", SHORT)?;
    ctx.wait_element("#records-table", SHORT)?;
    let csv = ctx.session.execute(
        "return fetch(document.querySelector('#records-csv').href).then(r => r.text());",
        vec![],
    )?;
    let csv = csv.as_str().unwrap_or_default().to_string();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let states: Vec<&str> = [
        "verified",
        "not eligible",
        "interrupted",
        "not eligible",
        "verified",
        "verified",
    ]
    .to_vec();
    if rows.len() != states.len() {
        return Err(format!(
            "the CSV has {} rows, not {}:\n{csv}",
            rows.len(),
            states.len()
        ));
    }
    for ((row, module), want) in rows.iter().zip(FLEET).zip(states) {
        if !row.contains(module) || !row.contains(&format!(",{want},")) {
            return Err(format!("CSV row {row:?} is not {module} {want}"));
        }
    }
    ctx.screenshot("campaign-records.png")?;
    for (i, (handling, transfer)) in figures.iter().enumerate() {
        println!(
            "    handling per module {}: 2 clicks, {handling:.1} s to the confirmation, then the transfer {transfer:.1} s",
            i + 1
        );
    }
    Ok(())
}
