//! A Pycom OTA manifest into the demo Pycom board: asked with the board's version, the files
//! installed all or nothing and then the firmware; then a manifest whose second file the board
//! cannot create, undone whole, with the failing path named.

use super::{Ctx, Scenario};
use crate::util::Result;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "install_pycom",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const INSTALL: Duration = Duration::from_secs(240);

/// Loads `path` under the site's `/demo/`, accepts it unsigned and installs it.
fn install(ctx: &Ctx, path: &str) -> Result<()> {
    let url = ctx.url(&format!("/demo/{path}"));
    let field = ctx.wait_element("#source-url:not([disabled])", SHORT)?;
    // Ctrl+A, release, Backspace: the field emptied as a person would, then the URL typed.
    ctx.session
        .send_keys(&field, &format!("\u{E009}a\u{E000}\u{E003}{url}"))?;
    ctx.click("#source-load", SHORT)?;
    ctx.wait_text(
        "#source-summary",
        "this source, read as a Pycom manifest",
        SHORT,
        |t| t.contains("Pycom OTA manifest") && t.contains(path),
    )?;
    ctx.wait_element("#source-items", SHORT)?;
    ctx.click("#source-unsigned-ok", SHORT)?;
    ctx.click("#source-install", SHORT)
}

fn run(ctx: &Ctx) -> Result<()> {
    ctx.session.goto(&ctx.url("/"))?;
    ctx.connect_demo("pycom", "Pycom")?;
    install(ctx, "pycom/manifest.json")?;
    ctx.wait_text("#source-done", "installed", INSTALL, |t| {
        t.contains("Installed")
    })?;
    ctx.wait_flash_outcome("success", SHORT)?;
    ctx.screenshot("install-pycom-done.png")?;
    ctx.click("#nav-log", SHORT)?;
    ctx.wait_text(
        "#log",
        "the server asked with 2.0.3, files then firmware",
        SHORT,
        |t| {
            t.contains("manifest.json?current_ver=2.0.3")
                && t.contains("Writing 2 files, 0 deletions")
                && t.contains("Writing the firmware")
        },
    )?;
    ctx.click("#nav-flash", SHORT)?;

    install(ctx, "pycom/manifest-fails.json")?;
    ctx.wait_text("#source-failed", "not installed", INSTALL, |t| {
        t.contains("Not installed")
    })?;
    ctx.wait_flash_state("failed", SHORT)?;
    ctx.wait_text("#flash-state", "naming the path", SHORT, |t| {
        t.contains("/flash/main.py/extra.py")
    })?;
    ctx.scroll_to("#flash-state")?;
    ctx.screenshot("install-pycom-undone.png")?;
    ctx.click("#nav-log", SHORT)?;
    ctx.wait_text("#log", "the update undone", SHORT, |t| {
        t.contains("Undoing the file update")
    })?;
    Ok(())
}
