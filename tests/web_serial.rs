//! The Web Serial code path in a real browser: a fake `SerialPort` object with real
//! `ReadableStream` / `WritableStream`s, backed by the simulated QuecPython module, is flashed
//! through `WebSerialTransport` and the pump, exactly as a port chosen by a person would be; and
//! the simulated ESP32 ROM loader, reset into its loader with DTR/RTS through `setSignals`.

#![cfg(target_arch = "wasm32")]

use std::rc::Rc;
use std::time::Duration;

use js_sys::Reflect;
use otadeck::clock::now;
use otadeck::pump::{drive, CancelFlag};
use otadeck::transport::web_serial::{WebSerialTransport, BUFFER_SIZE};
use otadeck::transport::Connection;
use otadeck_core::driver::esp_rom::packet::op;
use otadeck_core::driver::esp_rom::reset::{ResetKind, CLASSIC};
use otadeck_core::driver::esp_rom::{EspRomConfig, EspRomSession, Job, Region};
use otadeck_core::driver::quecpython::{FotaOptions, QuecPythonSession};
use otadeck_core::partition_state::SlotState;
use otadeck_core::session::{
    FlashError, FlashErrorKind, FlashOutcome, LogLevel, Machine, SessionEvent, Step,
};
use otadeck_sim::esp_rom::{EspRomSim, OTA0_VERSION, OTA1_VERSION};
use otadeck_sim::firmware::{
    quecpython_package, sample_image, DEMO_RUNNING_VERSION, SAMPLE_VERSION,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

mod common;

use common::serial::{get, Bench};

wasm_bindgen_test_configure!(run_in_browser);

async fn flash(
    conn: &Connection,
    image: Vec<u8>,
    cancel: &CancelFlag,
) -> (Result<FlashOutcome, FlashError>, Vec<SessionEvent>) {
    let mut machine = QuecPythonSession::flash(now(), image, FotaOptions::default());
    run_session(&mut machine, conn, cancel).await
}

/// Pump `machine` over `conn` to its end: its result and every event.
async fn run_session(
    machine: &mut impl Machine,
    conn: &Connection,
    cancel: &CancelFlag,
) -> (Result<FlashOutcome, FlashError>, Vec<SessionEvent>) {
    let mut events = Vec::new();
    drive(machine, conn, cancel, |e| events.push(e)).await;
    let result = events
        .iter()
        .find_map(|e| match e {
            SessionEvent::Finished(r) => Some(r.clone()),
            _ => None,
        })
        .expect("the session finished");
    (result, events)
}

#[wasm_bindgen_test]
async fn flashes_the_module_through_a_web_serial_port() {
    let bench = Bench::new(921_600);
    let transport = WebSerialTransport::open(bench.port(), 921_600)
        .await
        .expect("port opens");
    assert_eq!(
        get(&bench.state("openOptions"), &["baudRate"]).as_f64(),
        Some(921_600.0)
    );
    assert_eq!(
        get(&bench.state("openOptions"), &["bufferSize"]).as_f64(),
        Some(f64::from(BUFFER_SIZE))
    );
    assert!(
        transport.describe().contains("1a86:7523"),
        "{}",
        transport.describe()
    );
    let conn = Connection::Serial(transport.clone());

    let image = quecpython_package("3.0.0", 24 * 1024);
    let (result, events) = flash(&conn, image.clone(), &CancelFlag::default()).await;
    let outcome = result.expect("the flash succeeds");
    assert!(outcome.restarted);
    assert_eq!(outcome.module.unwrap().firmware_version, "3.0.0");
    assert_eq!(
        bench.link.borrow().device.interpreter.running_version(),
        "3.0.0"
    );
    assert_eq!(
        bench.link.borrow().device.interpreter.flash.running_image(),
        &image[..]
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, SessionEvent::Progress { done, .. } if *done == image.len() as u64)));
    // The image went out in many writes, each one waiting for the stream to be ready.
    assert!(bench.state("writes").as_f64().unwrap() > 20.0);
    assert_eq!(bench.state("maxInFlight").as_f64(), Some(1.0));
    assert!(bench.state("bytes").as_f64().unwrap() > image.len() as f64);

    transport.close().await;
    assert!(
        bench.state("readerCancelled").is_truthy(),
        "reader cancelled"
    );
    assert!(bench.state("writerClosed").is_truthy(), "writer closed");
    assert!(
        bench.state("closed").is_truthy(),
        "port closed after the locks were released"
    );
}

#[wasm_bindgen_test]
async fn a_pulled_cable_ends_the_flash_and_the_module_keeps_its_firmware() {
    let bench = Bench::new(921_600);
    let transport = WebSerialTransport::open(bench.port(), 921_600)
        .await
        .expect("port opens");
    let conn = Connection::Serial(transport.clone());
    // Pull the cable once a third of the image has gone out.
    let (f, l) = (bench.fake.borrow().clone(), bench.link.clone());
    wasm_bindgen_futures::spawn_local(async move {
        while l.borrow().delivered() < 12_000 {
            gloo::timers::future::sleep(Duration::from_millis(2)).await;
        }
        let pull: js_sys::Function = get(&f, &["pull"]).unchecked_into();
        let _ = pull.call0(&f);
    });
    let (result, _) = flash(
        &conn,
        quecpython_package("3.0.0", 24 * 1024),
        &CancelFlag::default(),
    )
    .await;
    let error = result.expect_err("the flash fails");
    assert_eq!(error.kind, FlashErrorKind::LinkLost);
    assert!(error.offset.unwrap() > 0);
    assert!(
        error
            .to_string()
            .contains("still runs its previous firmware"),
        "{error}"
    );
    // Power-cycle the module: it boots what it ran before.
    bench.link.borrow_mut().device.interpreter.flash.boot();
    assert_eq!(
        bench.link.borrow().device.interpreter.running_version(),
        DEMO_RUNNING_VERSION
    );
    transport.close().await;
}

#[wasm_bindgen_test]
async fn cancel_stops_the_flash_and_releases_the_module() {
    let bench = Bench::new(921_600);
    let transport = WebSerialTransport::open(bench.port(), 921_600)
        .await
        .expect("port opens");
    let conn = Connection::Serial(transport.clone());
    let cancel = CancelFlag::default();
    let (c, l) = (cancel.clone(), bench.link.clone());
    wasm_bindgen_futures::spawn_local(async move {
        while l.borrow().delivered() < 8_000 {
            gloo::timers::future::sleep(Duration::from_millis(2)).await;
        }
        c.cancel();
    });
    let (result, _) = flash(&conn, quecpython_package("3.0.0", 24 * 1024), &cancel).await;
    let error = result.expect_err("cancelled");
    assert_eq!(error.kind, FlashErrorKind::Cancelled);
    // Let Ctrl-C and Ctrl-B reach the module, then check it is back at its friendly prompt and
    // still boots its old firmware.
    gloo::timers::future::sleep(Duration::from_millis(100)).await;
    bench.link.borrow_mut().advance(now());
    bench.link.borrow_mut().device.interpreter.flash.boot();
    assert_eq!(
        bench.link.borrow().device.interpreter.running_version(),
        DEMO_RUNNING_VERSION
    );
    transport.close().await;
    assert!(bench.state("closed").is_truthy());
}

#[wasm_bindgen_test]
async fn a_port_that_will_not_open_gives_a_clear_error() {
    let bench = Bench::new(115_200);
    let first = WebSerialTransport::open(bench.port(), 115_200).await;
    assert!(first.is_ok());
    let second = WebSerialTransport::open(bench.port(), 115_200).await;
    let err = second.err().expect("a second open fails");
    assert!(
        err.to_string().contains("could not open the serial port"),
        "{err}"
    );
    assert!(err.to_string().contains("already open"), "{err}");
}

/// The ROM loader over a fake port on the simulated ESP32 ROM, opened at `baud`.
async fn esp_bench(baud: u32) -> (Bench<EspRomSim>, Connection) {
    let bench = Bench::with(EspRomSim::new(), baud);
    let transport = WebSerialTransport::open(bench.port(), baud)
        .await
        .expect("port opens");
    (bench, Connection::Serial(transport))
}

/// An update into the slot that does not boot (ota_1 on the simulated chip).
fn esp_flash_job(data: Vec<u8>, compress: bool) -> EspRomConfig {
    let mut cfg = EspRomConfig::new(Job::Flash {
        regions: vec![Region {
            offset: 0x10000,
            data,
        }],
        compress,
    });
    cfg.update_slot = true;
    cfg
}

fn ops(bench: &Bench<EspRomSim>, opc: u8) -> usize {
    bench
        .link
        .borrow()
        .device
        .ops
        .iter()
        .filter(|o| **o == opc)
        .count()
}

#[wasm_bindgen_test]
async fn the_classic_reset_reaches_the_lines_in_order_and_info_reads_the_slots() {
    let (bench, conn) = esp_bench(115_200).await;
    let mut cfg = EspRomConfig::new(Job::Info);
    cfg.reset = Some(ResetKind::Classic);
    let t_create = now();
    let mut session = EspRomSession::start(t_create, cfg);
    let (result, events) = run_session(&mut session, &conn, &CancelFlag::default()).await;
    result.expect("the info session succeeds");
    assert_eq!(session.chip(), "ESP32");

    let calls = bench.signal_calls();
    let lines: Vec<_> = calls.iter().map(|c| (c.0, c.1)).collect();
    let want: Vec<_> = CLASSIC.iter().map(|s| (s.dtr, s.rts)).collect();
    assert_eq!(lines, want, "setSignals calls: {calls:?}");
    assert!(calls.iter().all(|c| c.3), "every call resolved: {calls:?}");
    for (i, pair) in calls.windows(2).enumerate() {
        let held = pair[1].2 - pair[0].2;
        let hold = CLASSIC[i].hold.as_secs_f64() * 1000.0;
        assert!(
            held >= hold,
            "step {i} held {held:.3} ms, needs {hold} ms; created {:?} calls {calls:?}",
            t_create
        );
        assert!(held < hold + 500.0, "step {i} held {held:.3} ms");
    }
    // SYNC went out once the reset was over.
    assert!(ops(&bench, op::SYNC) >= 1);

    let st = events
        .iter()
        .find_map(|e| match e {
            SessionEvent::Partitions(p) => Some(p.clone()),
            _ => None,
        })
        .expect("partition state");
    assert_eq!(
        (st.running.as_str(), st.next_boot.as_str()),
        ("ota_0", "ota_0")
    );
    let a = st.slot("ota_0").unwrap();
    assert_eq!(a.state, Some(SlotState::Valid));
    assert_eq!(a.build.as_ref().unwrap().version, OTA0_VERSION);
    let b = st.slot("ota_1").unwrap();
    assert_eq!(b.build.as_ref().unwrap().version, OTA1_VERSION);
    conn.close().await;
    assert!(bench.state("closed").is_truthy());
}

#[wasm_bindgen_test]
async fn a_compressed_flash_through_the_port_lands_byte_for_byte() {
    let (bench, conn) = esp_bench(921_600).await;
    let image = sample_image();
    let mut session = EspRomSession::start(now(), esp_flash_job(image.clone(), true));
    let (result, events) = run_session(&mut session, &conn, &CancelFlag::default()).await;
    let outcome = result.expect("the flash succeeds");
    assert_eq!(outcome.bytes, image.len() as u64);
    assert!(ops(&bench, op::FLASH_DEFL_DATA) >= 1);
    // The app goes compressed; only the 4 KiB otadata sector goes in plain 1 KiB blocks.
    assert_eq!(
        ops(&bench, op::FLASH_DATA),
        4,
        "plain blocks for otadata only"
    );
    assert_eq!(
        ops(&bench, op::SPI_FLASH_MD5),
        2,
        "the session checked the MD5 of the app, then of otadata"
    );
    {
        let link = bench.link.borrow();
        assert_eq!(
            &link.device.flash[0x190000..0x190000 + image.len()],
            &image[..]
        );
        assert_eq!(
            link.device.slot_version("ota_1").as_deref(),
            Some(SAMPLE_VERSION)
        );
        assert_eq!(link.device.boot_choice().as_deref(), Some("ota_1"));
    }
    assert!(events
        .iter()
        .any(|e| matches!(e, SessionEvent::Progress { done, .. } if *done == image.len() as u64)));
    conn.close().await;
}

#[wasm_bindgen_test]
async fn a_cable_pulled_mid_write_names_the_write_step_and_the_offset() {
    let (bench, conn) = esp_bench(921_600).await;
    let image = sample_image();
    let total = image.len() as u64;
    let bench = Rc::new(bench);
    // Pull the cable once a few blocks have been written.
    let b = bench.clone();
    wasm_bindgen_futures::spawn_local(async move {
        while ops(&b, op::FLASH_DATA) < 8 {
            gloo::timers::future::sleep(Duration::from_millis(2)).await;
        }
        b.pull();
    });
    let mut session = EspRomSession::start(now(), esp_flash_job(image, false));
    let (result, _) = run_session(&mut session, &conn, &CancelFlag::default()).await;
    let error = result.expect_err("the flash fails");
    assert_eq!(error.kind, FlashErrorKind::LinkLost);
    assert_eq!(error.step, Step::Write);
    let offset = error.offset.expect("an offset");
    assert!(offset > 0 && offset < total, "{error}");
    let text = error.to_string();
    assert!(text.starts_with("Writing failed at byte "), "{text}");
    assert!(text.contains("otadata was not switched"), "{text}");
    conn.close().await;
}

#[wasm_bindgen_test]
async fn a_rejected_set_signals_ends_the_session_with_a_clear_error() {
    let (bench, conn) = esp_bench(115_200).await;
    // The second line change of the reset fails.
    Reflect::set(
        &get(&bench.fake.borrow(), &["state"]),
        &JsValue::from_str("failSignalsAt"),
        &JsValue::from_f64(1.0),
    )
    .unwrap();
    let mut cfg = EspRomConfig::new(Job::Info);
    cfg.reset = Some(ResetKind::Classic);
    let mut session = EspRomSession::start(now(), cfg);
    let started = now();
    let (result, events) = run_session(&mut session, &conn, &CancelFlag::default()).await;
    let ended = now() - started;
    let error = result.expect_err("the session fails");
    assert_eq!(error.kind, FlashErrorKind::LinkLost);
    assert_eq!(error.step, Step::Connect);
    assert!(ended < Duration::from_secs(2), "ended after {ended:?}");
    let logged = events.iter().find_map(|e| match e {
        SessionEvent::Log {
            level: LogLevel::Error,
            message,
        } if message.contains("DTR/RTS") => Some(message.clone()),
        _ => None,
    });
    let logged = logged.expect("the failed line change is logged");
    assert!(logged.contains("Failed to set control signals"), "{logged}");
    // Nothing after the failed change: no third step, no SYNC.
    let calls = bench.signal_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].3 && !calls[1].3, "{calls:?}");
    assert_eq!(bench.state("writes").as_f64(), Some(0.0));
    conn.close().await;
    // A closed port refuses line changes too.
    let err = conn.set_signals(CLASSIC[0]).await.expect_err("closed");
    assert!(err.to_string().contains("port is closed"), "{err}");
}

#[wasm_bindgen_test]
async fn the_rom_loader_switches_the_port_to_921600_by_reopening_it() {
    let (bench, conn) = esp_bench(115_200).await;
    let image = sample_image();
    let mut cfg = esp_flash_job(image.clone(), true);
    cfg.baud = Some(921_600);
    let mut session = EspRomSession::start(now(), cfg);
    let (result, events) = run_session(&mut session, &conn, &CancelFlag::default()).await;
    result.expect("the flash succeeds");
    // Opened at 115200, closed, and opened again at the rate the loader agreed to.
    let opens: Vec<f64> = js_sys::Array::from(&bench.state("opens"))
        .iter()
        .filter_map(|v| v.as_f64())
        .collect();
    assert_eq!(opens, [115_200.0, 921_600.0]);
    assert_eq!(bench.link.borrow().baud(), 921_600);
    assert_eq!(conn.baud(), Some(921_600));
    assert!(events.iter().any(
        |e| matches!(e, SessionEvent::Log { message, .. } if message == "switching to 921600 baud")
    ));
    assert_eq!(
        &bench.link.borrow().device.flash[0x190000..0x190000 + image.len()],
        &image[..]
    );
    // The reader of the first opening ended quietly: the link was never reported lost.
    assert!(!events.iter().any(|e| matches!(
        e,
        SessionEvent::Finished(Err(err)) if err.kind == FlashErrorKind::LinkLost
    )));
    conn.close().await;
}

/// An ESP32 MicroPython board on native USB whose port is away for `away` at each reset, and
/// a connection to it at 921600; with the flash of a 4.2.0 demo image to run on it.
async fn native_usb_board(
    away: Duration,
) -> (
    Bench<otadeck_sim::mp_repl::ReplDevice<otadeck_sim::esp32_mp::Esp32MicroPython>>,
    Connection,
    Box<dyn Machine>,
) {
    use otadeck_core::family::{self, Family, FlashOptions, Job as FamilyJob, OpenOptions};
    use otadeck_sim::esp32_mp::{self, Esp32Config};
    let module = esp32_mp::device(
        Esp32Config::default(),
        otadeck_sim::firmware::demo_running_image(),
        otadeck_sim::mp_repl::RawPasteSupport::Window(128),
    );
    let bench = Bench::reenumerating(module, 921_600, away);
    let transport = WebSerialTransport::open(bench.port(), 921_600)
        .await
        .expect("port opens")
        .find_ports_in(bench.serial());
    let job = FamilyJob::Flash {
        image: otadeck_sim::firmware::demo_image("4.2.0", 30_000),
        options: FlashOptions::default(),
    };
    let machine =
        family::open(Family::Esp32MicroPython, job, OpenOptions::default(), now()).expect("opens");
    (bench, Connection::Serial(transport), machine)
}

#[wasm_bindgen_test]
async fn a_module_on_native_usb_is_found_again_after_its_reset_and_confirmed() {
    let (bench, conn, mut machine) = native_usb_board(Duration::from_millis(1200)).await;
    let first = bench.port();
    // The stand-in for navigator.serial tells what Chrome's tells: the port left, a port came.
    let seen = Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
    let mut listeners = Vec::new();
    for name in ["disconnect", "connect"] {
        let seen = seen.clone();
        let target: web_sys::EventTarget = bench.serial().unchecked_into();
        listeners.push(gloo::events::EventListener::new(&target, name, move |e| {
            seen.borrow_mut().push(e.type_())
        }));
    }
    let (result, events) = run_session(&mut machine, &conn, &CancelFlag::default()).await;
    let outcome = result.expect("the flash succeeds after the port came back");
    assert_eq!(outcome.module.expect("read").firmware_version, "4.2.0");
    let logged = |part: &str| {
        events
            .iter()
            .any(|e| matches!(e, SessionEvent::Log { message, .. } if message.contains(part)))
    };
    assert!(logged("The module's port went away as it restarted"));
    assert!(logged("The module is back: carrying on."));
    assert_eq!(*seen.borrow(), ["disconnect", "connect"]);
    drop(listeners);
    // It runs on a new port object now, opened at the same rate.
    assert!(!JsValue::from(bench.port()).loose_eq(&JsValue::from(first)));
    assert_eq!(
        get(&bench.state("openOptions"), &["baudRate"]).as_f64(),
        Some(921_600.0)
    );
    conn.close().await;
}

#[wasm_bindgen_test]
async fn cancel_stops_the_wait_for_a_module_that_does_not_come_back() {
    // Away for a minute: longer than the session waits.
    let (bench, conn, mut machine) = native_usb_board(Duration::from_secs(60)).await;
    let gone = Rc::new(std::cell::Cell::new(false));
    let target: web_sys::EventTarget = bench.serial().unchecked_into();
    let _listener = {
        let gone = gone.clone();
        gloo::events::EventListener::new(&target, "disconnect", move |_| gone.set(true))
    };
    let cancel = CancelFlag::default();
    // The technician presses Cancel half a second after the port went away.
    let press = async {
        while !gone.get() {
            gloo::timers::future::sleep(Duration::from_millis(20)).await;
        }
        gloo::timers::future::sleep(Duration::from_millis(500)).await;
        cancel.cancel();
    };
    let ((result, events), ()) = futures::join!(run_session(&mut machine, &conn, &cancel), press);
    let error = result.expect_err("the flash does not end well");
    let logged = |part: &str| {
        events
            .iter()
            .any(|e| matches!(e, SessionEvent::Log { message, .. } if message.contains(part)))
    };
    assert!(logged(
        "Cancelled while waiting for the module to come back"
    ));
    // It stopped at the Cancel, not at the end of the wait.
    assert!(!logged("did not come back within"), "{error}");
    assert!(
        error
            .to_string()
            .contains("starts the selected slot at its next restart"),
        "{error}"
    );
}
