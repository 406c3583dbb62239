//! The technician's actions: connect, identify, flash, cancel, disconnect. Each runs the core
//! machine through the pump and turns its events into state changes.

use std::cell::RefCell;
use std::rc::Rc;

use otadeck_core::driver::quecpython::{FotaOptions, QuecPythonSession};
use otadeck_core::link::mp_repl::ReplConfig;
use otadeck_core::session::{FlashErrorKind, LogLevel, Machine, SessionEvent};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use yew::UseReducerHandle;

use crate::clock::{now, wall_clock};
use crate::image::LoadedImage;
use crate::pump::{drive, CancelFlag};
use crate::state::{Action, AppState, LinkKind, LogEntry};
use crate::transport::demo::{DemoFault, DemoTransport};
use crate::transport::web_serial::WebSerialTransport;
use crate::transport::Connection;

/// What every page can reach: the state, the live connection, the cancel flag.
#[derive(Clone)]
pub struct Ctx {
    pub state: UseReducerHandle<AppState>,
    pub conn: Rc<RefCell<Option<Connection>>>,
    pub cancel: CancelFlag,
    /// The last demo module powered on, so that reconnecting finds the same module.
    pub demo: Rc<RefCell<Option<DemoTransport>>>,
}

impl PartialEq for Ctx {
    fn eq(&self, other: &Self) -> bool {
        self.state == other.state
    }
}

impl Ctx {
    /// Add a line to the log.
    pub fn log(&self, level: LogLevel, message: impl Into<String>) {
        self.state.dispatch(Action::Log(LogEntry {
            at: now().as_secs_f64(),
            clock: wall_clock(),
            level,
            message: message.into(),
        }));
    }

    /// Run `machine` on `conn` to its end. When the link dropped, the connection is let go so
    /// the header says so and the technician reconnects.
    async fn run_session<M: Machine>(&self, machine: &mut M, conn: &Connection) {
        self.state.dispatch(Action::Busy(true));
        let mut link_lost = false;
        drive(machine, conn, &self.cancel, |event| {
            if let SessionEvent::Finished(Err(e)) = &event {
                link_lost = e.kind == FlashErrorKind::LinkLost;
            }
            self.state.dispatch(Action::Session {
                event,
                now: now(),
                clock: wall_clock(),
            })
        })
        .await;
        self.state.dispatch(Action::Busy(false));
        if link_lost {
            self.conn.borrow_mut().take();
            conn.close().await;
            self.state.dispatch(Action::Unlinked);
            self.log(
                LogLevel::Warn,
                "The link to the module dropped. Reconnect it, then read it on the Device page.",
            );
        }
    }

    fn connection(&self) -> Option<Connection> {
        self.conn.borrow().clone()
    }

    async fn replace_connection(&self, conn: Connection, kind: LinkKind) {
        let old = self.conn.borrow_mut().take();
        if let Some(old) = old {
            old.close().await;
        }
        self.log(LogLevel::Info, format!("Connected: {}", conn.describe()));
        *self.conn.borrow_mut() = Some(conn);
        self.state.dispatch(Action::Linked(kind));
    }

    /// Connect the demo module (the same one as before, plugged in again) and identify it.
    pub async fn connect_demo(&self, baud: u32) {
        let previous = self.demo.borrow().clone();
        let demo = match previous {
            Some(p) => DemoTransport::replug(&p, baud),
            None => DemoTransport::open(baud),
        };
        *self.demo.borrow_mut() = Some(demo.clone());
        let kind = LinkKind::Demo(demo.describe());
        self.replace_connection(Connection::Demo(demo), kind).await;
        self.identify().await;
    }

    /// Ask the browser for a serial port, open it and identify the module.
    pub async fn connect_serial(&self, baud: u32) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let serial = window.navigator().serial();
        let options = web_sys::SerialPortRequestOptions::new();
        let port = match JsFuture::from(serial.request_port_with_options(&options)).await {
            Ok(p) => p.unchecked_into::<web_sys::SerialPort>(),
            Err(_) => {
                self.log(LogLevel::Info, "No serial port was chosen");
                return;
            }
        };
        match WebSerialTransport::open(port, baud).await {
            Ok(t) => {
                let kind = LinkKind::Serial(t.describe());
                self.replace_connection(Connection::Serial(t), kind).await;
                self.identify().await;
            }
            Err(e) => self.log(
                LogLevel::Error,
                format!(
                    "{e}. Close other programs using the port (a terminal, an IDE) and try again."
                ),
            ),
        }
    }

    /// Close the link.
    pub async fn disconnect(&self) {
        let conn = self.conn.borrow_mut().take();
        if let Some(conn) = conn {
            conn.close().await;
            self.log(LogLevel::Info, "Disconnected");
        }
        self.state.dispatch(Action::Unlinked);
    }

    /// Ask the module what it is and what it runs.
    pub async fn identify(&self) {
        let Some(conn) = self.connection() else {
            return;
        };
        let mut machine = QuecPythonSession::identify(now(), ReplConfig::default());
        self.run_session(&mut machine, &conn).await;
    }

    /// Flash `image`, then restart the module unless `restart` is false.
    pub async fn flash(&self, image: Rc<LoadedImage>, restart: bool) {
        let Some(conn) = self.connection() else {
            self.log(LogLevel::Warn, "Connect a module before flashing");
            return;
        };
        self.state.dispatch(Action::FlashStarted {
            total: image.bytes.len() as u64,
        });
        self.log(
            LogLevel::Info,
            format!(
                "Flashing {} ({} bytes, SHA-256 {})",
                image.name,
                image.bytes.len(),
                image.sha256
            ),
        );
        let options = FotaOptions {
            restart,
            ..FotaOptions::default()
        };
        let mut machine = QuecPythonSession::flash(now(), image.bytes.clone(), options);
        self.run_session(&mut machine, &conn).await;
    }

    /// Arm a fault on the demo line, to see how it is reported.
    pub fn arm_demo_fault(&self, fault: DemoFault) {
        if let Some(Connection::Demo(d)) = self.connection() {
            d.arm(fault);
            self.log(
                LogLevel::Warn,
                format!(
                    "Demo: {} after the next {} bytes on the line",
                    fault.describe(),
                    crate::transport::demo::FAULT_AFTER_BYTES
                ),
            );
        }
    }

    /// Ask the running session to stop.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}
