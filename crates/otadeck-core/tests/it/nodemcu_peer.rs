//! The NodeMCU driver against a real Lua interpreter (`cargo test -p otadeck-core --features
//! peer-tests --test it nodemcu_peer`): `lua5.4` runs `tests/peers/nodemcu_repl.lua`, a stand-in for
//! NodeMCU's console with `otaupgrade`, `encoder.fromBase64` and `node.restart`, over pipes on
//! real time. The interpreter is `$LUA`, else `lua5.4` on PATH (`cargo xtask setup` installs it).
//! Also a differential check: the same jobs against the simulator and against real Lua end the
//! same way and leave the same partition state.
#![cfg(feature = "peer-tests")]

use crate::support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use otadeck_core::driver::nodemcu::lines::{chunk_line, PREPARE_LINE};
use otadeck_core::driver::nodemcu::{Job, NodeMcuConfig, NodeMcuSession};
use otadeck_core::partition_state::{PartitionState, SlotState};
use otadeck_core::session::FlashOutcome;
use otadeck_sim::firmware::{
    demo_image, demo_running_image, sample_image, DEMO_RUNNING_VERSION, SAMPLE_VERSION,
};
use otadeck_sim::harness::{run, Run};
use otadeck_sim::line::SimLink;
use otadeck_sim::nodemcu::{NodeMcu, NodeMcuConfig as BoardConfig};
use support::pipe::{pump, pump_reenumerating};

struct LuaPeer {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Vec<u8>>,
    record: PathBuf,
    start: Instant,
}

impl LuaPeer {
    fn spawn(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("otadeck-nodemcu-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let firmware = dir.join("running.bin");
        std::fs::write(&firmware, demo_running_image()).unwrap();
        let record = dir.join("written.bin");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/nodemcu_repl.lua");
        let lua = std::env::var("LUA").unwrap_or_else(|_| "lua5.4".into());
        let mut child = Command::new(&lua)
            .arg(script)
            .arg(&firmware)
            .arg(&record)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {lua} (install lua5.4 or set $LUA): {e}"));
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        LuaPeer {
            child,
            stdin,
            rx,
            record,
            start: Instant::now(),
        }
    }

    fn go(&mut self, job: Job) -> Run {
        let mut s = NodeMcuSession::start(self.start.elapsed(), job, NodeMcuConfig::default());
        pump(
            &mut s,
            self.start,
            &mut self.stdin,
            &self.rx,
            Duration::from_secs(120),
        )
    }
}

impl LuaPeer {
    /// Send one line by hand; what came back up to the next prompt, echo included.
    fn say(&mut self, line: &str) -> String {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
        self.stdin.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut got = Vec::new();
        while got.len() <= line.len() || !got.ends_with(b"> ") {
            let left = deadline.saturating_duration_since(Instant::now());
            got.extend(
                self.rx
                    .recv_timeout(left)
                    .expect("no prompt from the stand-in"),
            );
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    /// Commence, write `image` in the driver's lines, complete: what `complete` answered.
    fn update_by_hand(&mut self, image: &[u8]) -> String {
        assert_eq!(self.say(PREPARE_LINE), format!("{PREPARE_LINE}\n> "));
        let mut at = 0;
        while at < image.len() {
            let (line, next) = chunk_line(image, at);
            assert_eq!(self.say(&line), format!("{line}\n> "));
            at = next;
        }
        self.say("otaupgrade.complete(0)")
    }
}

impl Drop for LuaPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn flash(image: &[u8], accept: bool) -> Job {
    Job::Flash {
        image: image.to_vec(),
        accept,
    }
}

/// What a run ended with, for comparing two peers.
fn summary(r: &Run) -> (Option<FlashOutcome>, Option<String>, Option<PartitionState>) {
    let (ok, err) = match &r.result {
        Some(Ok(o)) => (Some(o.clone()), None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, Some("did not finish".into())),
    };
    let mut ok = ok;
    if let Some(o) = ok.as_mut() {
        // The interpreters name their Lua release differently (5.3 on the board, 5.4 here).
        if let Some(m) = o.module.as_mut() {
            m.runtime.clear();
        }
    }
    (ok, err, r.partitions().cloned())
}

#[test]
fn flashes_a_real_lua_console_and_it_stores_every_byte() {
    let image = sample_image();
    let mut peer = LuaPeer::spawn("flash");
    let r = peer.go(flash(&image, true));
    assert!(r.outcome().restarted);
    assert_eq!(r.module_version(), SAMPLE_VERSION);
    let written = std::fs::read(&peer.record).unwrap();
    assert_eq!(written.len(), image.len());
    assert!(
        written == image,
        "the bytes otaupgrade.write took differ from the image"
    );
    let state = r.partitions().cloned().unwrap();
    assert_eq!(state.running, "ota_1");
    assert_eq!(state.next_boot, "ota_1");
    assert_eq!(state.slot("ota_1").unwrap().state, Some(SlotState::Valid));
    let old = state.slot("ota_0").unwrap();
    assert_eq!(old.build.as_ref().unwrap().version, DEMO_RUNNING_VERSION);
    assert!(r
        .outcome()
        .module
        .as_ref()
        .unwrap()
        .runtime
        .contains("Lua 5.4"));
}

#[test]
fn the_simulator_and_real_lua_agree_job_for_job() {
    let image = sample_image();
    let jobs = [
        ("info", Job::Inspect),
        ("flash, no accept", flash(&image, false)),
        ("flash while on trial", flash(&image, true)),
        ("accept", Job::Accept),
        ("rollback", Job::Rollback),
        ("rollback with nothing to return to", Job::Rollback),
        ("not an image", flash(b"not firmware", true)),
    ];
    let mut peer = LuaPeer::spawn("diff");
    let mut link = SimLink::new(
        NodeMcu::new(BoardConfig::default(), demo_running_image()),
        115_200,
    );
    for (name, job) in jobs {
        let lua = peer.go(job.clone());
        let start = link.now() + Duration::from_secs(1);
        let mut s = NodeMcuSession::start(start, job.clone(), NodeMcuConfig::default());
        let sim = run(&mut s, &mut link, start, Duration::from_secs(600), None);
        let (a, b) = (summary(&sim), summary(&lua));
        assert_eq!(a, b, "{name}");
        eprintln!("{name}: {:?} {:?}", a.0.map(|o| o.bytes), a.1);
    }
}

#[test]
fn the_stand_in_checks_the_appended_sha256_as_esp_ota_end_does() {
    let good = demo_image("3.0.0", 4000);
    assert_eq!(good[23], 1, "the sample images carry a hash");
    let mut peer = LuaPeer::spawn("sha");
    // The last byte is in the hash: the checksum still matches, only the hash tells.
    let mut bad_hash = good.clone();
    *bad_hash.last_mut().unwrap() ^= 0x01;
    let out = peer.update_by_hand(&bad_hash);
    assert!(out.contains("Lua error: validation failed"), "{out}");
    // Without the flag there is no hash to check: the image without its last 32 bytes is fine.
    let mut no_hash = good[..good.len() - 32].to_vec();
    no_hash[23] = 0;
    let out = peer.update_by_hand(&no_hash);
    assert_eq!(out, "otaupgrade.complete(0)\n> ");
    // The flag with the hash cut off: refused.
    let out = peer.update_by_hand(&good[..good.len() - 32]);
    assert!(out.contains("Lua error: validation failed"), "{out}");
    assert_eq!(peer.update_by_hand(&good), "otaupgrade.complete(0)\n> ");
}

#[test]
fn a_real_lua_console_on_native_usb_is_found_again_after_node_restart() {
    // `node.restart()` prints the ESP32 boot ROM's reset line: there the port goes away for
    // 1.5 s and what the board prints meanwhile (its boot log and prompt) is lost. The session,
    // opened through the registry, finds the port again, asks for a prompt and confirms.
    let image = sample_image();
    let mut peer = LuaPeer::spawn("reenumerate");
    let job = otadeck_core::family::Job::Flash {
        image: image.clone(),
        options: otadeck_core::family::FlashOptions::default(),
    };
    let mut s = otadeck_core::family::open(
        otadeck_core::family::Family::NodeMcu,
        job,
        otadeck_core::family::OpenOptions::default(),
        peer.start.elapsed(),
    )
    .expect("opens");
    let r = pump_reenumerating(
        &mut s,
        peer.start,
        &mut peer.stdin,
        &peer.rx,
        Duration::from_secs(120),
        Duration::from_millis(1500),
    );
    assert!(r.outcome().restarted);
    assert_eq!(r.module_version(), SAMPLE_VERSION);
    assert!(r.logged("The module's port went away as it restarted"));
    assert!(r.logged("The module is back: carrying on."));
    assert!(r.elapsed > Duration::from_millis(1500));
}
