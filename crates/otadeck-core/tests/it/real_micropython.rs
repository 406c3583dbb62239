//! The MicroPython drivers against the real MicroPython interpreter (the webassembly port from
//! npm, under Node), with Python stand-ins for the board's own modules: every encoding each
//! driver can pick and every raw-paste flavour (raw-paste, refused with `R\x00`, firmware without
//! it). Each flash also runs on otadeck-sim's board, and both must end alike: the same outcome
//! and the same flash state afterwards. `cargo test -p otadeck-core --features peer-tests --test
//! real_micropython`; needs node and `cargo xtask setup --browser` (it installs the package).
#![cfg(feature = "peer-tests")]

use crate::real_mp;

use std::time::{Duration, Instant};

use otadeck_core::driver::esp32_micropython::{Esp32MicroPython, Job, BLOCK};
use otadeck_core::driver::pycom::PycomFirmware;
use otadeck_core::driver::quecpython::{FotaOptions, QuecPythonSession};
use otadeck_core::driver::repl::encoding::Encoding;
use otadeck_core::driver::repl::flow::FlowConfig;
use otadeck_core::partition_state::SlotState;
use otadeck_core::session::{FlashErrorKind, Machine, SessionEvent, Step};
use otadeck_sim::esp_ota::EspOtaFlash;
use otadeck_sim::firmware::{
    demo_image, demo_running_image, mixed_image, quecpython_mixed_package,
    quecpython_running_package, quecpython_sample_package, sample_image, SAMPLE_VERSION,
};
use otadeck_sim::harness::{run, Run};
use otadeck_sim::line::SimLink;
use otadeck_sim::mp_repl::RawPasteSupport;
use otadeck_sim::{esp32_mp, pycom, quecpython};
use real_mp::{Board, Opts, State};

const LIMIT: Duration = Duration::from_secs(300);
const PASTES: [&str; 3] = ["window", "refuse", "absent"];

fn support(paste: &str) -> RawPasteSupport {
    match paste {
        "window" => RawPasteSupport::Window(128),
        "refuse" => RawPasteSupport::Refuses,
        _ => RawPasteSupport::Absent,
    }
}

/// The encodings the chunks went in, from the counts the driver logs after the last write
/// (`(chunks sent: 12 deflate-compressed and base64-encoded, 3 as bytes literals)`).
fn chunk_encodings(r: &Run) -> Vec<Encoding> {
    let counts = r
        .events
        .iter()
        .find_map(|e| match e {
            SessionEvent::Log { message, .. } => message
                .split_once("(chunks sent: ")
                .and_then(|(_, c)| c.split_once(')'))
                .map(|(c, _)| c.to_string()),
            _ => None,
        })
        .expect("the chunk counts are logged");
    counts
        .split(", ")
        .map(|part| {
            let (n, what) = part.split_once(' ').unwrap();
            assert!(n.parse::<u64>().unwrap() > 0, "{counts}");
            Encoding::PROBE_ORDER
                .into_iter()
                .find(|e| e.describe() == what)
                .unwrap_or_else(|| panic!("{what}"))
        })
        .collect()
}

/// Run `machine` on a fresh real board; returns the run, the recorded state and the wall time.
fn on_real<M: Machine>(opts: &Opts, machine: impl FnOnce(Duration) -> M) -> (Run, State) {
    let t = Instant::now();
    let mut board = Board::start(opts);
    let mut m = machine(board.now());
    let r = board.run(&mut m, LIMIT);
    let state = board.finish();
    eprintln!(
        "real {} paste={} hide={:?}: {:?} in {:.2} s",
        opts.board,
        opts.paste,
        opts.hide,
        r.result
            .as_ref()
            .map(|o| o.as_ref().map(|o| o.bytes).map_err(|e| e.to_string())),
        t.elapsed().as_secs_f64()
    );
    (r, state)
}

/// Both runs end alike: success with the same bytes, restart and module, or the same failure.
fn same_outcome(real: &Run, sim: &Run) {
    match (&real.result, &sim.result) {
        (Some(Ok(a)), Some(Ok(b))) => {
            // The free space is the host's file system on the real interpreter: not compared.
            let (mut a, mut b) = (a.clone(), b.clone());
            for m in [&mut a.module, &mut b.module].into_iter().flatten() {
                m.details.free_bytes = None;
            }
            assert_eq!(a, b, "outcomes differ")
        }
        (Some(Err(a)), Some(Err(b))) => {
            assert_eq!(a.step, b.step, "real: {a}\nsim: {b}");
            assert_eq!(
                std::mem::discriminant(&a.kind),
                std::mem::discriminant(&b.kind),
                "real: {a}\nsim: {b}"
            );
            assert_eq!(a.module_state, b.module_state);
        }
        (a, b) => panic!("real {a:?}\nsim {b:?}"),
    }
}

fn state_name(s: Option<SlotState>) -> Option<String> {
    s.map(|s| {
        match s {
            SlotState::New => "new",
            SlotState::Testing => "testing",
            SlotState::Valid => "valid",
            SlotState::Invalid => "invalid",
            SlotState::Aborted => "aborted",
            SlotState::Undefined => "undefined",
        }
        .to_string()
    })
}

/// The two boards' OTA flash agree: running slot, boot selection, slot states and bytes.
fn same_esp_flash(real: &State, sim: &EspOtaFlash) {
    assert_eq!(real.running(), sim.running(), "running slot");
    assert_eq!(real.next_boot(), sim.next_boot(), "boot selection");
    let states: Vec<_> = sim.slots.iter().map(|s| state_name(s.state)).collect();
    assert_eq!(real.states(), states, "slot states");
    for n in 0..2 {
        assert!(real.slot(n) == sim.slots[n].data, "slot ota_{n} differs");
    }
}

fn esp32_opts(paste: &'static str, hide: Vec<&'static str>) -> Opts {
    Opts {
        paste,
        hide,
        ..Opts::new("esp32", demo_running_image())
    }
}

fn esp32_sim(opts: &Opts, job: Job) -> (Run, esp32_mp::Esp32MicroPython) {
    let config = esp32_mp::Esp32Config {
        has_deflate: !opts.hide.contains(&"deflate"),
        has_binascii: !opts.hide.contains(&"binascii"),
        ..esp32_mp::Esp32Config::default()
    };
    let device = esp32_mp::device(config, opts.firmware.clone(), support(opts.paste));
    let mut link = SimLink::new(device, 115_200);
    let start = Duration::from_secs(1);
    let mut s = Esp32MicroPython::start(start, job, FlowConfig::default());
    let r = run(&mut s, &mut link, start, LIMIT, None);
    (r, link.device.interpreter)
}

fn esp32_flash(paste: &'static str) {
    // Blocks that each encoding wins: every one the module decodes is used, and the slot must
    // still hold exactly the image.
    let image = mixed_image();
    let job = Job::Flash {
        image: image.clone(),
        accept: true,
    };
    for (hide, encodings) in [
        (vec![], [Encoding::DeflateBase64, Encoding::BytesLiteral]),
        (vec!["deflate"], [Encoding::Base64, Encoding::BytesLiteral]),
    ] {
        let opts = esp32_opts(paste, hide);
        let (real, state) = on_real(&opts, |now| {
            Esp32MicroPython::start(now, job.clone(), FlowConfig::default())
        });
        let o = real.outcome();
        assert!(o.restarted);
        assert_eq!(o.bytes, image.len() as u64);
        assert_eq!(o.module.as_ref().unwrap().firmware_version, SAMPLE_VERSION);
        assert_eq!(chunk_encodings(&real), encodings);
        assert!(real.logged("Read-back SHA-256 matches"));
        // The update slot holds the image in whole 4 KiB blocks, the padding erased flash.
        let mut padded = image.clone();
        padded.resize(image.len().div_ceil(BLOCK) * BLOCK, 0xFF);
        assert!(state.slot(1) == padded, "ota_1 is not the padded image");
        assert!(state.slot(0) == demo_running_image(), "ota_0 was touched");
        assert_eq!((state.running(), state.next_boot()), (1, 1));
        assert_eq!(state.states()[1].as_deref(), Some("valid"));
        let calls = state.calls();
        let writes = calls
            .iter()
            .filter(|c| c.starts_with("writeblocks("))
            .count();
        assert_eq!(writes, padded.len() / BLOCK);
        assert!(calls
            .iter()
            .all(|c| !c.starts_with("writeblocks(") || c.ends_with(",4096)")));
        assert!(calls.contains(&"machine.reset()".to_string()));
        assert!(calls.contains(&"mark_app_valid_cancel_rollback()".to_string()));
        let (sim, board) = esp32_sim(&opts, job.clone());
        same_outcome(&real, &sim);
        same_esp_flash(&state, &board.flash);
    }
}

#[test]
fn esp32_flashes_over_raw_paste_like_the_simulator() {
    esp32_flash("window");
}

#[test]
fn esp32_flashes_when_raw_paste_is_refused_like_the_simulator() {
    esp32_flash("refuse");
}

#[test]
fn esp32_flashes_without_raw_paste_like_the_simulator() {
    esp32_flash("absent");
}

#[test]
fn esp32_without_binascii_stops_at_identify_like_the_simulator() {
    let opts = esp32_opts("window", vec!["deflate", "binascii"]);
    let job = Job::Flash {
        image: demo_image("2.1.0", 12_000),
        accept: true,
    };
    let (real, state) = on_real(&opts, |now| {
        Esp32MicroPython::start(now, job.clone(), FlowConfig::default())
    });
    let e = real.error();
    assert_eq!(e.step, Step::Identify);
    assert!(e.to_string().contains("ImportError"), "{e}");
    assert!(state.calls().is_empty(), "{:?}", state.calls());
    let (sim, board) = esp32_sim(&opts, job);
    same_outcome(&real, &sim);
    same_esp_flash(&state, &board.flash);
}

#[test]
fn esp32_image_that_fails_validation_is_never_selected_like_the_simulator() {
    // A checksum byte off by one: the bytes arrive intact, set_boot refuses them.
    let mut image = sample_image();
    let parsed = otadeck_core::image::esp::parse(&image).unwrap();
    image[parsed.checksum.offset] ^= 1;
    // The appended SHA-256 covers the checksum byte: recompute it so only the checksum is wrong.
    if let Some(h) = parsed.sha256.as_ref() {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&image[..h.offset]);
        image[h.offset..h.offset + 32].copy_from_slice(&digest);
    }
    let job = Job::Flash {
        image,
        accept: true,
    };
    let opts = esp32_opts("window", vec![]);
    let (real, state) = on_real(&opts, |now| {
        Esp32MicroPython::start(now, job.clone(), FlowConfig::default())
    });
    let e = real.error();
    assert_eq!(e.step, Step::Verify);
    assert!(matches!(e.kind, FlashErrorKind::Traceback { .. }), "{e}");
    assert!(e.to_string().contains("VALIDATE_FAILED"), "{e}");
    assert_eq!((state.running(), state.next_boot()), (0, 0));
    let (sim, board) = esp32_sim(&opts, job);
    same_outcome(&real, &sim);
    same_esp_flash(&state, &board.flash);
}

#[test]
fn esp32_trial_firmware_rolls_back_like_the_simulator() {
    // Flash without accepting, then roll back: the board returns to ota_0, ota_1 is aborted.
    let image = sample_image();
    let opts = esp32_opts("window", vec![]);
    let t = Instant::now();
    let mut board = Board::start(&opts);
    let mut s = Esp32MicroPython::start(
        board.now(),
        Job::Flash {
            image: image.clone(),
            accept: false,
        },
        FlowConfig::default(),
    );
    let real_flash = board.run(&mut s, LIMIT);
    assert!(real_flash.logged("runs on trial"));
    let mut s = Esp32MicroPython::start(board.now(), Job::Rollback, FlowConfig::default());
    let real_back = board.run(&mut s, LIMIT);
    let state = board.finish();
    eprintln!(
        "real esp32 flash on trial + rollback: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    real_back.outcome();
    assert_eq!(state.running(), 0);

    let device = esp32_mp::device(
        esp32_mp::Esp32Config::default(),
        demo_running_image(),
        RawPasteSupport::Window(128),
    );
    let mut link = SimLink::new(device, 115_200);
    let start = Duration::from_secs(1);
    let mut s = Esp32MicroPython::start(
        start,
        Job::Flash {
            image,
            accept: false,
        },
        FlowConfig::default(),
    );
    let sim_flash = run(&mut s, &mut link, start, LIMIT, None);
    let start = link.now() + Duration::from_secs(1);
    let mut s = Esp32MicroPython::start(start, Job::Rollback, FlowConfig::default());
    let sim_back = run(&mut s, &mut link, start, LIMIT, None);
    same_outcome(&real_flash, &sim_flash);
    same_outcome(&real_back, &sim_back);
    same_esp_flash(&state, &link.device.interpreter.flash);
    assert_eq!(
        real_back.partitions().cloned(),
        sim_back.partitions().cloned()
    );
}

fn quec_sim(paste: &str, image: &[u8], options: FotaOptions) -> (Run, quecpython::QuecPython) {
    let device = quecpython::device(
        quecpython::QuecPythonConfig::default(),
        quecpython_running_package(),
        support(paste),
    );
    let mut link = SimLink::new(device, 115_200);
    let start = Duration::from_secs(1);
    let mut s = QuecPythonSession::flash(start, image.to_vec(), options);
    let r = run(&mut s, &mut link, start, LIMIT, None);
    (r, link.device.interpreter)
}

#[test]
fn quecpython_flashes_in_every_paste_mode_like_the_simulator() {
    let image = quecpython_mixed_package();
    for paste in PASTES {
        let opts = Opts {
            paste,
            ..Opts::new("quecpython", quecpython_running_package())
        };
        let (real, state) = on_real(&opts, |now| {
            QuecPythonSession::flash(now, image.clone(), FotaOptions::default())
        });
        let o = real.outcome();
        assert!(o.restarted);
        assert_eq!(o.bytes, image.len() as u64);
        assert_eq!(o.module.as_ref().unwrap().firmware_version, SAMPLE_VERSION);
        assert_eq!(state.running(), 1);
        assert!(state.quec_slot(1) == image, "slot 1 is not the image");
        assert_eq!(
            chunk_encodings(&real),
            [Encoding::Base64, Encoding::BytesLiteral]
        );
        let calls = state.calls();
        assert_eq!(
            calls.first().map(String::as_str),
            Some("fota(reset_disable=0)")
        );
        assert!(calls.ends_with(&["flush()".into(), "verify()".into(), "powerRestart()".into()]));
        let (sim, board) = quec_sim(paste, &image, FotaOptions::default());
        same_outcome(&real, &sim);
        assert_eq!(state.running(), board.flash.running_slot());
        assert!(state.quec_slot(state.running()) == board.flash.running_image());
    }
}

#[test]
fn quecpython_without_restart_boots_the_package_later_like_the_simulator() {
    let image = quecpython_sample_package();
    let options = FotaOptions {
        restart: false,
        ..FotaOptions::default()
    };
    let opts = Opts::new("quecpython", quecpython_running_package());
    let (real, state) = on_real(&opts, |now| {
        QuecPythonSession::flash(now, image.clone(), options.clone())
    });
    assert!(!real.outcome().restarted);
    assert_eq!(state.running(), 0);
    assert_eq!(state.calls()[0], "fota(reset_disable=1)");
    assert_eq!(
        state.json()["staging"]["verified"],
        serde_json::Value::Bool(true)
    );
    assert!(state.files["/board/fota.bin"] == image);
    let (sim, board) = quec_sim("window", &image, options);
    same_outcome(&real, &sim);
    assert_eq!(board.flash.running_slot(), 0);
    assert!(board
        .flash
        .staging
        .as_ref()
        .is_some_and(|s| s.verified && s.data == image));
}

fn pycom_opts(paste: &'static str, hide: Vec<&'static str>) -> Opts {
    Opts {
        paste,
        hide,
        ..Opts::new("pycom", demo_running_image())
    }
}

/// Pycom firmware flashed with each encoding in one raw-paste flavour.
fn pycom_flash(paste: &'static str) {
    let image = mixed_image();
    let cases = [
        (vec![], [Encoding::DeflateBase64, Encoding::BytesLiteral]),
        (vec!["deflate"], [Encoding::Base64, Encoding::BytesLiteral]),
        (
            vec!["deflate", "binascii"],
            [Encoding::Hex, Encoding::BytesLiteral],
        ),
    ];
    for (hide, encodings) in cases {
        let opts = pycom_opts(paste, hide);
        let (real, state) = on_real(&opts, |now| {
            PycomFirmware::start(now, Some(image.clone()), FlowConfig::default())
        });
        let o = real.outcome();
        assert!(o.restarted);
        assert_eq!(o.bytes, image.len() as u64);
        assert_eq!(chunk_encodings(&real), encodings);
        assert!(state.slot(1) == image, "slot 1 is not the image");
        assert_eq!((state.running(), state.next_boot()), (1, 1));
        assert_eq!(state.states()[1].as_deref(), Some("valid"));
        let calls = state.calls();
        assert_eq!(calls.first().map(String::as_str), Some("ota_start()"));
        assert!(calls.ends_with(&[
            "ota_verify()".into(),
            "ota_finish()".into(),
            "machine.reset()".into()
        ]));
        // otadeck-sim's Pycom has no deflate: compare where the firmware agrees.
        if opts.hide.contains(&"deflate") {
            let config = pycom::PycomConfig {
                has_binascii: !opts.hide.contains(&"binascii"),
                ..pycom::PycomConfig::default()
            };
            let device = pycom::device(config, demo_running_image(), support(paste));
            let mut link = SimLink::new(device, 115_200);
            let start = Duration::from_secs(1);
            let mut s = PycomFirmware::start(start, Some(image.clone()), FlowConfig::default());
            let sim = run(&mut s, &mut link, start, LIMIT, None);
            same_outcome(&real, &sim);
            same_esp_flash(&state, &link.device.interpreter.flash);
        }
    }
}

#[test]
fn pycom_flashes_with_every_encoding_over_raw_paste() {
    pycom_flash("window");
}

#[test]
fn pycom_flashes_with_every_encoding_when_raw_paste_is_refused() {
    pycom_flash("refuse");
}

#[test]
fn pycom_flashes_with_every_encoding_without_raw_paste() {
    pycom_flash("absent");
}

#[test]
fn the_detector_reads_the_real_interpreters_banner() {
    // The port's banner is `MicroPython v1.27.0 on 2025-12-10; JS with Emscripten`: a plain
    // MicroPython, told apart from the families by its banner alone, with no code run.
    let opts = Opts::new("esp32", demo_running_image());
    let (r, state) = on_real(&opts, otadeck_core::detect::Detector::start);
    let m = r.outcome().module.clone().unwrap();
    assert_eq!(m.family, otadeck_core::module::Family::MicroPython);
    assert_eq!(
        (m.firmware_version.as_str(), m.model.as_str()),
        ("v1.27.0", "JS")
    );
    assert!(state.calls().is_empty());
}

#[test]
fn esp32_trial_firmware_is_accepted_later_like_the_simulator() {
    // Flash without accepting, then accept in a second session: ota_1 stays, valid.
    let image = sample_image();
    let flash = Job::Flash {
        image: image.clone(),
        accept: false,
    };
    let t = Instant::now();
    let mut board = Board::start(&esp32_opts("window", vec![]));
    let mut s = Esp32MicroPython::start(board.now(), flash.clone(), FlowConfig::default());
    let real_flash = board.run(&mut s, LIMIT);
    let mut s = Esp32MicroPython::start(board.now(), Job::Accept, FlowConfig::default());
    let real_accept = board.run(&mut s, LIMIT);
    let state = board.finish();
    eprintln!(
        "real esp32 flash on trial + accept: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    real_accept.outcome();
    assert_eq!(state.running(), 1);
    assert_eq!(state.states()[1].as_deref(), Some("valid"));

    let device = esp32_mp::device(
        esp32_mp::Esp32Config::default(),
        demo_running_image(),
        RawPasteSupport::Window(128),
    );
    let mut link = SimLink::new(device, 115_200);
    let start = Duration::from_secs(1);
    let mut s = Esp32MicroPython::start(start, flash, FlowConfig::default());
    let sim_flash = run(&mut s, &mut link, start, LIMIT, None);
    let start = link.now() + Duration::from_secs(1);
    let mut s = Esp32MicroPython::start(start, Job::Accept, FlowConfig::default());
    let sim_accept = run(&mut s, &mut link, start, LIMIT, None);
    same_outcome(&real_flash, &sim_flash);
    same_outcome(&real_accept, &sim_accept);
    same_esp_flash(&state, &link.device.interpreter.flash);
    assert_eq!(
        real_accept.partitions().cloned(),
        sim_accept.partitions().cloned()
    );
}

#[test]
fn esp32_on_native_usb_is_found_again_after_its_reset() {
    // The real interpreter resets on `machine.reset()`; its port goes away for 1.5 s and the
    // session, opened through the registry, waits for it, carries on and confirms the version.
    let opts = esp32_opts("window", vec![]);
    let job = otadeck_core::family::Job::Flash {
        image: demo_image("4.3.0", 12_000),
        options: otadeck_core::family::FlashOptions::default(),
    };
    let mut board = Board::start(&opts);
    board.reenumerate = Some(Duration::from_millis(1500));
    let mut m = otadeck_core::family::open(
        otadeck_core::family::Family::Esp32MicroPython,
        job,
        otadeck_core::family::OpenOptions::default(),
        board.now(),
    )
    .expect("opens");
    let r = board.run(&mut m, LIMIT);
    let state = board.finish();
    let o = r.outcome();
    assert!(o.restarted);
    assert_eq!(o.module.as_ref().unwrap().firmware_version, "4.3.0");
    assert!(r.logged("The module's port went away as it restarted"));
    assert!(r.logged("The module is back: carrying on."));
    assert_eq!(state.json()["boots"], 1);
}
