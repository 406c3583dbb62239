//! The technician's actions on a device: connect, identify, flash, download, accept, roll back,
//! disconnect. Each opens the session the core's registry gives for the family and the job, runs
//! it through the pump, and hands its events to the device's stores.

use std::rc::Rc;

use otadeck_core::admission::Policy;
use otadeck_core::driver::esp_rom::reset::ResetKind;
use otadeck_core::family::{self, BackupRegion, Family, FlashOptions, Job, JobKind, OpenOptions};
use otadeck_core::session::{
    FlashError, FlashErrorKind, FlashOutcome, LogLevel, Machine, SessionEvent,
};
use otadeck_sim::fleet::FleetMember;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::device::{DeviceSession, LinkKind};
use crate::clock::now;
use crate::image::LoadedImage;
use crate::pump::drive;
use crate::transport::demo::usb::DemoUsbTransport;
use crate::transport::demo::wire::DemoSpec;
use crate::transport::demo::{DemoFault, DemoTransport};
use crate::transport::web_serial::WebSerialTransport;
use crate::transport::web_socket::{bridge_url, WsTransport};
use crate::transport::web_usb::{navigator_usb, request_dfu_device, WebUsbTransport};
use crate::transport::Connection;

/// How a session ended, when it did.
type SessionResult = Option<Result<FlashOutcome, FlashError>>;

/// What the technician chose for a flash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashChoice {
    /// Restart into the new firmware (QuecPython); otherwise it runs after the next restart.
    pub restart: bool,
    /// Leave the new firmware on trial after it booted: accept or roll back later on the
    /// Device page. Otherwise it is accepted once it runs.
    pub keep_on_trial: bool,
    /// USB DfuSe: erase the whole flash first (mass erase).
    pub erase_all: bool,
    /// What the admission check allows and requires: raw data (the technician ticked "Write
    /// raw data"), the keys a signature must verify with, whether one is required.
    pub policy: Policy,
}

/// A package the module fetches itself (QuecPython `fota.httpDownload`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadChoice {
    /// The package URL (`url1`).
    pub url1: String,
    /// The second stage of a mini FOTA (`url2`).
    pub url2: Option<String>,
}

impl DeviceSession {
    /// Run `machine` on `conn` to its end and return how it ended. When the link dropped, the
    /// connection is let go so the header says so and the technician reconnects.
    /// The caller holds the busy flag for the whole job (a job may run several sessions).
    async fn run_session<M: Machine + ?Sized>(
        &self,
        machine: &mut M,
        conn: &Connection,
    ) -> SessionResult {
        let mut link_lost = false;
        let mut result = None;
        // The monitor gives the port back to the session.
        self.stop_monitor().await;
        // A loader that listens at a fixed rate after its reset starts there, whatever rate an
        // earlier session left the line at.
        if let Some(rate) = self.start_rate.take() {
            if conn.baud().is_some_and(|b| b != rate) {
                if let Err(e) = conn.set_baud(rate).await {
                    self.log(LogLevel::Error, format!("{e}"));
                }
            }
        }
        drive(machine, conn, &self.cancel, |event| {
            if let SessionEvent::Finished(r) = &event {
                link_lost = matches!(r, Err(e) if e.kind == FlashErrorKind::LinkLost);
                result = Some(r.clone());
            }
            self.apply(event)
        })
        .await;
        if link_lost {
            self.conn.borrow_mut().take();
            conn.close().await;
            self.unlinked();
            self.log(
                LogLevel::Warn,
                "The link to the module dropped. Reconnect it, then read it on the Device page.",
            );
        }
        result
    }

    /// Use `conn` from now on (`bootloader`: reset its ESP32 into the ROM loader), and read
    /// the module on it.
    async fn link_up(&self, conn: Connection, kind: LinkKind, bootloader: bool) {
        self.bootloader.set(bootloader);
        self.replace_connection(conn, kind).await;
        self.identify().await;
    }

    async fn replace_connection(&self, conn: Connection, kind: LinkKind) {
        let old = self.conn.borrow_mut().take();
        if let Some(old) = old {
            old.close().await;
        }
        self.log(LogLevel::Info, format!("Connected: {}", conn.describe()));
        // The last flash's result card was about the module connected before.
        self.clear_result();
        *self.conn.borrow_mut() = Some(conn);
        self.linked(kind);
    }

    /// Connect a demo module of `family` (the same one as before, plugged in again, when the
    /// family did not change) and identify it.
    pub async fn connect_demo(&self, family: Family, baud: u32) {
        self.requested_baud.set(baud);
        let baud = family.line_rates(baud).0;
        if family == Family::Dfu {
            return self.connect_demo_usb().await;
        }
        let previous = self.demo.borrow().clone();
        let demo = match previous {
            Some(p) if p.family() == family && !p.broken() => DemoTransport::replug(&p, baud),
            Some(p) => {
                p.close();
                DemoTransport::open(family, baud)
            }
            None => DemoTransport::open(family, baud),
        };
        *self.demo.borrow_mut() = Some(demo.clone());
        let kind = LinkKind::Demo(demo.describe());
        self.link_up(Connection::Demo(demo), kind, family == Family::EspRom)
            .await;
    }

    /// Unplug the demo module and plug in `member` of the demo fleet, then identify it.
    pub async fn connect_demo_member(&self, member: &FleetMember, baud: u32) {
        if let Some(previous) = self.demo.borrow_mut().take() {
            previous.close();
        }
        let module = DemoSpec::FleetMember {
            imei: member.imei.into(),
        };
        let family = module.family();
        self.requested_baud.set(baud);
        let demo = DemoTransport::open_module(module, family.line_rates(baud).0);
        *self.demo.borrow_mut() = Some(demo.clone());
        let kind = LinkKind::Demo(demo.describe());
        self.link_up(Connection::Demo(demo), kind, family == Family::EspRom)
            .await;
    }

    /// Plug in the demo STM32, waiting in its DfuSe loader with an older application in flash
    /// (the same device again when it was connected before).
    async fn connect_demo_usb(&self) {
        let previous = self.demo_usb.borrow().clone().filter(|d| !d.broken());
        let demo = match previous {
            Some(d) => d,
            None => match DemoUsbTransport::open().await {
                Ok(d) => d,
                Err(why) => {
                    return self.log(LogLevel::Error, format!("Demo STM32 not plugged in: {why}"))
                }
            },
        };
        *self.demo_usb.borrow_mut() = Some(demo.clone());
        let kind = LinkKind::Demo(demo.describe());
        self.link_up(Connection::DemoUsb(demo), kind, false).await;
    }

    /// Ask the browser for a USB DFU device (or take one granted before), open it and read it.
    pub async fn connect_usb(&self, granted: Option<web_sys::UsbDevice>) {
        let Some(usb) = navigator_usb() else {
            self.log(
                LogLevel::Error,
                "This browser has no WebUSB: use Chrome or Edge.",
            );
            return;
        };
        let device = match granted {
            Some(d) => d,
            None => match request_dfu_device(&usb).await {
                Ok(d) => d,
                Err(_) => {
                    self.log(LogLevel::Info, "No USB device was chosen");
                    return;
                }
            },
        };
        self.connect_usb_device(device, usb).await;
    }

    /// Open `device` (found through `usb`) and read it.
    pub async fn connect_usb_device(&self, device: web_sys::UsbDevice, usb: web_sys::Usb) {
        match WebUsbTransport::open(device, usb).await {
            Ok(t) => {
                let kind = LinkKind::Usb(t.describe());
                self.link_up(Connection::Usb(t), kind, false).await;
            }
            Err(e) => self.log(
                LogLevel::Error,
                format!("{e}. Close dfu-util, STM32CubeProgrammer or another tab using it."),
            ),
        }
    }

    /// Ask the browser for a serial port, open it and identify the module; `bootloader`: the
    /// port leads to an ESP32 to be reset into its ROM loader.
    pub async fn connect_serial(&self, baud: u32, bootloader: bool) {
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
        self.connect_serial_port(port, baud, bootloader).await;
    }

    /// Open `port` (chosen now, or granted before) and identify the module.
    pub async fn connect_serial_port(
        &self,
        port: web_sys::SerialPort,
        baud: u32,
        bootloader: bool,
    ) {
        self.requested_baud.set(baud);
        // The ROM loader listens at its own rate first; the session switches once it agreed.
        let open_at = match bootloader {
            true => Family::EspRom.line_rates(baud).0,
            false => baud,
        };
        match WebSerialTransport::open(port, open_at).await {
            Ok(t) => {
                let kind = LinkKind::Serial(t.describe());
                self.link_up(Connection::Serial(t), kind, bootloader).await;
            }
            Err(e) => self.log(
                LogLevel::Error,
                format!(
                    "{e}. Close other programs using the port (a terminal, an IDE) and try again."
                ),
            ),
        }
    }

    /// Connect to a serial port through a WebSocket bridge (`otadeck bridge`) at the address
    /// typed, switch it to `baud` and identify the module; `bootloader` as for a serial port.
    pub async fn connect_bridge(&self, address: &str, baud: u32, bootloader: bool) {
        self.requested_baud.set(baud);
        let open_at = match bootloader {
            true => Family::EspRom.line_rates(baud).0,
            false => baud,
        };
        let opened = match bridge_url(address) {
            Ok(url) => WsTransport::open(&url).await,
            Err(e) => Err(e),
        };
        let opened = opened.and_then(|t| t.set_baud(open_at).map(|()| t));
        match opened {
            Ok(t) => {
                let kind = LinkKind::Serial(t.describe());
                self.link_up(Connection::Ws(t), kind, bootloader).await;
            }
            Err(e) => self.log(
                LogLevel::Error,
                format!("{e}. Check that `otadeck bridge` runs there and the address is right."),
            ),
        }
    }

    /// Close the link.
    pub async fn disconnect(&self) {
        self.stop_monitor().await;
        let conn = self.conn.borrow_mut().take();
        if let Some(conn) = conn {
            conn.close().await;
            self.log(LogLevel::Info, "Disconnected");
        }
        self.unlinked();
    }

    /// Find out what answers on the link, then read it with its family's driver.
    pub async fn identify(&self) {
        self.set_busy(true);
        self.identify_now().await;
        self.set_busy(false);
    }

    async fn identify_now(&self) {
        let Some(conn) = self.connection() else {
            return;
        };
        self.family.set(None);
        if !conn.usb_interfaces().is_empty() {
            // After a restart the device may be back as another USB device: name it anew.
            let name = conn.describe();
            self.view.update(|v| match &mut v.link {
                LinkKind::Usb(n) | LinkKind::Demo(n) => *n = name,
                _ => {}
            });
            self.family.set(Some(Family::Dfu));
            if let Some(mut machine) = self.machine(Family::Dfu, Job::Identify) {
                self.run_session(&mut *machine, &conn).await;
            }
            return;
        }
        if self.bootloader.get() {
            self.family.set(Some(Family::EspRom));
            if let Some(mut machine) = self.machine(Family::EspRom, Job::Identify) {
                self.run_session(&mut *machine, &conn).await;
            }
            return;
        }
        let line_baud = conn.baud();
        let mut detector = family::detect(now(), line_baud);
        let found = self.run_session(&mut *detector, &conn).await;
        let Some(Ok(FlashOutcome {
            module: Some(module),
            ..
        })) = found
        else {
            return;
        };
        self.family.set(Some(module.family));
        if !module.family.can(JobKind::Identify) {
            let name = module.family.name();
            let text = format!("{name} answered, but otadeck has no update driver for it yet");
            self.log(LogLevel::Warn, text);
            return;
        }
        if let Some(mut machine) = self.machine(module.family, Job::Identify) {
            self.run_session(&mut *machine, &conn).await;
        }
    }

    /// The session for `job` on a module of `family`, from the core's registry; when the
    /// family cannot do it, the log says why.
    fn machine(&self, family: Family, job: Job) -> Option<Box<dyn Machine>> {
        self.machine_with(family, job, Policy::default())
    }

    /// [`Self::machine`], with an image admitted under `policy`; a refused image is logged
    /// with what to do, and nothing is sent.
    fn machine_with(&self, family: Family, job: Job, policy: Policy) -> Option<Box<dyn Machine>> {
        let (start, switch_to) = family.line_rates(self.requested_baud.get());
        self.start_rate
            .set(family.capabilities().start_baud.map(|_| start));
        let options = OpenOptions {
            reset: (family == Family::EspRom).then_some(ResetKind::Classic),
            baud: switch_to,
            line_baud: self.connection().and_then(|c| c.baud()),
            partitions: self.view.get().partitions.clone(),
            policy,
            usb: self
                .connection()
                .map(|c| c.usb_interfaces())
                .unwrap_or_default(),
            ..OpenOptions::default()
        };
        match family::open(family, job, options, now()) {
            Ok(machine) => Some(machine),
            Err(e) => {
                self.log(LogLevel::Error, format!("{e}."));
                None
            }
        }
    }

    /// Flash `image` as the technician chose.
    pub async fn flash(&self, image: Rc<LoadedImage>, choice: FlashChoice) {
        let total = image.bytes.len() as u64;
        let intro = format!(
            "Flashing {} ({} bytes, SHA-256 {})",
            image.name,
            image.bytes.len(),
            image.sha256
        );
        let job = Job::Flash {
            image: image.bytes.clone(),
            options: FlashOptions {
                restart: choice.restart,
                accept: !choice.keep_on_trial,
                erase_all: choice.erase_all,
                ..FlashOptions::default()
            },
        };
        let what = match &image.version {
            Some(v) if !image.name.contains(v.as_str()) => format!("{} {v}", image.name),
            _ => image.name.clone(),
        };
        self.start_update(job, total, (intro, what), choice.policy)
            .await;
    }

    /// Have the module download and install a package itself (QuecPython). Progress is in
    /// percent, as the module reports it.
    pub async fn download(&self, source: DownloadChoice, choice: FlashChoice) {
        let intro = match &source.url2 {
            Some(url2) => format!(
                "The module downloads a mini FOTA: {} then {url2}",
                source.url1
            ),
            None => format!("The module downloads {}", source.url1),
        };
        let what = format!("the package at {}", source.url1);
        let job = Job::Download {
            url1: source.url1,
            url2: source.url2,
            restart: choice.restart,
        };
        self.start_update(job, 100, (intro, what), Policy::default())
            .await;
    }

    /// Run an update `job` on the connected module, identifying it first when needed.
    /// `said`: the log's first line, and the image in a few words for the kept record. True
    /// when the job ended well.
    pub(super) async fn start_update(
        &self,
        job: Job,
        total: u64,
        said: (String, String),
        policy: Policy,
    ) -> bool {
        let (intro, what) = said;
        let Some(conn) = self.connection() else {
            self.log(LogLevel::Warn, "Connect a module before flashing");
            return false;
        };
        self.set_busy(true);
        if self.family.get().is_none() {
            self.identify_now().await;
        }
        let Some(family) = self.family.get() else {
            self.set_busy(false);
            self.log(
                LogLevel::Error,
                "The module did not say what it is, so it cannot be flashed: check the log",
            );
            return false;
        };
        // A driver that writes flash by address leaves the chip in its loader, so that the
        // slots can be read back over it right after.
        let writes_by_address = family.capabilities().app_offset.is_some();
        let job = match job {
            Job::Flash { image, mut options } if writes_by_address => {
                options.restart = false;
                Job::Flash { image, options }
            }
            Job::FlashParts { parts, mut options } => {
                options.restart = false;
                Job::FlashParts { parts, options }
            }
            job => job,
        };
        let Some(mut machine) = self.machine_with(family, job, policy) else {
            self.set_busy(false);
            return false;
        };
        self.flash_started(total, family, &what);
        self.record_outside(&what).await;
        self.log(LogLevel::Info, intro);
        let result = self.run_session(&mut *machine, &conn).await;
        let ok = matches!(result, Some(Ok(_)));
        // Such a driver does not read the slots back, and a DFU device came back as another
        // USB device: read it again for the Device page.
        if ok && (writes_by_address || family == Family::Dfu) {
            self.identify_now().await;
        }
        self.set_busy(false);
        ok
    }

    /// Accept the firmware the module runs on trial.
    pub async fn accept(&self) {
        self.decide(Job::Accept).await
    }

    /// Return the module to the firmware in its other slot.
    pub async fn rollback(&self) {
        self.decide(Job::Rollback).await
    }

    /// Erase the update slot (the one that does not run); the slots are read again after.
    pub async fn erase_update_slot(&self) {
        self.decide(Job::EraseUpdateSlot).await
    }

    /// Restart a module into the firmware that boots next (a chip left in its ROM loader, a
    /// QuecPython package verified without a restart); the result card then says what runs.
    pub async fn restart(&self) {
        let (Some(conn), Some(family)) = (self.connection(), self.family.get()) else {
            return;
        };
        let Some(mut machine) = self.machine(family, Job::Restart) else {
            return;
        };
        self.set_busy(true);
        if let Some(Ok(outcome)) = self.run_session(&mut *machine, &conn).await {
            if family == Family::Dfu {
                // The device came back as its application: read it as it is now.
                self.identify_now().await;
            } else {
                self.restarted(outcome);
            }
        }
        self.set_busy(false);
    }

    async fn decide(&self, job: Job) {
        let (Some(conn), Some(family)) = (self.connection(), self.family.get()) else {
            return;
        };
        if let Some(mut machine) = self.machine(family, job) {
            self.set_busy(true);
            self.run_session(&mut *machine, &conn).await;
            self.set_busy(false);
        }
    }

    /// What a backup of the connected module can read: its DFU memory, or each slot that holds
    /// an image, once its slots were read.
    pub fn backup_regions(&self) -> Vec<BackupRegion> {
        let (Some(family), Some(conn)) = (self.family.get(), self.connection()) else {
            return Vec::new();
        };
        let view = self.view.get();
        family::backup_regions(family, &conn.usb_interfaces(), view.partitions.as_ref())
    }

    /// Read `region` of the module's flash back into a file the page offers for saving.
    pub async fn backup(&self, region: BackupRegion) {
        let (Some(conn), Some(family)) = (self.connection(), self.family.get()) else {
            return;
        };
        let job = Job::ReadBack {
            offset: region.offset,
            len: region.len,
        };
        let Some(mut machine) = self.machine(family, job) else {
            return;
        };
        self.log(
            LogLevel::Info,
            format!(
                "Backing up {} ({} bytes from {:#010x})",
                region.what, region.len, region.offset
            ),
        );
        self.set_busy(true);
        self.backup_name.replace(Some(region.name.clone()));
        self.view.update(|v| {
            v.backup = None;
            v.backup_read = Some((0, u64::from(region.len)));
        });
        self.run_session(&mut *machine, &conn).await;
        self.view.update(|v| v.backup_read = None);
        self.set_busy(false);
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
}
