//! The `otadeck` command line beside the browser: simulated modules served over WebSocket
//! (`otadeck sim … --ws`), bridges, and the page connecting to them.

use super::Ctx;
use crate::util::Result;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

const SHORT: Duration = Duration::from_secs(20);

/// A running `otadeck` command, stopped when dropped.
pub struct Otadeck {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Drop for Otadeck {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Otadeck {
    /// Run `otadeck <args>` (built first) and read the first line it prints, after `prefix`.
    pub fn start(args: &[&str], prefix: &str) -> Result<(Otadeck, String)> {
        let root = crate::util::repo_root();
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
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start otadeck {args:?}: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut cmd = Otadeck {
            child,
            stdin,
            stdout,
        };
        let value = cmd.expect(prefix)?;
        println!("    otadeck {} → {value}", args.join(" "));
        Ok((cmd, value))
    }

    /// The next line it prints, after `prefix`.
    fn expect(&mut self, prefix: &str) -> Result<String> {
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| format!("otadeck said nothing: {e}"))?;
        line.trim()
            .strip_prefix(prefix)
            .map(str::to_string)
            .ok_or_else(|| format!("otadeck printed {line:?}, not {prefix:?}…"))
    }

    /// A simulated module's power is cut and restored: the firmware it boots.
    pub fn power_cycle(&mut self) -> Result<String> {
        let stdin = self.stdin.as_mut().ok_or("otadeck's input is closed")?;
        stdin
            .write_all(b"power\n")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("cannot tell otadeck to cut the power: {e}"))?;
        self.expect("boots: ")
    }
}

/// Connect the page to the bridge at `url` (the ESP ROM loader box ticked when `rom`), and wait
/// until the header names `name`. The address field is cleared first, as a person would.
pub fn connect_bridge(ctx: &Ctx, url: &str, rom: bool, name: &str) -> Result<()> {
    // The page may still be starting: its controls first.
    ctx.wait_element("#serial-rom", SHORT)?;
    ctx.wait_element("#bridge-url", SHORT)?;
    ctx.session.execute(
        "const input = document.querySelector('#bridge-url');
         input.value = ''; input.dispatchEvent(new Event('input', { bubbles: true }));",
        vec![],
    )?;
    let checked = |ctx: &Ctx| -> Result<bool> {
        let v = ctx.session.execute(
            "return document.querySelector('#serial-rom').checked;",
            vec![],
        )?;
        Ok(v.as_bool() == Some(true))
    };
    if checked(ctx)? != rom {
        ctx.click("#serial-rom", SHORT)?;
    }
    ctx.wait_for(
        &format!("the bootloader box to be ticked: {rom}"),
        SHORT,
        || Ok((checked(ctx)? == rom).then_some(())),
    )?;
    let input = ctx.wait_element("#bridge-url", SHORT)?;
    ctx.session.send_keys(&input, url)?;
    ctx.click("#connect-bridge", SHORT)?;
    ctx.wait_text("#module-identity", &format!("naming {name}"), SHORT, |t| {
        t.contains(name)
    })?;
    Ok(())
}
