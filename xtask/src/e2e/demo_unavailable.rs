//! The demo module's worker cannot load its wasm module (a site copied without it, or opened
//! offline before the demo was ever used), or a worker of another release answers: the page must
//! say so in words, not wait for an answer that never comes, and the demo must work once the
//! right files are back.

use super::{Ctx, Scenario};
use crate::serve::StaticServer;
use crate::util::Result;
use std::path::Path;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "demo_unavailable",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const DEMO_WASM: &str = "otadeck-demo_bg.wasm";
const DEMO_LOADER: &str = "otadeck-demo_loader.js";

/// A copy of the site's top folder (the demo's sources are not needed) without the demo's wasm.
fn site_without_demo(dist: &Path, copy: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(copy);
    std::fs::create_dir_all(copy).map_err(|e| format!("cannot create {}: {e}", copy.display()))?;
    let entries =
        std::fs::read_dir(dist).map_err(|e| format!("cannot list {}: {e}", dist.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() && entry.file_name() != DEMO_WASM {
            std::fs::copy(&path, copy.join(entry.file_name()))
                .map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

fn run(ctx: &Ctx) -> Result<()> {
    let dist = crate::bundle::dist_dir();
    let copy = ctx.artifacts.join("site-without-demo");
    site_without_demo(&dist, &copy)?;
    let server = StaticServer::start(&copy, "127.0.0.1:0", false)?;
    ctx.session.goto(&format!("{}/", server.base_url()))?;
    ctx.click("#connect-demo", SHORT)?;
    ctx.wait_text("#log", "containing \"could not start\"", SHORT, |t| {
        t.contains("the demo module could not start") && t.contains("reload the page while online")
    })?;
    ctx.screenshot("demo-unavailable.png")?;
    ctx.session.set_window_size(390, 844)?;
    ctx.scroll_to("#log")?;
    ctx.screenshot("demo-unavailable-phone.png")?;
    ctx.session.set_window_size(1280, 900)?;
    // The demo STM32 lives in the same worker: the same words.
    ctx.select("#demo-family", "dfu")?;
    ctx.click("#connect-demo", SHORT)?;
    ctx.wait_text("#log", "saying it twice", SHORT, |t| {
        t.matches("the demo module could not start").count() >= 2
    })?;
    ctx.select("#demo-family", "quecpython")?;

    // A worker of another release (an old copy in some cache) is refused, not misunderstood.
    std::fs::write(copy.join(DEMO_LOADER), "postMessage([0, \"ready 0\"]);")
        .map_err(|e| format!("cannot write {DEMO_LOADER}: {e}"))?;
    ctx.click("#connect-demo", SHORT)?;
    ctx.wait_text("#log", "containing \"another release\"", SHORT, |t| {
        t.contains("its files are from another release of otadeck")
    })?;

    // The files are back: the next try starts a new worker and the module answers.
    for file in [DEMO_WASM, DEMO_LOADER] {
        std::fs::copy(dist.join(file), copy.join(file))
            .map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    ctx.click("#connect-demo", SHORT)?;
    ctx.wait_text("#module-identity", "containing \"2.0.3\"", SHORT, |t| {
        t.contains("2.0.3")
    })?;
    let _ = std::fs::remove_dir_all(&copy);
    Ok(())
}
