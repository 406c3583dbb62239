//! What the page and the demo module's host say to each other: commands one way, the module's
//! bytes and the line's end the other. The same words whether the host runs in a worker (the
//! app) or in the page (the browser tests).

use otadeck_core::family::Family;
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
}

impl DemoSpec {
    /// The family of the module it powers on.
    pub fn family(&self) -> Family {
        match self {
            DemoSpec::Family { family, .. } => *family,
            DemoSpec::FleetMember { .. } => otadeck_sim::fleet::DEMO_FLEET_FAMILY,
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
}

/// What the host hands back, tagged with the epoch of the plug-in it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostOutput {
    /// Bytes from the module reached the page.
    Bytes(Vec<u8>),
    /// The cable was pulled (an armed fault struck).
    CablePulled,
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
