//! The fault matrix's web-path column: for every serial protocol, a module served by
//! `otadeck sim … --ws` (so that it outlives the page) is flashed from the site with the sample
//! image, and the page is reloaded once a third of the image is written. A cell passes only when
//! the page then says the flash was interrupted, naming the step and the byte, and what the
//! module holds; the Log page's records list the attempt as interrupted at that step and byte;
//! the module answers the page again; and after a power cycle it boots a valid image (the
//! firmware it ran before, or the new one).
//!
//! USB DFU has no cell: the demo DFU device lives in the page and goes with it, and no USB device
//! that outlives a reload can be attached here.

use super::sim_cli::{connect_bridge, Otadeck};
use super::{Ctx, Scenario};
use crate::util::Result;
use otadeck_core::family::Family;
use otadeck_core::session::Step;
use otadeck_sim::firmware::SAMPLE_VERSION;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "reload_faults",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
/// How far the write gets before the reload, in percent of the image.
const RELOAD_AT: u32 = 33;

/// One module of the column: its family, the `otadeck sim` command serving it, and whether
/// the page reaches it in its ROM loader.
pub struct Target {
    pub family: Family,
    sim: &'static str,
    rom: bool,
}

/// Every serial protocol, in the fault table's order.
pub const TARGETS: [Target; 6] = [
    Target {
        family: Family::QuecPython,
        sim: "quecpython",
        rom: false,
    },
    Target {
        family: Family::Esp32MicroPython,
        sim: "micropython-esp32",
        rom: false,
    },
    Target {
        family: Family::Pycom,
        sim: "pycom",
        rom: false,
    },
    Target {
        family: Family::NodeMcu,
        sim: "nodemcu",
        rom: false,
    },
    Target {
        family: Family::McuBoot,
        sim: "mcuboot",
        rom: false,
    },
    Target {
        family: Family::EspRom,
        sim: "esp32",
        rom: true,
    },
];

/// How one cell came out: passed, and what was seen (or what went wrong).
pub struct WebCell {
    pub family: Family,
    pub pass: bool,
    pub note: String,
}

/// Every cell of the column, printed as it comes.
pub fn column(ctx: &Ctx) -> Vec<WebCell> {
    TARGETS
        .iter()
        .map(|t| {
            println!("    reload mid-write: {}", t.family.name());
            let (pass, note) = match reload_mid_write(ctx, t) {
                Ok(note) => (true, note),
                Err(e) => {
                    let _ = ctx.screenshot(&format!("reload-{}-failure.png", t.family.key()));
                    super::print_page_log(ctx.session);
                    (false, e)
                }
            };
            let word = if pass { "ok" } else { "FAIL" };
            println!("{word:<6} {} / reload: {note}", t.family.name());
            WebCell {
                family: t.family,
                pass,
                note,
            }
        })
        .collect()
}

fn run(ctx: &Ctx) -> Result<()> {
    let cells = column(ctx);
    let failed: Vec<&str> = cells
        .iter()
        .filter(|c| !c.pass)
        .map(|c| c.family.name())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("reload mid-write failed for {}", failed.join(", ")))
    }
}

/// The header's name for a module of `family` served by `otadeck sim`.
fn identity(family: Family) -> &'static str {
    match family {
        Family::McuBoot => "Zephyr",
        other => other.name(),
    }
}

/// One cell; the note says what the page said and what the module booted.
fn reload_mid_write(ctx: &Ctx, t: &Target) -> Result<String> {
    let (mut sim, url) = Otadeck::start(&["sim", t.sim, "--ws", "127.0.0.1:0"], "ws: ")?;
    let before = sim.power_cycle()?;
    ctx.session.goto(&ctx.url("/"))?;
    connect_bridge(ctx, &url, t.rom, identity(t.family))?;
    ctx.use_sample()?;
    ctx.click("#flash-start", SHORT)?;
    ctx.wait_for(&format!("the write past {RELOAD_AT} %"), SHORT * 6, || {
        let percent: u32 = ctx
            .attr("#flash-state .bar", "aria-valuenow")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok((percent >= RELOAD_AT).then_some(()))
    })?;
    ctx.session.refresh()?;

    let said = ctx.wait_for("the recovery message", SHORT, || ctx.text("#recovery"))?;
    let holds = t.family.after_interruption(Step::Write);
    for expected in ["was interrupted", "in step Writing", "(byte ", holds] {
        if !said.contains(expected) {
            return Err(format!("the page says {said:?}, missing {expected:?}"));
        }
    }
    ctx.click("#recovery-dismiss", SHORT)?;

    // The record of the attempt, on the Log page.
    ctx.click("#nav-log", SHORT)?;
    let row = ctx.wait_text(
        "#records-table tbody tr:first-child",
        "listing the attempt as interrupted",
        SHORT,
        |t| t.contains("interrupted") && t.contains("in step writing at byte"),
    )?;

    // The module answers again, then a power cycle: what does it boot?
    ctx.click("#nav-flash", SHORT)?;
    connect_bridge(ctx, &url, t.rom, identity(t.family))?;
    ctx.click("#disconnect", SHORT)?;
    let boots = sim.power_cycle()?;
    if boots != before && boots != SAMPLE_VERSION {
        return Err(format!(
            "after a power cycle the module boots {boots:?}, neither {before:?} (before) nor \
             {SAMPLE_VERSION:?} (the sample)"
        ));
    }
    let recorded = row
        .split_once("interrupted by")
        .map_or(row.as_str(), |(_, r)| r);
    Ok(format!(
        "the page said it was cut off {}; the record: interrupted by{}; answers again; boots \
         {boots} (ran {before})",
        at_words(&said),
        first_sentence(recorded)
    ))
}

/// "at 34 % (byte 89088 of 262480) in step Writing" from the page's message.
fn at_words(said: &str) -> &str {
    said.split_once("page ")
        .and_then(|(_, r)| r.split_once('.'))
        .map_or(said, |(at, _)| at)
}

fn first_sentence(text: &str) -> &str {
    text.split_once(';').map_or(text, |(s, _)| s)
}
