//! What the page and the demo module's host say to each other: commands one way, the module's
//! bytes and the line's end the other. The same words whether the host runs in a worker (the
//! app) or in the page (the browser tests).

use otadeck_core::family::Family;
use otadeck_core::link::usb::UsbAlt;
use otadeck_core::session::{ControlTransfer, TransferError};
use serde::{Deserialize, Serialize};

use super::DemoFault;

/// Which demo module to power on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DemoSpec {
    /// A module of `family` at its prompt, its console UART at `console_baud` from boot on.
    Family {
        /// Its family.
        family: Family,
        /// The rate its console answers at after boot.
        console_baud: u32,
    },
    /// The member of the demo fleet with this IMEI.
    FleetMember {
        /// Its IMEI.
        imei: String,
    },
    /// The demo STM32 in its DfuSe loader, an older application in its flash (USB, no line).
    Stm32Dfu,
}

impl DemoSpec {
    /// The family of the module it powers on.
    pub fn family(&self) -> Family {
        match self {
            DemoSpec::Family { family, .. } => *family,
            DemoSpec::FleetMember { .. } => otadeck_sim::fleet::DEMO_FLEET_FAMILY,
            DemoSpec::Stm32Dfu => Family::Dfu,
        }
    }
}

/// A command to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DemoCommand {
    /// Power `module` on at the end of a line of `baud`; what it sends is tagged `epoch`.
    Open {
        /// The module.
        module: DemoSpec,
        /// The line's rate.
        baud: u32,
        /// The tag of what comes back.
        epoch: u32,
    },
    /// Switch the line to this rate (both ends change together).
    SetBaud(u32),
    /// Arm a fault to strike [`super::FAULT_AFTER_BYTES`] from now.
    Arm(DemoFault),
    /// Plug the same module back in (it is USB powered, so it restarts) at `baud`; what it sends
    /// from now on is tagged `epoch`.
    Replug {
        /// The line's rate.
        baud: u32,
        /// The new tag.
        epoch: u32,
    },
    /// Unplug: the line stops, the module is kept for a replug.
    Close,
    /// A request to the demo STM32, answered by a [`UsbAnswer`] with the same `id`.
    Usb {
        /// Pairs the answer with the request.
        id: u32,
        /// What is asked.
        request: UsbRequest,
    },
}

/// What the page asks of the demo STM32.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsbRequest {
    /// One control transfer.
    Control(ControlTransfer),
    /// A USB reset (it re-enumerates).
    Reset,
    /// Only its state: whether it is on the bus, its interfaces.
    Present,
}

/// The demo STM32's answer, with its state after the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsbAnswer {
    /// The request's `id`.
    pub id: u32,
    /// The control transfer's result (for [`UsbRequest::Control`]).
    pub result: Option<Result<Vec<u8>, TransferError>>,
    /// On the bus now.
    pub present: bool,
    /// Its interfaces now.
    pub alts: Vec<UsbAlt>,
    /// `idVendor`.
    pub vendor: u16,
    /// `idProduct` (it changes between its loader and its application).
    pub product: u16,
}

/// What the host hands back, tagged with the epoch of the plug-in it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostOutput {
    /// Bytes from the module reached the page.
    Bytes(Vec<u8>),
    /// The cable was pulled (an armed fault struck).
    CablePulled,
    /// The demo STM32 answered (whatever the epoch).
    Usb(UsbAnswer),
}

/// The word for [`HostOutput::CablePulled`] in a worker's message.
pub const CABLE_PULLED: &str = "cable-pulled";

/// The word a worker's host says once it listens (what the page posted before is lost),
/// followed by the version of these words it speaks.
pub const READY: &str = "ready ";

/// The version of these words: a worker of another release (an old copy in a cache) that
/// speaks another is refused with a message instead of misunderstood. Raise it with any change
/// to [`DemoCommand`], [`DemoSpec`] or the messages.
pub const WIRE_VERSION: u32 = 1;

/// How a worker's loader begins the reason its wasm module did not load: `failed: <why>`.
pub const FAILED: &str = "failed: ";

/// How a worker's host begins a [`UsbAnswer`] (JSON follows).
pub const USB: &str = "usb ";
