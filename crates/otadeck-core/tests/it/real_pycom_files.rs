//! Pycom file updates against the real MicroPython interpreter (its file system, `open`,
//! `os.rename`, `os.remove`), compared with the same update on otadeck-sim's Pycom board: the
//! same outcome and the same files afterwards. Needs node and `cargo xtask setup --browser`.
#![cfg(feature = "peer-tests")]

use crate::real_mp;
use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use otadeck_core::driver::pycom::files::{FileUpdate, PycomFiles};
use otadeck_core::driver::repl::flow::FlowConfig;
use otadeck_core::session::{FlashErrorKind, SessionEvent};
use otadeck_sim::firmware::demo_running_image;
use otadeck_sim::harness::{run, Run};
use otadeck_sim::line::SimLink;
use otadeck_sim::mp_repl::RawPasteSupport;
use otadeck_sim::pycom::{device, PycomConfig};
use real_mp::{Board, Opts};
use sha1::{Digest, Sha1};
use support::Recorder;

fn sha1_hex(data: &[u8]) -> String {
    Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn before() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([
        ("/flash/main.py".to_string(), b"print('v1')\n".to_vec()),
        ("/flash/lib/old.py".to_string(), b"OLD = 1\n".to_vec()),
        ("/sd/asset.wav".to_string(), vec![7u8; 3000]),
    ])
}

fn file(path: &str, data: Vec<u8>, replaces: bool) -> FileUpdate {
    FileUpdate {
        path: path.into(),
        sha1: sha1_hex(&data),
        data,
        replaces,
    }
}

fn update() -> (Vec<FileUpdate>, Vec<String>) {
    let lib: Vec<u8> = (0..9000u32).map(|i| (i * 7 % 251) as u8).collect();
    (
        vec![
            file(
                "/flash/main.py",
                b"print('v2')\nimport new_lib\n".to_vec(),
                true,
            ),
            file("/flash/lib/new_lib.py", lib, false),
        ],
        vec!["/sd/asset.wav".into()],
    )
}

/// A board's files and directories after an update.
#[derive(Debug, PartialEq)]
struct Tree {
    files: BTreeMap<String, Vec<u8>>,
    dirs: BTreeSet<String>,
}

/// The update on the real interpreter and on the simulator: both runs and both trees after.
fn both(
    paste: &'static str,
    hide: Vec<&'static str>,
    files: Vec<FileUpdate>,
    delete: Vec<String>,
) -> (Run, Tree, Run, Tree) {
    let t = Instant::now();
    let opts = Opts {
        paste,
        hide,
        files: before(),
        ..Opts::new("pycom", demo_running_image())
    };
    let mut board = Board::start(&opts);
    let mut s = Recorder::new(PycomFiles::start(
        board.now(),
        files.clone(),
        delete.clone(),
        FlowConfig::default(),
    ));
    let mut real = board.run(&mut s, Duration::from_secs(120));
    // What the host sent, as a log line, so that callers can see the encoding it used.
    real.events.push(SessionEvent::Log {
        level: otadeck_core::session::LogLevel::Debug,
        message: format!("sent: {}", String::from_utf8_lossy(&s.sent)),
    });
    let state = board.finish();
    let real_tree = Tree {
        files: state.user_files(),
        dirs: state.user_dirs(),
    };
    eprintln!(
        "real pycom files paste={paste} hide={:?}: {} in {:.2} s",
        opts.hide,
        match &real.result {
            Some(Ok(o)) => format!("{} bytes", o.bytes),
            other => format!("{other:?}"),
        },
        t.elapsed().as_secs_f64()
    );

    let support = match paste {
        "window" => RawPasteSupport::Window(128),
        "refuse" => RawPasteSupport::Refuses,
        _ => RawPasteSupport::Absent,
    };
    // otadeck-sim's Pycom never has deflate; it has binascii unless told otherwise.
    let config = PycomConfig {
        has_binascii: !opts.hide.contains(&"binascii"),
        ..PycomConfig::default()
    };
    let mut link = SimLink::new(device(config, demo_running_image(), support), 115_200);
    link.device.interpreter.files = before();
    let mut s = PycomFiles::start(Duration::ZERO, files, delete, FlowConfig::default());
    let sim = run(
        &mut s,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(300),
        None,
    );
    let b = &link.device.interpreter;
    // Every directory the simulated board has: made ones and those holding files.
    let mut dirs = b.dirs.clone();
    for f in b.files.keys() {
        let mut d = f.as_str();
        while let Some((parent, _)) = d.rsplit_once('/') {
            if parent.matches('/').count() > 1 {
                dirs.insert(parent.to_string());
            }
            d = parent;
        }
    }
    let sim_tree = Tree {
        files: b.files.clone(),
        dirs,
    };
    (real, real_tree, sim, sim_tree)
}

fn same_outcome(real: &Run, sim: &Run) {
    match (&real.result, &sim.result) {
        (Some(Ok(a)), Some(Ok(b))) => assert_eq!(a, b),
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

/// A file whose 2 KiB chunks each favour another encoding: Ctrl-A bytes (deflate, else base64),
/// `\x01` `0` pairs (hex among hex and literals), and noise (a bytes literal).
fn mixed_file() -> FileUpdate {
    let mut data = vec![0x01u8; 2048];
    data.extend([0x01, b'0'].iter().cycle().take(2048));
    let mut x = 0x2545_f491_u32;
    data.extend((0..2048).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    file("/flash/lib/blob.bin", data, false)
}

#[test]
fn files_are_committed_with_every_encoding_like_the_simulator() {
    let cases = [
        ("window", vec![], "f.write(D(B(A(b'"),
        ("window", vec!["deflate"], "f.write(A(b'"),
        ("absent", vec!["deflate", "binascii"], "f.write(H('"),
        ("refuse", vec!["deflate"], "f.write(A(b'"),
    ];
    for (paste, hide, encoding) in cases {
        let (mut files, delete) = update();
        files.push(mixed_file());
        let (real, real_tree, sim, sim_tree) = both(paste, hide, files.clone(), delete);
        let o = real.outcome();
        assert_eq!(
            o.bytes,
            files.iter().map(|f| f.data.len() as u64).sum::<u64>()
        );
        // Chunk by chunk: the module's best decoder where it wins, bytes literals elsewhere.
        assert!(real.logged(encoding), "{encoding}");
        assert!(
            real.logged("f.write(b'") || real.logged("f.write(b\""),
            "no bytes literal"
        );
        assert!(real.logged("as bytes literals)"), "the counts are logged");
        let mut expected = before();
        expected.remove("/sd/asset.wav");
        for f in &files {
            expected.insert(f.path.clone(), f.data.clone());
        }
        assert!(
            real_tree.files == expected,
            "files after: {:?}",
            real_tree.files.keys().collect::<Vec<_>>()
        );
        same_outcome(&real, &sim);
        assert!(real_tree == sim_tree, "the simulator's files differ");
    }
}

#[test]
fn a_hash_mismatch_leaves_the_old_files_like_the_simulator() {
    let (mut files, delete) = update();
    files[1].sha1 = sha1_hex(b"something else");
    let (real, real_tree, sim, sim_tree) = both("window", vec![], files, delete);
    assert!(matches!(real.error().kind, FlashErrorKind::Mismatch(_)));
    assert!(
        real_tree.files == before(),
        "{:?}",
        real_tree.files.keys().collect::<Vec<_>>()
    );
    same_outcome(&real, &sim);
    assert!(real_tree == sim_tree);
}

#[test]
fn directories_for_new_files_are_made_and_undone_like_the_simulator() {
    let page = b"<h1>v2</h1>\n".to_vec();
    let files = vec![file("/flash/www/css/site.css", page.clone(), false)];
    let (real, real_tree, sim, sim_tree) = both("window", vec![], files.clone(), vec![]);
    real.outcome();
    same_outcome(&real, &sim);
    assert_eq!(real_tree.files.get("/flash/www/css/site.css"), Some(&page));
    assert!(
        real_tree.dirs.contains("/flash/www/css"),
        "{:?}",
        real_tree.dirs
    );
    assert!(real_tree == sim_tree, "{real_tree:?}\n{sim_tree:?}");

    // A failure takes the directories away again.
    let mut bad = files;
    bad[0].sha1 = sha1_hex(b"other");
    let (real, real_tree, sim, sim_tree) = both("window", vec![], bad, vec![]);
    assert!(matches!(real.error().kind, FlashErrorKind::Mismatch(_)));
    same_outcome(&real, &sim);
    assert!(
        !real_tree.dirs.contains("/flash/www"),
        "{:?}",
        real_tree.dirs
    );
    assert!(real_tree == sim_tree, "{real_tree:?}\n{sim_tree:?}");
}
