//! The simulated QuecPython module's own download, driven byte by byte through its raw REPL:
//! which models accept which calls, output that appears while an exec waits on the clock, and
//! Ctrl-C inside and after a blocking call.

use std::time::Duration;

use otadeck_sim::firmware::{
    quecpython_running_package, quecpython_sample_package, DEMO_RUNNING_VERSION, SAMPLE_VERSION,
};
use otadeck_sim::line::Device;
use otadeck_sim::mp_repl::{RawPasteSupport, ReplDevice};
use otadeck_sim::quecpython::{device, QuecPython, QuecPythonConfig};
use otadeck_sim::quecpython_download::SimPackage;

const PKG: &str = "https://fw.example.com/app.bin";

fn module(model: &str, mini_only: bool) -> ReplDevice<QuecPython> {
    let config = QuecPythonConfig {
        model: model.into(),
        mini_fota_only: mini_only,
        packages: vec![SimPackage::serving(PKG, quecpython_sample_package())],
        ..QuecPythonConfig::default()
    };
    let mut d = device(
        config,
        quecpython_running_package(),
        RawPasteSupport::Absent,
    );
    d.transmit(Duration::ZERO);
    d.receive(Duration::ZERO, b"\x01");
    assert!(d
        .transmit(Duration::ZERO)
        .ends_with(b"raw REPL; CTRL-B to exit\r\n>"));
    d
}

/// Run `code` in plain raw mode at `t`; what the module printed at once.
fn exec(d: &mut ReplDevice<QuecPython>, t: Duration, code: &str) -> String {
    d.receive(t, code.as_bytes());
    d.receive(t, b"\x04");
    String::from_utf8_lossy(&d.transmit(t)).into_owned()
}

fn at(d: &mut ReplDevice<QuecPython>, t: Duration) -> String {
    d.tick(t);
    String::from_utf8_lossy(&d.transmit(t)).into_owned()
}

const WAIT_LOOP: &str = "import fota,utime\ns=[0,-1]\ndef c(a):\n s[0]=a[0]\n s[1]=a[1]\n print('@P',a[0],a[1])\nf=fota(reset_disable=1)\ntry:\n r=f.httpDownload(url1='https://fw.example.com/app.bin',callback=c)\n print('@R',r)\n while r==0 and s[1]<100:\n  utime.sleep_ms(1000)\n print('@E',r,s[0],s[1])\nexcept KeyboardInterrupt:\n print('@C',f.download_cancel())";

#[test]
fn url2_needs_a_mini_fota_model_and_a_mini_fota_only_model_needs_url2() {
    let call2 = "import fota\nf=fota()\nprint(f.httpDownload(url1='https://fw.example.com/app.bin',url2='https://fw.example.com/app.bin'))";
    let call1 =
        "import fota\nf=fota()\nprint(f.httpDownload(url1='https://fw.example.com/app.bin'))";
    let mut d = module("EC600U", false);
    assert_eq!(exec(&mut d, Duration::ZERO, call2), "OK-1\r\n\x04\x04>");
    let mut d = module("EC600N", true);
    assert_eq!(exec(&mut d, Duration::ZERO, call1), "OK-1\r\n\x04\x04>");
    assert!(!d.interpreter.downloading());
    let mut d = module("EC600N", false);
    assert_eq!(exec(&mut d, Duration::ZERO, call1), "OK0\r\n\x04\x04>");
    assert!(d.interpreter.downloading());
}

#[test]
fn an_async_download_prints_while_the_exec_waits_and_restarts_the_module() {
    let mut d = module("EC600N", false);
    let first = exec(&mut d, Duration::ZERO, WAIT_LOOP);
    assert_eq!(first, "OK@R 0\r\n", "the exec is still running");
    let early = at(&mut d, Duration::from_millis(1500));
    assert!(
        early.contains("@P 0 0") && !early.contains("@P 2 100"),
        "{early:?}"
    );
    // The EC600N restarts by itself once the package is verified, cutting the exec short.
    let late = at(&mut d, Duration::from_secs(10));
    assert!(
        late.contains("@P 2 100") && !late.contains("@E"),
        "{late:?}"
    );
    assert_eq!(d.reboots, 1);
    assert_eq!(d.interpreter.running_version(), SAMPLE_VERSION);
}

#[test]
fn ctrl_c_in_a_waiting_loop_cancels_and_in_a_blocking_call_waits_for_its_end() {
    let mut d = module("EC600N", false);
    exec(&mut d, Duration::ZERO, WAIT_LOOP);
    at(&mut d, Duration::from_secs(1));
    d.receive(Duration::from_secs(1), b"\x03");
    let out = at(&mut d, Duration::from_secs(1));
    assert_eq!(out, "@C 0\r\n\x04\x04>");
    assert!(!d.interpreter.downloading());
    assert_eq!(at(&mut d, Duration::from_secs(20)), "");
    assert_eq!(d.interpreter.running_version(), DEMO_RUNNING_VERSION);

    // The EC600U's httpDownload blocks: the interrupt lands after it returned, when there is
    // nothing left to cancel, and the verified package stays staged for the next boot.
    let mut d = module("EC600U", false);
    exec(&mut d, Duration::ZERO, WAIT_LOOP);
    d.receive(Duration::from_secs(1), b"\x03");
    let during = at(&mut d, Duration::from_secs(1));
    assert!(
        during.contains("@P 1 10") && !during.contains("@C"),
        "{during:?}"
    );
    let out = at(&mut d, Duration::from_secs(10));
    assert!(
        out.contains("@P 2 100") && out.ends_with("@C -1\r\n\x04\x04>"),
        "{out:?}"
    );
    d.power_cycle(Duration::from_secs(10));
    assert_eq!(d.interpreter.running_version(), SAMPLE_VERSION);
}
