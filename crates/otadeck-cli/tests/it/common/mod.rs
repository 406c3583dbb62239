//! Helpers shared by the CLI tests: a simulated module served on a pty by `otadeck sim`.

#![allow(dead_code)] // each test crate uses a different part of it

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The `otadeck` binary under test.
pub fn otadeck() -> Command {
    Command::new(env!("CARGO_BIN_EXE_otadeck"))
}

/// Start `otadeck sim <args> --ws 127.0.0.1:0 --baud 921600`; gives the child and the
/// `ws://` address it printed first.
pub fn sim_over_ws(args: &[&str]) -> (Child, String) {
    let mut sim_args = vec!["sim"];
    sim_args.extend_from_slice(args);
    sim_args.extend_from_slice(&["--ws", "127.0.0.1:0", "--baud", "921600"]);
    serving_ws(&sim_args)
}

/// Start `otadeck <args>`, which serves WebSocket; gives the child and the `ws://` address it
/// printed first.
pub fn serving_ws(args: &[&str]) -> (Child, String) {
    let mut child = otadeck()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("ws: ")
        .expect("ws: <url>")
        .to_string();
    (child, url)
}

/// A running `otadeck sim ... --pty`, killed when dropped.
pub struct PtySim {
    pub child: Child,
    pub path: String,
}

impl PtySim {
    /// Start `otadeck sim <args> --pty` and read the pty path it prints first.
    pub fn start(args: &[&str]) -> PtySim {
        let mut all = args.to_vec();
        all.push("--pty");
        PtySim::spawn(&all)
    }

    /// Start `otadeck sim <args> --pty-link <dir>/port`: a module whose port vanishes at each
    /// hard reset and comes back `away_ms` later, as a native USB port does.
    pub fn reenumerating(args: &[&str], name: &str, away_ms: u64) -> PtySim {
        let link = scratch(&format!("{name}-port")).join("port");
        let away = away_ms.to_string();
        let mut all = args.to_vec();
        all.extend([
            "--pty-link",
            link.to_str().unwrap(),
            "--reenumerate-ms",
            &away,
        ]);
        PtySim::spawn(&all)
    }

    fn spawn(args: &[&str]) -> PtySim {
        let mut child = otadeck()
            .arg("sim")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("otadeck sim starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let path = line
            .trim()
            .strip_prefix("pty: ")
            .unwrap_or_else(|| panic!("first line is `pty: <path>`, got {line:?}"))
            .to_string();
        PtySim { child, path }
    }
}

impl Drop for PtySim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("otadeck-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
