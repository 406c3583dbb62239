//! What every flash session looks like from the outside: the [`Machine`] interface the browser and
//! the CLI pump, the events it yields, and the outcome or error a technician reads at the end.

use std::fmt;
use std::time::Duration;

pub use crate::link::usb::UsbAlt;
use crate::module::ModuleInfo;
use crate::partition_state::PartitionState;

/// A sans-IO machine: bytes and time in, one instruction at a time out.
///
/// # The pump contract
/// A caller (a "pump") owns the port and the clock and drives a machine in this order, after
/// rustls' unbuffered API and quinn-proto's polling order:
///
/// 1. Ask [`poll_next`](Machine::poll_next) what to do and do exactly that:
///    - [`Next::Transmit`]: write the bytes to the module, in order. A failed write is
///      [`link_lost`](Machine::link_lost).
///    - [`Next::Signals`]: set the modem lines at once. The step's `hold` counts from when the
///      port took the change: no timeout is due before it has passed.
///    - [`Next::Baud`]: switch the port to the new rate at once.
///    - [`Next::Control`]: make the USB control transfer and give its result to
///      [`handle_transfer`](Machine::handle_transfer).
///    - [`Next::Wait`]: hand every pending event to the page or terminal
///      ([`poll_event`](Machine::poll_event)); when `until` has passed (and any hold with it),
///      call [`handle_timeout`](Machine::handle_timeout); otherwise wait for bytes from the
///      module or for `until`, whichever comes first, and feed them to
///      [`handle_input`](Machine::handle_input).
///    - [`Next::Finished`]: hand out the last events (the final one is
///      [`SessionEvent::Finished`]) and stop.
/// 2. Repeat. Once the link is gone, the pump drops further transmits and line changes instead
///    of attempting them, and keeps a baud change for the port it may find again
///    ([`Next::Reconnect`]); the machine fails on [`link_lost`](Machine::link_lost) and soon
///    answers [`Next::Finished`].
/// 3. [`cancel`](Machine::cancel) may be called between any two steps.
///
/// The sync pump for blocking ports is [`crate::pump::Pump`]; the web app's async pump follows
/// the same order. Pumps call [`poll_next`](Machine::poll_next) and never the `poll_transmit`,
/// `poll_signals`, `poll_baud` and `poll_timeout` parts it is made of: those are how a machine
/// states its wants, and `poll_next` orders them (lines first, then bytes, then the baud rate).
pub trait Machine {
    /// Bytes received from the module.
    fn handle_input(&mut self, now: Duration, data: &[u8]);
    /// The clock reached (or passed) the instant [`Machine::poll_timeout`] asked for.
    fn handle_timeout(&mut self, now: Duration);
    /// The next bytes to send to the module (a part of [`Machine::poll_next`]).
    fn poll_transmit(&mut self) -> Option<Vec<u8>>;
    /// When the machine next needs [`Machine::handle_timeout`]; `None` when it only waits for
    /// input (a part of [`Machine::poll_next`]).
    fn poll_timeout(&self) -> Option<Duration>;
    /// What happened since the last call.
    fn poll_event(&mut self) -> Option<SessionEvent>;
    /// The technician pressed Cancel. The machine stops the module's work safely and finishes with
    /// [`FlashErrorKind::Cancelled`].
    fn cancel(&mut self, now: Duration);
    /// The link to the module is gone (port closed, cable pulled).
    fn link_lost(&mut self, now: Duration);
    /// True once [`SessionEvent::Finished`] was emitted.
    fn is_finished(&self) -> bool;
    /// The next change of the port's DTR/RTS lines to make, at once (a reset into a
    /// bootloader). The machine times the steps itself through [`Machine::poll_timeout`].
    /// Machines that never touch the modem lines keep the default.
    fn poll_signals(&mut self) -> Option<SignalStep> {
        None
    }
    /// A baud rate to switch the port to, at once (the module has agreed to it).
    fn poll_baud(&mut self) -> Option<u32> {
        None
    }
    /// The result of the USB control transfer asked for by [`Next::Control`]. Machines that
    /// never ask for one keep the default.
    fn handle_transfer(&mut self, now: Duration, result: Result<Vec<u8>, TransferError>) {
        let _ = result;
        self.link_lost(now);
    }
    /// The module came back after [`Next::Reconnect`]: the port is open again. `interfaces`
    /// lists the USB device's interfaces as it enumerated this time (empty for a serial port).
    /// The default takes it as a line that was only quiet for a while: what the module printed
    /// meanwhile (its boot banner) is lost, and the machine's own waits go on.
    fn handle_reconnected(&mut self, now: Duration, interfaces: Vec<UsbAlt>) {
        let _ = (now, interfaces);
    }
    /// What the caller must do next: the one call a pump makes (see the trait's doc).
    fn poll_next(&mut self) -> Next {
        if let Some(step) = self.poll_signals() {
            return Next::Signals(step);
        }
        if let Some(bytes) = self.poll_transmit() {
            return Next::Transmit(bytes);
        }
        if let Some(baud) = self.poll_baud() {
            return Next::Baud(baud);
        }
        if self.is_finished() {
            return Next::Finished;
        }
        Next::Wait {
            until: self.poll_timeout(),
        }
    }
}

/// What a [`Machine`] needs its caller to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Write these bytes to the module.
    Transmit(Vec<u8>),
    /// Change the modem lines, then keep them for the step's `hold`.
    Signals(SignalStep),
    /// Switch the port to this baud rate.
    Baud(u32),
    /// Make this USB control transfer (a USB DFU request) and report its result.
    Control(ControlTransfer),
    /// The module restarts, and its port or USB device may go away and come back as a new one
    /// (re-enumeration). Reset the USB device first when `reset` is set; then find the module
    /// again by its USB identity (vendor, serial number; the product id may change), open it
    /// and call [`Machine::handle_reconnected`]. If it is not back by `until`, call
    /// [`Machine::handle_timeout`].
    Reconnect {
        /// Reset the USB device (a DFU device that does not detach by itself).
        reset: bool,
        /// When to give up.
        until: Duration,
    },
    /// Nothing to send: wait for bytes from the module, or until `until` (when set) to call
    /// [`Machine::handle_timeout`].
    Wait {
        /// When the machine needs the clock; `None` when it only waits for bytes.
        until: Option<Duration>,
    },
    /// The session is over.
    Finished,
}

/// A USB control transfer on the device's default pipe, to the interface `index` names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ControlTransfer {
    /// Whose request it is and whom it is for.
    pub kind: RequestKind,
    /// `bRequest` (for DFU: DNLOAD, UPLOAD, GETSTATUS, ...).
    pub request: u8,
    /// `wValue` (for DFU: the block number).
    pub value: u16,
    /// `wIndex` (for DFU: the interface number).
    pub index: u16,
    /// Data out to the device, or how many bytes to read in.
    pub data: TransferData,
}

/// The type and recipient of a [`ControlTransfer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RequestKind {
    /// A class request to interface `index` (every DFU request).
    Class,
    /// A standard request to the device (`GET_DESCRIPTOR`).
    StandardDevice,
    /// A standard request to interface `index`: only `SET_INTERFACE`, which a WebUSB host
    /// makes as `claimInterface(index)` then `selectAlternateInterface(index, value)`.
    StandardInterface,
}

/// The data stage of a [`ControlTransfer`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TransferData {
    /// Host to device, with these bytes (possibly none).
    Out(Vec<u8>),
    /// Device to host, at most this many bytes.
    In(u16),
}

/// Why a USB control transfer did not complete.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TransferError {
    /// The device stalled the request (it refuses it in its current state).
    Stall,
    /// The device is gone (unplugged, or it re-enumerated).
    Disconnected,
    /// This transport cannot make control transfers (a serial port).
    Unsupported,
}

/// One change of the modem lines. `None` leaves a line as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalStep {
    /// Assert (true) or release DTR.
    pub dtr: Option<bool>,
    /// Assert (true) or release RTS.
    pub rts: Option<bool>,
    /// How long to keep this state before the next step.
    pub hold: Duration,
}

/// A boxed machine is a machine, so callers can choose the driver at run time.
impl<M: Machine + ?Sized> Machine for Box<M> {
    fn handle_input(&mut self, now: Duration, data: &[u8]) {
        (**self).handle_input(now, data)
    }
    fn handle_timeout(&mut self, now: Duration) {
        (**self).handle_timeout(now)
    }
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (**self).poll_transmit()
    }
    fn poll_timeout(&self) -> Option<Duration> {
        (**self).poll_timeout()
    }
    fn poll_event(&mut self) -> Option<SessionEvent> {
        (**self).poll_event()
    }
    fn cancel(&mut self, now: Duration) {
        (**self).cancel(now)
    }
    fn link_lost(&mut self, now: Duration) {
        (**self).link_lost(now)
    }
    fn is_finished(&self) -> bool {
        (**self).is_finished()
    }
    fn poll_signals(&mut self) -> Option<SignalStep> {
        (**self).poll_signals()
    }
    fn poll_baud(&mut self) -> Option<u32> {
        (**self).poll_baud()
    }
    fn handle_transfer(&mut self, now: Duration, result: Result<Vec<u8>, TransferError>) {
        (**self).handle_transfer(now, result)
    }
    fn handle_reconnected(&mut self, now: Duration, interfaces: Vec<UsbAlt>) {
        (**self).handle_reconnected(now, interfaces)
    }
    fn poll_next(&mut self) -> Next {
        (**self).poll_next()
    }
}

/// The steps of a session, in order. Used in progress displays, in errors and in the record a
/// browser keeps of a flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Interrupting the module and entering its REPL.
    Connect,
    /// Asking the module what it is and what it runs.
    Identify,
    /// Setting up the update on the module.
    Prepare,
    /// Streaming the image.
    Write,
    /// The module downloads the package itself.
    Download,
    /// Committing buffered data to flash.
    Flush,
    /// The module checks what it received.
    Verify,
    /// The module restarts into the new image.
    Restart,
    /// Reconnecting after the restart and reading the running version.
    Confirm,
    /// Reading flash back to the host (a backup).
    ReadBack,
}

impl Step {
    /// The step in a few words, for the progress display.
    pub fn label(self) -> &'static str {
        match self {
            Step::Connect => "Connecting",
            Step::Identify => "Identifying",
            Step::Prepare => "Preparing the update",
            Step::Write => "Writing",
            Step::Download => "Downloading on the module",
            Step::Flush => "Flushing to flash",
            Step::Verify => "Verifying on the module",
            Step::Restart => "Restarting",
            Step::Confirm => "Confirming the new version",
            Step::ReadBack => "Reading back",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How much a log line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Wire-level detail.
    Debug,
    /// Normal progress.
    Info,
    /// Something the technician should notice.
    Warn,
    /// A failure.
    Error,
}

/// What a session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// A line for the session log.
    Log { level: LogLevel, message: String },
    /// A new step began.
    Step(Step),
    /// Bytes of the image the module has accepted so far.
    Progress { done: u64, total: u64 },
    /// The module said what it is.
    Identified(ModuleInfo),
    /// The module's application slots: which runs, which boots next, what each holds.
    Partitions(PartitionState),
    /// Flash read back to the host, checked by the module's own digest.
    ReadBack {
        /// The flash address it starts at.
        offset: u32,
        /// The bytes.
        data: Vec<u8>,
    },
    /// The session is over.
    Finished(Result<FlashOutcome, FlashError>),
}

/// A session that ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashOutcome {
    /// Image bytes written (zero for an identify-only session).
    pub bytes: u64,
    /// The module restarted into the new image.
    pub restarted: bool,
    /// What the module reports after the session.
    pub module: Option<ModuleInfo>,
}

pub use crate::flash_error::{FlashError, FlashErrorKind};

/// `1234567` as `1,234,567`.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A machine with a line change, bytes and a baud change all pending at once.
    struct Pending {
        signals: Option<SignalStep>,
        tx: Option<Vec<u8>>,
        baud: Option<u32>,
        finished: bool,
    }

    impl Machine for Pending {
        fn handle_input(&mut self, _: Duration, _: &[u8]) {}
        fn handle_timeout(&mut self, _: Duration) {}
        fn poll_transmit(&mut self) -> Option<Vec<u8>> {
            self.tx.take()
        }
        fn poll_timeout(&self) -> Option<Duration> {
            Some(Duration::from_secs(1))
        }
        fn poll_event(&mut self) -> Option<SessionEvent> {
            None
        }
        fn cancel(&mut self, _: Duration) {}
        fn link_lost(&mut self, _: Duration) {}
        fn is_finished(&self) -> bool {
            self.finished
        }
        fn poll_signals(&mut self) -> Option<SignalStep> {
            self.signals.take()
        }
        fn poll_baud(&mut self) -> Option<u32> {
            self.baud.take()
        }
    }

    #[test]
    fn poll_next_gives_lines_then_bytes_then_baud_then_waits_or_finishes() {
        let step = SignalStep {
            dtr: Some(false),
            rts: Some(true),
            hold: Duration::from_millis(100),
        };
        let mut m = Pending {
            signals: Some(step),
            tx: Some(vec![0xc0]),
            baud: Some(921_600),
            finished: false,
        };
        assert_eq!(m.poll_next(), Next::Signals(step));
        assert_eq!(m.poll_next(), Next::Transmit(vec![0xc0]));
        assert_eq!(m.poll_next(), Next::Baud(921_600));
        assert_eq!(
            m.poll_next(),
            Next::Wait {
                until: Some(Duration::from_secs(1))
            }
        );
        // A finished machine still sends its last bytes first.
        m.tx = Some(vec![2]);
        m.finished = true;
        assert_eq!(m.poll_next(), Next::Transmit(vec![2]));
        assert_eq!(m.poll_next(), Next::Finished);
    }

    #[test]
    fn digits_are_grouped_by_thousands() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(98304), "98,304");
        assert_eq!(group_digits(1234567), "1,234,567");
    }

    #[test]
    fn an_error_names_step_offset_cause_and_module_state() {
        let e = FlashError {
            step: Step::Write,
            offset: Some(40960),
            total: Some(98304),
            kind: FlashErrorKind::NoResponse {
                waiting_for: "running the code",
            },
            module_state: "still runs its previous firmware",
        };
        assert_eq!(
            e.to_string(),
            "Writing failed at byte 40,960 of 98,304: the module stopped answering while running \
             the code. The module still runs its previous firmware."
        );
    }
}
