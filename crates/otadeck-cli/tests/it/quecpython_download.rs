//! `otadeck flash --protocol quecpython --url` against `otadeck sim quecpython` on a pty, in real
//! time: the module downloads the demo packages itself.

use crate::common;

use common::{otadeck, PtySim};
use otadeck_sim::demo::{
    DEMO_MINI_STAGE1_URL, DEMO_MINI_STAGE2_URL, DEMO_MINI_VERSION, DEMO_MISSING_URL,
    DEMO_PACKAGE_URL, DEMO_PACKAGE_VERSION,
};

fn run(args: &[&str]) -> (bool, String, String) {
    let out = otadeck().args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_module_downloads_a_demo_package_and_restarts_into_it() {
    let sim = PtySim::start(&["quecpython", "--baud", "921600"]);
    let port = sim.path.as_str();
    let (ok, out, err) = run(&[
        "flash",
        "--port",
        port,
        "--protocol",
        "quecpython",
        "--url",
        DEMO_PACKAGE_URL,
    ]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "Downloaded and verified by the module, restarted: the module now runs {DEMO_PACKAGE_VERSION}"
        )),
        "{out}"
    );
    assert!(err.contains("== Downloading on the module"), "{err}");
    assert!(err.contains("download 100 %"), "{err}");
    let (ok, out, _) = run(&["info", "--port", port, "--protocol", "quecpython"]);
    assert!(
        ok && out.contains(&format!("firmware: {DEMO_PACKAGE_VERSION}")),
        "{out}"
    );
}

#[test]
fn a_missing_package_and_a_bad_url_fail_with_what_went_wrong() {
    let sim = PtySim::start(&["quecpython", "--baud", "921600"]);
    let port = sim.path.as_str();
    let (ok, out, _) = run(&[
        "flash",
        "--port",
        port,
        "--protocol",
        "quecpython",
        "--url",
        DEMO_MISSING_URL,
    ]);
    assert!(!ok);
    assert!(
        out.contains(
            "the module could not download the package: the server answered HTTP 404 \
             (download status 3, code 404)"
        ),
        "{out}"
    );
    assert!(out.contains("still runs its previous firmware"), "{out}");

    let (ok, out, _) = run(&[
        "flash",
        "--port",
        port,
        "--protocol",
        "quecpython",
        "--url",
        "https://fw.example.com/a'.bin",
    ]);
    assert!(!ok);
    assert!(out.contains("the package URL is refused"), "{out}");

    let (ok, _, err) = run(&[
        "flash",
        "--port",
        port,
        "--protocol",
        "micropython-esp32",
        "--url",
        DEMO_PACKAGE_URL,
    ]);
    assert!(!ok);
    assert!(err.contains("--url is for QuecPython modules"), "{err}");
}

#[test]
fn an_ec600n_takes_the_mini_fota_pair() {
    let sim = PtySim::start(&["quecpython", "--model", "EC600N", "--baud", "921600"]);
    let (ok, out, err) = run(&[
        "flash",
        "--port",
        &sim.path,
        "--protocol",
        "quecpython",
        "--url",
        DEMO_MINI_STAGE1_URL,
        "--url2",
        DEMO_MINI_STAGE2_URL,
    ]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains(&format!("the module now runs {DEMO_MINI_VERSION}")),
        "{out}"
    );
    assert!(err.contains("restarts by itself"), "{err}");
}
