//! A hawkBit deployment from goosebit (PyPI), a real DDI server, installed from the browser:
//! goosebit is served on the site's own origin under `/DEFAULT/controller/` (it sends no CORS
//! headers, so a reverse proxy is how a browser reaches it), the software is an SWUpdate bundle
//! assigned to the controller. The page registers the controller, shows the deployment, unwraps
//! and checks the bundle, flashes the demo ESP32 MicroPython board and feeds back; goosebit then
//! records the update as finished at 2.1.0.

use super::{Ctx, Scenario};
use crate::goosebit::Goosebit;
use crate::util::{self, Result};
use std::process::Command;
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "install_goosebit",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const INSTALL: Duration = Duration::from_secs(240);
const CONTROLLER: &str = "otadeck-web-1";

/// The sample app 2.1.0 as a one-image `.swu`, made by `otadeck sim image --swu`.
fn bundle(dir: &std::path::Path) -> Result<Vec<u8>> {
    let path = dir.join("app-2.1.0.swu");
    let out = Command::new("cargo")
        .args([
            "run",
            "--quiet",
            "-p",
            "otadeck-cli",
            "--",
            "sim",
            "image",
            "--swu",
            "-o",
        ])
        .arg(&path)
        .current_dir(util::repo_root())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    std::fs::read(&path).map_err(|e| e.to_string())
}

fn run(ctx: &Ctx) -> Result<()> {
    let dir = ctx.artifacts.join("goosebit");
    let _ = std::fs::remove_dir_all(&dir);
    let server = Goosebit::start(&dir)?;
    let software = server.upload("app-2.1.0.swu", &bundle(&dir)?)?;
    server.assign(CONTROLLER, &software)?;
    crate::proxy::set(Some(("/DEFAULT/controller/", &server.addr)));
    let result = drive(ctx, &server);
    crate::proxy::set(None);
    result
}

fn drive(ctx: &Ctx, server: &Goosebit) -> Result<()> {
    ctx.session.goto(&ctx.url("/"))?;
    ctx.connect_demo("micropython-esp32", "ESP32 MicroPython")?;
    // Typed once the module is identified (the field is disabled while a session runs).
    let field = ctx.wait_element("#source-url:not([disabled])", SHORT)?;
    let url = ctx.url(&format!("/DEFAULT/controller/v1/{CONTROLLER}"));
    ctx.session.send_keys(&field, &url)?;
    ctx.click("#source-load", SHORT)?;
    ctx.wait_text("#source-kind", "the deployment it leads to", SHORT, |t| {
        t == "hawkBit DDI deploymentBase"
    })?;
    ctx.wait_text("#source-items", "the bundle from goosebit", SHORT, |t| {
        t.contains("app-2.1.0.swu") && t.contains("SHA-1")
    })?;
    ctx.screenshot("install-goosebit-offer.png")?;
    ctx.click("#source-unsigned-ok", SHORT)?;
    ctx.click("#source-install", SHORT)?;
    ctx.wait_text("#source-done", "installed", INSTALL, |t| {
        t.contains("Installed")
    })?;
    ctx.screenshot("install-goosebit-done.png")?;
    ctx.wait_for(
        "goosebit showing the update finished at 2.1.0",
        SHORT,
        || {
            let d = server.device(CONTROLLER)?;
            let finished = d.to_string().to_ascii_lowercase().contains("finished");
            Ok((finished && d["sw_version"] == "2.1.0").then_some(()))
        },
    )?;
    Ok(())
}
