//! A serial port on another machine: a simulated ESP32 in its ROM loader on a pseudo-terminal,
//! exposed by `otadeck bridge` over WebSocket, flashed from the site (reset lines and data
//! through the bridge); then a simulated Pycom board served by `otadeck sim --ws` is identified
//! the same way.

use super::{Ctx, Scenario};
use crate::util::Result;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const SCENARIO: Scenario = Scenario {
    name: "bridge",
    run,
};

const SHORT: Duration = Duration::from_secs(20);
const FLASH: Duration = Duration::from_secs(180);

/// A running `otadeck` command, stopped when dropped.
struct Otadeck(Child);

impl Drop for Otadeck {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run `otadeck <args>` (built first) and read the first line it prints, after `prefix`.
fn otadeck(args: &[&str], prefix: &str) -> Result<(Otadeck, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let built = Command::new("cargo")
        .args(["build", "--quiet", "-p", "otadeck-cli"])
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cannot build otadeck: {e}"))?;
    if !built.success() {
        return Err("building otadeck failed".into());
    }
    let mut child = Command::new(root.join("target/debug/otadeck"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start otadeck {args:?}: {e}"))?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("otadeck {args:?} said nothing: {e}"))?;
    let value = line
        .trim()
        .strip_prefix(prefix)
        .ok_or_else(|| format!("otadeck {args:?} printed {line:?}"))?
        .to_string();
    println!("    otadeck {} → {value}", args.join(" "));
    Ok((Otadeck(child), value))
}

fn connect_bridge(ctx: &Ctx, url: &str, rom: bool, name: &str) -> Result<()> {
    let input = ctx.wait_element("#bridge-url", SHORT)?;
    ctx.session.send_keys(&input, url)?;
    if rom {
        ctx.click("#serial-rom", SHORT)?;
    }
    ctx.click("#connect-bridge", SHORT)?;
    ctx.wait_text("#module-identity", &format!("naming {name}"), SHORT, |t| {
        t.contains(name)
    })?;
    Ok(())
}

fn run(ctx: &Ctx) -> Result<()> {
    let (_sim, pty) = otadeck(&["sim", "esp32", "--pty"], "pty: ")?;
    let (_bridge, url) = otadeck(&["bridge", "--port", &pty, "--ws", "127.0.0.1:0"], "ws: ")?;
    ctx.session.goto(&ctx.url("/"))?;
    connect_bridge(ctx, &url, true, "ESP32 bootloader")?;
    ctx.wait_text("#connection-status", "naming the port", SHORT, |t| {
        t.contains(&pty)
    })?;
    ctx.use_sample()?;
    ctx.click("#flash-start", SHORT)?;
    ctx.wait_flash_outcome("restart-pending", FLASH)?;
    ctx.screenshot("bridge-esp-rom.png")?;
    // The slots are read again after the flash; then the port is let go.
    ctx.wait_text("#log", "naming the slots read again", FLASH, |t| {
        t.contains("ota_1 (running, next boot)")
    })?;
    ctx.click("#disconnect", SHORT)?;

    let (_pycom, url) = otadeck(&["sim", "pycom", "--ws", "127.0.0.1:0"], "ws: ")?;
    // The address field keeps the last bridge: clear it as a person would, and untick the
    // bootloader box.
    ctx.session.execute(
        "const input = document.querySelector('#bridge-url');
         input.value = ''; input.dispatchEvent(new Event('input', { bubbles: true }));
         const rom = document.querySelector('#serial-rom'); if (rom.checked) rom.click();",
        vec![],
    )?;
    ctx.wait_text("#connection-status", "Not connected", SHORT, |t| {
        t.contains("Not connected")
    })?;
    connect_bridge(ctx, &url, false, "Pycom")?;
    ctx.screenshot("bridge-pycom.png")?;
    Ok(())
}
