//! The real MicroPython interpreter (npm `@micropython/micropython-webassembly-pyscript`, which
//! `cargo xtask setup` installs into `tools/`) as a module behind a serial line: the harness in
//! `crates/otadeck-sim/peers/micropython/` runs under Node, and [`Board::run`] pumps a session
//! over its stdin/stdout in real time. When the session is over, [`Board::finish`] returns the
//! flash state the Python stand-ins recorded.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use otadeck_core::session::{Machine, SessionEvent};
use otadeck_sim::harness::Run;

use crate::support::hard_reset_at;

/// The npm package and the version `cargo xtask setup` installs.
const PACKAGE: &str = "@micropython/micropython-webassembly-pyscript";
const VERSION: &str = "1.27.0";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The interpreter's entry module; `$MICROPYTHON_MJS` overrides the place setup installs it.
fn interpreter() -> PathBuf {
    if let Some(p) = std::env::var_os("MICROPYTHON_MJS") {
        return PathBuf::from(p);
    }
    let dir = repo().join("tools/node_modules").join(PACKAGE);
    let manifest = std::fs::read_to_string(dir.join("package.json")).unwrap_or_else(|e| {
        panic!(
            "{PACKAGE} is not installed in tools/ ({e}): run `cargo xtask setup --browser` or \
             `npm install --prefix tools {PACKAGE}@{VERSION}`"
        )
    });
    assert!(
        manifest.contains(&format!("\"version\": \"{VERSION}\"")),
        "tools/node_modules/{PACKAGE} is not version {VERSION}"
    );
    dir.join("micropython.mjs")
}

/// How the harness plays the board.
#[derive(Debug, Clone)]
pub struct Opts {
    /// `esp32`, `quecpython` or `pycom`.
    pub board: &'static str,
    /// `window`, `refuse` or `absent`.
    pub paste: &'static str,
    /// Modules the firmware lacks (`deflate`, `binascii`).
    pub hide: Vec<&'static str>,
    /// The firmware the board runs at power-on.
    pub firmware: Vec<u8>,
    /// Files on the board at power-on (`/flash/main.py` → contents).
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Opts {
    /// A `board` with `firmware`, raw-paste, every module and no files.
    pub fn new(board: &'static str, firmware: Vec<u8>) -> Self {
        Opts {
            board,
            paste: "window",
            hide: Vec::new(),
            firmware,
            files: BTreeMap::new(),
        }
    }
}

/// A running harness.
pub struct Board {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Vec<u8>>,
    dir: PathBuf,
    t0: Instant,
    /// Everything the board printed, for failure messages.
    pub transcript: Vec<u8>,
    /// The board is on native USB: at a hard reset its port goes away for this long (what it
    /// prints meanwhile is lost) and the session is told to find it again.
    pub reenumerate: Option<Duration>,
}

impl Board {
    /// Start node with the harness; panics when node or the package is missing.
    pub fn start(opts: &Opts) -> Board {
        let mjs = interpreter();
        let dir = std::env::temp_dir().join(format!(
            "otadeck-real-mp-{}-{}-{}",
            std::process::id(),
            opts.board,
            unique()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let firmware = dir.join("firmware.bin");
        std::fs::write(&firmware, &opts.firmware).unwrap();
        let preload = dir.join("preload");
        for (path, data) in &opts.files {
            let at = preload.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(at, data).unwrap();
        }
        std::fs::create_dir_all(&preload).unwrap();
        let harness = repo().join("crates/otadeck-sim/peers/micropython/harness.mjs");
        let mut child = Command::new("node")
            .arg(harness)
            .arg("--mp")
            .arg(&mjs)
            .args(["--board", opts.board, "--paste", opts.paste])
            .arg("--hide")
            .arg(opts.hide.join(","))
            .arg("--firmware")
            .arg(&firmware)
            .arg("--state")
            .arg(dir.join("state"))
            .arg("--preload")
            .arg(&preload)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run node (needed for the real-interpreter tests): {e}")
            });
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Board {
            stdin: child.stdin.take(),
            child,
            rx,
            dir,
            t0: Instant::now(),
            transcript: Vec::new(),
            reenumerate: None,
        }
    }

    /// The clock sessions on this board start from.
    pub fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Pump `machine` until it finishes; panics after `limit`.
    pub fn run<M: Machine>(&mut self, machine: &mut M, limit: Duration) -> Run {
        let start = self.now();
        let mut events = Vec::new();
        let mut result = None;
        loop {
            while let Some(tx) = machine.poll_transmit() {
                let stdin = self.stdin.as_mut().expect("stdin open");
                if stdin.write_all(&tx).and_then(|_| stdin.flush()).is_err() {
                    machine.link_lost(self.now());
                }
            }
            while let Some(ev) = machine.poll_event() {
                if let SessionEvent::Finished(r) = &ev {
                    result = Some(r.clone());
                }
                events.push(ev);
            }
            if machine.is_finished() {
                break;
            }
            let now = self.now();
            assert!(
                now < start + limit,
                "the session did not finish in {limit:?}; the board printed:\n{}",
                String::from_utf8_lossy(
                    &self.transcript[self.transcript.len().saturating_sub(2000)..]
                )
            );
            let wait = machine
                .poll_timeout()
                .map_or(Duration::from_millis(50), |t| t.saturating_sub(now))
                .min(Duration::from_millis(50));
            match self.rx.recv_timeout(wait) {
                Ok(mut bytes) => {
                    while let Ok(more) = self.rx.try_recv() {
                        bytes.extend(more);
                    }
                    self.transcript.extend_from_slice(&bytes);
                    let reset_at = self.reenumerate.and_then(|_| hard_reset_at(&bytes));
                    match reset_at {
                        Some(at) => {
                            machine.handle_input(self.now(), &bytes[..at]);
                            self.off_the_bus(machine);
                        }
                        None => machine.handle_input(self.now(), &bytes),
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the harness exited: {:?}", self.child.try_wait())
                }
            }
            let now = self.now();
            if machine.poll_timeout().is_some_and(|t| t <= now) {
                machine.handle_timeout(now);
            }
        }
        Run {
            events,
            result,
            elapsed: self.now() - start,
            steps: Vec::new(),
        }
    }

    /// The board reset on native USB: the port is gone; the session must ask for it again, and
    /// gets it back once the board has been away for [`Board::reenumerate`].
    fn off_the_bus<M: Machine>(&mut self, machine: &mut M) {
        machine.link_lost(self.now());
        let back = Instant::now() + self.reenumerate.unwrap_or_default();
        while Instant::now() < back {
            let _ = self.rx.recv_timeout(Duration::from_millis(20));
        }
        while let Ok(lost) = self.rx.try_recv() {
            drop(lost);
        }
        match machine.poll_next() {
            otadeck_core::session::Next::Reconnect { .. } => {
                machine.handle_reconnected(self.now(), Vec::new())
            }
            other => panic!("the session did not ask to find the board again: {other:?}"),
        }
    }

    /// Send raw bytes to the board.
    pub fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).and_then(|_| stdin.flush()).unwrap();
    }

    /// What the board prints until `end` appears (included); panics after `timeout`.
    pub fn read_until(&mut self, end: &[u8], timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        while !got.windows(end.len()).any(|w| w == end) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(bytes) => got.extend(bytes),
                Err(_) => panic!(
                    "waited for {:?}, got {:?}",
                    String::from_utf8_lossy(end),
                    String::from_utf8_lossy(&got)
                ),
            }
        }
        self.transcript.extend_from_slice(&got);
        got
    }

    /// Close the line, let the harness write its state, and read it.
    pub fn finish(mut self) -> State {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the harness failed: {status}");
        let mut state = State {
            files: BTreeMap::new(),
            dirs: BTreeSet::new(),
        };
        read_tree(&self.dir.join("state"), "", &mut state);
        let _ = std::fs::remove_dir_all(&self.dir);
        state
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn read_tree(dir: &Path, prefix: &str, out: &mut State) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = format!("{prefix}/{}", e.file_name().to_string_lossy());
        if e.path().is_dir() {
            read_tree(&e.path(), &name, out);
            out.dirs.insert(name);
        } else {
            out.files.insert(name, std::fs::read(e.path()).unwrap());
        }
    }
}

/// What the board's stand-ins recorded: every file under `/board` (and `/flash`).
#[derive(Debug)]
pub struct State {
    /// Path on the board → contents.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The directories.
    pub dirs: BTreeSet<String>,
}

impl State {
    /// `/board/state.json`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.files["/board/state.json"]).unwrap()
    }

    /// The running slot.
    pub fn running(&self) -> usize {
        self.json()["running"].as_u64().unwrap() as usize
    }

    /// The slot the next reset boots (ESP32, Pycom).
    pub fn next_boot(&self) -> usize {
        self.json()["next_boot"].as_u64().unwrap() as usize
    }

    /// The OTA state names per slot (ESP32, Pycom): `valid`, `new`, `testing`, ...
    pub fn states(&self) -> Vec<Option<String>> {
        self.json()["states"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect()
    }

    /// ESP32/Pycom slot `n` as written: its 4 KiB blocks, gaps read as erased flash.
    pub fn slot(&self, n: usize) -> Vec<u8> {
        let prefix = format!("/board/ota_{n}/");
        let mut out = Vec::new();
        for (path, data) in self.files.range(prefix.clone()..) {
            let Some(block) = path.strip_prefix(&prefix) else {
                break;
            };
            let at = block.parse::<usize>().unwrap() * 4096;
            if out.len() < at {
                out.resize(at, 0xFF);
            }
            out.truncate(at);
            out.extend_from_slice(data);
        }
        out
    }

    /// QuecPython slot `n`.
    pub fn quec_slot(&self, n: usize) -> Vec<u8> {
        self.files
            .get(&format!("/board/slot{n}.bin"))
            .cloned()
            .unwrap_or_default()
    }

    /// The board's own files (everything outside the recorded flash state in `/board`).
    pub fn user_files(&self) -> BTreeMap<String, Vec<u8>> {
        self.files
            .iter()
            .filter(|(p, _)| !p.starts_with("/board/"))
            .map(|(p, d)| (p.clone(), d.clone()))
            .collect()
    }

    /// The board's own directories below its mount points (`/flash/lib`, not `/flash`).
    pub fn user_dirs(&self) -> BTreeSet<String> {
        self.dirs
            .iter()
            .filter(|d| !d.starts_with("/board") && d.matches('/').count() > 1)
            .cloned()
            .collect()
    }

    /// The calls the stand-ins received, in order.
    pub fn calls(&self) -> Vec<String> {
        self.files
            .get("/board/calls.log")
            .map(|c| {
                String::from_utf8_lossy(c)
                    .lines()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}
