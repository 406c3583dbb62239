//! Pycom file updates against the simulated board: staged as `.new`, checked by SHA-1 on the
//! board, committed through `.bak` / `.bak_del`, and undone completely on any failure.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use otadeck_core::driver::pycom::files::{FileUpdate, PycomFiles, PycomFilesSession};
use otadeck_core::driver::repl::flow::FlowConfig;
use otadeck_core::session::{FlashErrorKind, Machine};
use otadeck_sim::firmware::demo_running_image;
use otadeck_sim::harness::{run, Hook, Run};
use otadeck_sim::line::{LineFault, SimLink};
use otadeck_sim::mp_repl::{RawPasteSupport, ReplDevice};
use otadeck_sim::pycom::{device, Pycom, PycomConfig};
use sha1::{Digest, Sha1};
use support::{check_report, Recorder};

type Link = SimLink<ReplDevice<Pycom>>;
type Session = Recorder<PycomFilesSession>;

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

fn board(config: PycomConfig) -> Link {
    let mut link = SimLink::new(
        device(config, demo_running_image(), RawPasteSupport::Window(128)),
        115_200,
    );
    link.device.interpreter.files = before();
    link
}

fn update() -> (Vec<FileUpdate>, Vec<String>) {
    let main = b"print('v2')\nimport new_lib\n".to_vec();
    let lib: Vec<u8> = (0..9000u32).map(|i| (i * 7 % 251) as u8).collect();
    (
        vec![
            FileUpdate {
                path: "/flash/main.py".into(),
                sha1: sha1_hex(&main),
                data: main,
                replaces: true,
            },
            FileUpdate {
                path: "/flash/lib/new_lib.py".into(),
                sha1: sha1_hex(&lib),
                data: lib,
                replaces: false,
            },
        ],
        vec!["/sd/asset.wav".into()],
    )
}

fn go(
    link: &mut Link,
    files: Vec<FileUpdate>,
    delete: Vec<String>,
    hook: Option<Hook<'_, Session, ReplDevice<Pycom>>>,
) -> Run {
    let mut s = Recorder::new(PycomFiles::start(
        Duration::ZERO,
        files,
        delete,
        FlowConfig::default(),
    ));
    run(&mut s, link, Duration::ZERO, Duration::from_secs(300), hook)
}

#[test]
fn files_are_staged_checked_and_committed_without_leftovers() {
    let (files, delete) = update();
    let mut link = board(PycomConfig::default());
    let r = go(&mut link, files.clone(), delete, None);
    let outcome = r.outcome();
    assert_eq!(
        outcome.bytes,
        files.iter().map(|f| f.data.len() as u64).sum::<u64>()
    );
    let fs = &link.device.interpreter.files;
    let paths: Vec<&str> = fs.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "/flash/lib/new_lib.py",
            "/flash/lib/old.py",
            "/flash/main.py"
        ]
    );
    assert_eq!(fs["/flash/main.py"], files[0].data);
    assert_eq!(fs["/flash/lib/new_lib.py"], files[1].data);
}

#[test]
fn a_hash_mismatch_on_the_board_leaves_the_old_files_exactly() {
    let (mut files, delete) = update();
    files[1].sha1 = sha1_hex(b"something else");
    let mut link = board(PycomConfig::default());
    let r = go(&mut link, files, delete, None);
    let e = r.error();
    assert!(matches!(e.kind, FlashErrorKind::Mismatch(_)), "{e}");
    assert!(e.to_string().contains("/flash/lib/new_lib.py"), "{e}");
    check_report(&r, e, "keeps its previous files");
    assert!(
        link.device.interpreter.files == before(),
        "files left: {:?}",
        link.device.interpreter.files.keys()
    );
}

#[test]
fn a_failed_rename_mid_commit_is_undone() {
    for at in 0..4 {
        let (files, delete) = update();
        let config = PycomConfig {
            fail_rename_at: Some(at),
            ..PycomConfig::default()
        };
        let mut link = board(config);
        let r = go(&mut link, files, delete, None);
        let e = r.error();
        assert!(e.to_string().contains("ENOSPC"), "{e}");
        assert!(
            link.device.interpreter.files == before(),
            "rename {at}: files left: {:?}",
            link.device.interpreter.files.keys()
        );
    }
}

#[test]
fn a_lost_link_while_staging_leaves_the_live_files_untouched() {
    let (files, delete) = update();
    let mut link = board(PycomConfig::default());
    link.inject(LineFault::DropAfter(6000));
    let mut hook = |now: Duration, s: &mut Session, l: &mut Link| {
        if l.is_dead() && !s.is_finished() {
            s.link_lost(now);
        }
    };
    let r = go(&mut link, files, delete, Some(&mut hook));
    let e = r.error();
    assert_eq!(e.kind, FlashErrorKind::LinkLost);
    check_report(&r, e, "keeps its previous files");
    for (path, data) in before() {
        assert_eq!(
            link.device.interpreter.files.get(&path),
            Some(&data),
            "{path}"
        );
    }
}

#[test]
fn directories_a_new_file_needs_are_made_and_removed_again_on_failure() {
    let css = b"h1 { color: red }\n".to_vec();
    let new_file = |sha1: String| FileUpdate {
        path: "/flash/www/css/site.css".into(),
        sha1,
        data: css.clone(),
        replaces: false,
    };
    // `open` makes no directories: without them the file could not be staged.
    let mut link = board(PycomConfig::default());
    let r = go(&mut link, vec![new_file(sha1_hex(&css))], vec![], None);
    r.outcome();
    let board_state = &link.device.interpreter;
    assert_eq!(board_state.files["/flash/www/css/site.css"], css);
    assert!(board_state.is_dir("/flash/www/css"));

    // A failure undoes the directories with the files.
    let mut link = board(PycomConfig::default());
    let r = go(&mut link, vec![new_file(sha1_hex(b"other"))], vec![], None);
    let e = r.error();
    assert!(matches!(e.kind, FlashErrorKind::Mismatch(_)), "{e}");
    check_report(&r, e, "keeps its previous files");
    assert!(link.device.interpreter.files == before());
    assert!(
        link.device.interpreter.dirs.is_empty(),
        "{:?}",
        link.device.interpreter.dirs
    );
    assert!(!link.device.interpreter.is_dir("/flash/www"));
}

#[test]
fn without_binascii_files_go_as_bytes_literals_and_are_still_checked() {
    let (files, delete) = update();
    let mut link = board(PycomConfig {
        has_binascii: false,
        ..PycomConfig::default()
    });
    let mut s = Recorder::new(PycomFiles::start(
        Duration::ZERO,
        files.clone(),
        delete,
        FlowConfig::default(),
    ));
    let r = run(
        &mut s,
        &mut link,
        Duration::ZERO,
        Duration::from_secs(300),
        None,
    );
    r.outcome();
    let sent = String::from_utf8_lossy(&s.sent);
    // The module has `bytes.fromhex`, but a literal is always the shorter for these files.
    assert!(sent.contains("H=bytes.fromhex"));
    assert!(!sent.contains("f.write(H('"), "hex-encoded");
    assert!(sent.contains("f.write(b'") || sent.contains("f.write(b\""));
    assert!(sent.contains("print(h.digest().hex())"));
    assert!(r.events.iter().any(|e| matches!(e,
        otadeck_core::session::SessionEvent::Log { message, .. }
            if message.contains("All files staged (chunks sent: 6 as bytes literals)"))));
    assert_eq!(
        link.device.interpreter.files["/flash/lib/new_lib.py"],
        files[1].data
    );
}
