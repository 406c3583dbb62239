//! A QuecPython demo module downloads its package itself: a URL that does not exist fails with
//! the module's status and leaves the firmware; the real package shows live progress, installs,
//! and the module runs the new version.

use super::{Ctx, Scenario};
use crate::util::Result;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "quecpython_download",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const DOWNLOAD: Duration = Duration::from_secs(120);

fn run(ctx: &Ctx) -> Result<()> {
    ctx.session.goto(&ctx.url("/"))?;
    ctx.connect_demo("quecpython", "QuecPython")?;
    ctx.click("#source-download", SHORT)?;

    ctx.select(
        "#demo-package",
        "https://fw.otadeck.example/quecpython/missing.bin",
    )?;
    ctx.scroll_to("#url1")?;
    ctx.screenshot("quecpython-download-source.png")?;
    ctx.click("#flash-start", SHORT)?;
    let failure = ctx.wait_for("the missing package to fail", DOWNLOAD, || {
        match ctx.attr("#flash-state", "data-state")?.as_deref() {
            Some("failed") => ctx.text("#flash-error"),
            Some("success") => Err("a missing package was reported as installed".into()),
            _ => Ok(None),
        }
    })?;
    if !failure.contains("404") {
        return Err(format!("the failure does not name the 404: {failure}"));
    }
    ctx.screenshot("quecpython-download-missing.png")?;

    ctx.select(
        "#demo-package",
        "https://fw.otadeck.example/quecpython/app-2.1.0.bin",
    )?;
    ctx.click("#flash-start", SHORT)?;
    ctx.wait_for("live download progress", DOWNLOAD, || {
        let step = ctx.text("#flash-state .step-label")?.unwrap_or_default();
        let percent: u32 = ctx
            .attr("#flash-state .bar", "aria-valuenow")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok((step.contains("Downloading") && percent > 0 && percent < 100).then_some(()))
    })?;
    // The module reports a percentage: no byte counts or byte rates are made up from it.
    let figures = ctx.text("#flash-state .figures")?.unwrap_or_default();
    if !figures.contains("as reported by the module") || figures.contains("bytes") {
        return Err(format!("the download's figures read {figures:?}"));
    }
    ctx.screenshot("quecpython-download-progress.png")?;
    ctx.wait_flash_end(DOWNLOAD)?;
    ctx.screenshot("quecpython-download-success.png")?;
    ctx.click("#nav-device", SHORT)?;
    ctx.wait_text(
        "#device-firmware-version",
        "equal to \"2.1.0\"",
        SHORT,
        |t| t.trim() == "2.1.0",
    )?;
    Ok(())
}
