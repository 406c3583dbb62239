//! The registry of module families: one name per family, its capabilities as data, and the one
//! function that opens the machine for a family and a job ([`open`]). The web app, the CLI and
//! the demo module all start here; none of them constructs a driver itself.

mod interrupted;
mod loaders;

use std::time::Duration;

use crate::admission::{admit, Noted, Policy, Refusal};
pub use crate::backup::BackupRegion;
use crate::detect::Detector;
use crate::driver::dfu;
use crate::driver::esp32_micropython::{self as esp32, Esp32MicroPython};
use crate::driver::esp_rom::reset::ResetKind;
use crate::driver::esp_rom::stub::Stub;
use crate::driver::esp_rom::Region;
use crate::driver::mcuboot_smp::{self, McuBootSmp, SmpConfig};
use crate::driver::nodemcu::{self, NodeMcuConfig, NodeMcuSession};
use crate::driver::pycom::files::FileUpdate;
use crate::driver::pycom::files::PycomFiles;
use crate::driver::pycom::PycomFirmware;
use crate::driver::quecpython::download::{download, DownloadOptions};
use crate::driver::quecpython::{FotaOptions, QuecPythonSession};
use crate::driver::repl::flow::FlowConfig;
use crate::image::Format;
use crate::link::mp_repl::ReplConfig;
use crate::partition_state::PartitionState;
use crate::reconnect::{Reconnecting, RECONNECT_TIMEOUT};
use crate::session::Machine;
use loaders::{open_dfu, open_esp_rom};

/// The family of a module, which decides the protocol used to update it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Family {
    /// Quectel modules running QuecPython (`fota` over the MicroPython raw REPL).
    QuecPython,
    /// ESP32 boards running MicroPython (`esp32.Partition` over the raw REPL).
    Esp32MicroPython,
    /// Pycom boards (`pycom.ota_*` over the raw REPL).
    Pycom,
    /// NodeMCU on ESP32 (`otaupgrade` over the Lua REPL).
    NodeMcu,
    /// Zephyr applications booted by MCUboot (MCUmgr SMP over the serial console).
    McuBoot,
    /// An ESP32-family chip in its serial ROM loader (download mode).
    EspRom,
    /// A USB DFU 1.1 or ST DfuSe device (a loader reached over WebUSB, not a serial port).
    Dfu,
    /// MicroPython on a port otadeck has no update driver for.
    MicroPython,
}

/// A kind of job a family's driver may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Read what the module is, what it runs and its slots.
    Identify,
    /// Write an image sent from the host.
    Flash,
    /// Have the module download a package itself.
    Download,
    /// Mark the firmware on trial as good.
    Accept,
    /// Return to the firmware in the other slot.
    Rollback,
    /// Read flash back to the host.
    ReadBack,
    /// Choose the slot that boots next.
    SetBootSlot,
    /// Restart into the firmware that boots next (a chip left waiting in its loader).
    Restart,
    /// Write and delete files on the module's file system, all or nothing.
    Files,
    /// Erase the update slot (the one that does not run).
    EraseUpdateSlot,
}

/// How a family's driver finds the slot that an update goes to (or that a rollback returns to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherSlot {
    /// The module chooses it itself (`get_next_update()`, `ota_slot()`, `otaupgrade`, `fota`).
    ModuleChooses,
    /// The host reads the partition table and otadata and takes the OTA slot that does not
    /// boot next ([`other_ota_slot`]).
    FromOtadata,
    /// MCUboot's secondary slot (slot 1), swapped in by the bootloader.
    Secondary,
    /// The family has no slots otadeck can see.
    None,
}

/// What a family can do, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The jobs its driver does.
    pub jobs: &'static [JobKind],
    /// A new image can stay on trial after its first boot, to be accepted or rolled back later.
    pub trial: bool,
    /// Where an app image goes when the host writes flash by address.
    pub app_offset: Option<u32>,
    /// How the other slot is chosen.
    pub other_slot: OtherSlot,
    /// The image formats it takes for [`JobKind::Flash`].
    pub formats: &'static [Format],
    /// The rate its loader listens at first; other rates are agreed on in the protocol.
    /// `None`: the line runs at whatever rate the technician chose.
    pub start_baud: Option<u32>,
}

use JobKind as J;

impl Family {
    /// Every family with an update driver, in the order a menu offers them.
    pub const ALL: [Family; 6] = [
        Family::QuecPython,
        Family::Esp32MicroPython,
        Family::Pycom,
        Family::NodeMcu,
        Family::McuBoot,
        Family::EspRom,
    ];

    /// The families reached over WebUSB instead of a serial port.
    pub const USB: [Family; 1] = [Family::Dfu];

    /// The family's name as shown to a technician.
    pub fn name(self) -> &'static str {
        match self {
            Family::QuecPython => "QuecPython",
            Family::Esp32MicroPython => "ESP32 MicroPython",
            Family::Pycom => "Pycom",
            Family::NodeMcu => "NodeMCU",
            Family::MicroPython => "MicroPython",
            Family::EspRom => "ESP32 bootloader",
            Family::Dfu => "USB DFU",
            Family::McuBoot => "Zephyr / MCUboot",
        }
    }

    /// The devices of this family, as a sentence names them ("ESP32 chips in their ROM loader").
    pub fn devices(self) -> &'static str {
        match self {
            Family::EspRom => "ESP32 chips in their ROM loader",
            Family::Dfu => "USB DFU devices",
            Family::McuBoot => "Zephyr / MCUboot modules",
            Family::QuecPython => "QuecPython modules",
            Family::Esp32MicroPython => "ESP32 MicroPython boards",
            Family::Pycom => "Pycom boards",
            Family::NodeMcu => "NodeMCU boards",
            Family::MicroPython => "MicroPython boards",
        }
    }

    /// A short stable key: the CLI's `--protocol` value, the demo menu's value.
    pub fn key(self) -> &'static str {
        match self {
            Family::QuecPython => "quecpython",
            Family::Esp32MicroPython => "micropython-esp32",
            Family::Pycom => "pycom",
            Family::NodeMcu => "nodemcu",
            Family::McuBoot => "smp",
            Family::EspRom => "esp-rom",
            Family::Dfu => "dfu",
            Family::MicroPython => "micropython",
        }
    }

    /// The family with this [`key`](Family::key), among those with a driver.
    pub fn from_key(key: &str) -> Option<Family> {
        Family::ALL
            .into_iter()
            .chain(Family::USB)
            .find(|f| f.key() == key)
    }

    /// What the family's driver can do.
    pub fn capabilities(self) -> Capabilities {
        // ESP-IDF's OTA API boots only ESP-IDF app images: raw data would be refused at the end.
        const REPL_FORMATS: &[Format] = &[Format::EspApp];
        match self {
            Family::QuecPython => Capabilities {
                jobs: &[J::Identify, J::Flash, J::Download, J::Restart],
                trial: false,
                app_offset: None,
                other_slot: OtherSlot::ModuleChooses,
                // Quectel's full and differential packages are the vendor's own, unpublished
                // and per chipset: opaque here, checked by `fota.verify()` on the module. A file
                // otadeck recognises as another family's image is not one.
                formats: &[Format::Raw],
                start_baud: None,
            },
            Family::Esp32MicroPython | Family::NodeMcu => Capabilities {
                jobs: &[J::Identify, J::Flash, J::Accept, J::Rollback],
                trial: true,
                app_offset: None,
                other_slot: OtherSlot::ModuleChooses,
                formats: REPL_FORMATS,
                start_baud: None,
            },
            Family::Pycom => Capabilities {
                jobs: &[J::Identify, J::Flash, J::Files],
                trial: false,
                app_offset: None,
                other_slot: OtherSlot::ModuleChooses,
                formats: REPL_FORMATS,
                start_baud: None,
            },
            Family::McuBoot => Capabilities {
                jobs: &[
                    J::Identify,
                    J::Flash,
                    J::Accept,
                    J::Rollback,
                    J::EraseUpdateSlot,
                ],
                trial: true,
                app_offset: None,
                other_slot: OtherSlot::Secondary,
                formats: &[Format::McuBoot],
                start_baud: None,
            },
            Family::EspRom => Capabilities {
                jobs: &[
                    J::Identify,
                    J::Flash,
                    J::Rollback,
                    J::ReadBack,
                    J::SetBootSlot,
                    J::Restart,
                ],
                trial: false,
                // The first app partition of the usual ESP-IDF layouts (`factory` or `ota_0`),
                // as ESP Web Tools and esptool examples use it.
                app_offset: Some(0x10000),
                other_slot: OtherSlot::FromOtadata,
                formats: &[
                    Format::EspApp,
                    Format::EspPartitionTable,
                    Format::EspOtadata,
                    Format::Raw,
                ],
                start_baud: Some(115_200),
            },
            Family::Dfu => Capabilities {
                jobs: &[J::Identify, J::Flash, J::ReadBack, J::Restart],
                trial: false,
                app_offset: None,
                other_slot: OtherSlot::None,
                formats: &[Format::DfuSe, Format::Dfu, Format::Raw],
                start_baud: None,
            },
            Family::MicroPython => Capabilities {
                jobs: &[],
                trial: false,
                app_offset: None,
                other_slot: OtherSlot::None,
                formats: &[],
                start_baud: None,
            },
        }
    }

    /// The rate to open the port at and the rate to switch to once the module agreed, for the
    /// rate the technician asked for.
    pub fn line_rates(self, requested: u32) -> (u32, Option<u32>) {
        match self.capabilities().start_baud {
            Some(start) => (start, (requested != start).then_some(requested)),
            None => (requested, None),
        }
    }

    /// True when the family's driver does `job`.
    pub fn can(self, job: JobKind) -> bool {
        self.capabilities().jobs.contains(&job)
    }

    /// The family is found by asking what answers on a REPL or SMP console ([`detect`]); the
    /// ROM loader must be reset into instead, so the technician names it.
    pub fn detected(self) -> bool {
        !matches!(self, Family::EspRom | Family::Dfu)
    }
}

/// What to do to the module, with what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Read what it is, what it runs, and its slots where the family tells.
    Identify,
    /// Write `image` and boot it.
    Flash {
        /// The image.
        image: Vec<u8>,
        /// How.
        options: FlashOptions,
    },
    /// Have the module download `url1` (and `url2`, a two-stage mini FOTA) itself.
    Download {
        /// The package URL.
        url1: String,
        /// The second stage of a mini FOTA.
        url2: Option<String>,
        /// Restart into the new firmware once verified.
        restart: bool,
    },
    /// Accept the firmware on trial.
    Accept,
    /// Return to the firmware in the other slot. For [`OtherSlot::FromOtadata`] families the
    /// slot comes from [`OpenOptions::partitions`].
    Rollback,
    /// Read `len` bytes of flash at `offset` back to the host.
    ReadBack {
        /// Flash address.
        offset: u32,
        /// Bytes to read.
        len: u32,
    },
    /// Make OTA slot `slot` boot next.
    SetBootSlot {
        /// The OTA slot number (0 for ota_0).
        slot: u8,
    },
    /// Restart into the firmware that boots next.
    Restart,
    /// Write several images at their flash addresses in one session (a whole install from an
    /// ESP Web Tools manifest: bootloader, partition table, app…), each checked once written.
    FlashParts {
        /// The images and their addresses, in the order they are written.
        parts: Vec<Region>,
        /// How.
        options: FlashOptions,
    },
    /// Write `files` and delete `delete` on the module's file system, all or nothing.
    Files {
        /// Files to write, each checked on the module against its SHA-1.
        files: Vec<FileUpdate>,
        /// Absolute paths to delete.
        delete: Vec<String>,
    },
    /// Erase the update slot, which does not run (MCUboot's secondary slot).
    EraseUpdateSlot,
}

impl Job {
    /// The kind of this job.
    pub fn kind(&self) -> JobKind {
        match self {
            Job::Identify => JobKind::Identify,
            Job::Flash { .. } => JobKind::Flash,
            Job::Download { .. } => JobKind::Download,
            Job::Accept => JobKind::Accept,
            Job::Rollback => JobKind::Rollback,
            Job::ReadBack { .. } => JobKind::ReadBack,
            Job::SetBootSlot { .. } => JobKind::SetBootSlot,
            Job::Restart => JobKind::Restart,
            Job::FlashParts { .. } => JobKind::Flash,
            Job::Files { .. } => JobKind::Files,
            Job::EraseUpdateSlot => JobKind::EraseUpdateSlot,
        }
    }
}

/// How a flash runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashOptions {
    /// Restart into the new image at the end (QuecPython, the ROM loader); otherwise it runs
    /// after the next restart.
    pub restart: bool,
    /// Accept the new image once it runs; `false` leaves it on trial (families with
    /// [`Capabilities::trial`]).
    pub accept: bool,
    /// Where to write it, for families that write flash by address; `None`: an app goes into
    /// the OTA slot that does not boot now (and boots next once checked), anything else to the
    /// family's [`Capabilities::app_offset`].
    pub offset: Option<u32>,
    /// Send the image compressed where the protocol allows it.
    pub compress: bool,
    /// ROM loader: write even inside the partition the chip boots now (an interruption there
    /// leaves nothing to boot).
    pub overwrite_running: bool,
    /// USB DfuSe: erase the whole flash first (mass erase), not only the pages the image
    /// covers.
    pub erase_all: bool,
}

impl Default for FlashOptions {
    fn default() -> Self {
        FlashOptions {
            restart: true,
            accept: true,
            offset: None,
            compress: true,
            overwrite_running: false,
            erase_all: false,
        }
    }
}

/// How to reach the module, and what is known of it, for [`open`].
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// ROM loader: how to reset the chip into it (`None`: it waits in it already).
    pub reset: Option<ResetKind>,
    /// ROM loader: the baud rate to switch to once attached.
    pub baud: Option<u32>,
    /// The port's rate as the session starts (a console that can change its rate needs it);
    /// `None` when the link has none (USB, a bridge that does not say).
    pub line_baud: Option<u32>,
    /// NodeMCU: the console rate to write at (`uart.setup`); `None` for
    /// [`NODEMCU_WRITE_BAUD`]. The port's own rate keeps the console where it is.
    pub write_baud: Option<u32>,
    /// ROM loader: a flasher stub to load first.
    pub stub: Option<Stub>,
    /// The module's slots as last read (a ROM loader rollback picks the other slot from them).
    pub partitions: Option<PartitionState>,
    /// What the admission check allows and requires of an image to flash.
    pub policy: Policy,
    /// A USB device's interfaces as it enumerated (USB DFU).
    pub usb: Vec<crate::session::UsbAlt>,
    /// USB DFU: read what was written back and compare (on unless turned off).
    pub skip_verify: bool,
}

/// The console rate a NodeMCU module is written at unless told otherwise: the rate ESP32
/// USB-UART bridges (CP210x, CH340, FTDI) all carry.
pub const NODEMCU_WRITE_BAUD: u32 = 921_600;

/// Why [`open`] could not start a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The family's driver does not do this job.
    #[error("{family} modules cannot {job}", family = .0.name(), job = job_words(*.1))]
    Unsupported(Family, JobKind),
    /// A rollback needs a slot to return to, and the slots read show none that holds an app.
    #[error("no other slot holds an app to return to: read the module's slots first")]
    NoOtherSlot,
    /// The image may not be written (see [`crate::admission`]); nothing was sent.
    #[error("{0}; nothing was sent to the module")]
    Refused(#[from] Refusal),
}

fn job_words(job: JobKind) -> &'static str {
    match job {
        JobKind::Identify => "be identified",
        JobKind::Flash => "be flashed from a file",
        JobKind::Download => "download a package themselves; give them an image file",
        JobKind::Accept => "accept firmware: their bootloader decides at boot",
        JobKind::Rollback => "roll back: their bootloader decides at boot",
        JobKind::ReadBack => "read flash back",
        JobKind::SetBootSlot => "switch the boot slot",
        JobKind::Restart => {
            "be restarted from otadeck: power-cycle the module or press its reset button"
        }
        JobKind::Files => "take file updates from otadeck",
        JobKind::EraseUpdateSlot => "have their update slot erased from otadeck",
    }
}

/// The machine that finds out what answers on a link at `line_baud` (an interrupt, then one SMP
/// echo).
pub fn detect(now: Duration, line_baud: Option<u32>) -> Box<dyn Machine> {
    Box::new(Detector::start_at(now, line_baud))
}

/// The OTA slot number that does not boot next and holds a whole app, from the slots read.
pub fn other_ota_slot(state: &PartitionState) -> Option<u8> {
    state
        .slots
        .iter()
        .filter(|s| s.label != state.next_boot && s.build.is_some() && s.problem.is_none())
        .find_map(|s| s.label.strip_prefix("ota_")?.parse().ok())
}

/// The session that does `job` on a module of `family`, starting at `now`.
pub fn open(
    family: Family,
    job: Job,
    options: OpenOptions,
    now: Duration,
) -> Result<Box<dyn Machine>, OpenError> {
    let kind = job.kind();
    if !family.can(kind) {
        return Err(OpenError::Unsupported(family, kind));
    }
    let mut notes = Vec::new();
    match &job {
        Job::Flash { image, options: o } => {
            notes = admit(family, image, o.offset, &options.policy)?.notes;
        }
        Job::FlashParts { parts, .. } => {
            // The source places each part; raw data (a file system image, `boot_app0.bin`) is
            // written on its word, and each part's MD5 is still checked once written.
            let policy = Policy {
                allow_raw: true,
                ..options.policy.clone()
            };
            for p in parts {
                notes.extend(admit(family, &p.data, Some(p.offset), &policy)?.notes);
            }
        }
        _ => {}
    }
    let unsupported = || OpenError::Unsupported(family, kind);
    let flow = FlowConfig::default();
    let machine: Box<dyn Machine> = match family {
        Family::QuecPython => match job {
            Job::Identify => Box::new(QuecPythonSession::identify(now, ReplConfig::default())),
            Job::Restart => Box::new(QuecPythonSession::restart(now, ReplConfig::default())),
            Job::Flash { image, options } => {
                let fota = FotaOptions {
                    restart: options.restart,
                    ..FotaOptions::default()
                };
                Box::new(QuecPythonSession::flash(now, image, fota))
            }
            Job::Download {
                url1,
                url2,
                restart,
            } => {
                let mut d = DownloadOptions::new(url1);
                d.url2 = url2;
                d.restart = restart;
                Box::new(download(now, d))
            }
            _ => return Err(unsupported()),
        },
        Family::Esp32MicroPython => {
            let job = match job {
                Job::Identify => esp32::Job::Inspect,
                Job::Flash { image, options } => esp32::Job::Flash {
                    image,
                    accept: options.accept,
                },
                Job::Accept => esp32::Job::Accept,
                Job::Rollback => esp32::Job::Rollback,
                _ => return Err(unsupported()),
            };
            Box::new(Esp32MicroPython::start(now, job, flow))
        }
        Family::NodeMcu => {
            let job = match job {
                Job::Identify => nodemcu::Job::Inspect,
                Job::Flash { image, options } => nodemcu::Job::Flash {
                    image,
                    accept: options.accept,
                },
                Job::Accept => nodemcu::Job::Accept,
                Job::Rollback => nodemcu::Job::Rollback,
                _ => return Err(unsupported()),
            };
            let fast_baud = options.line_baud.map(|console| nodemcu::FastBaud {
                console,
                fast: options.write_baud.unwrap_or(NODEMCU_WRITE_BAUD),
            });
            let config = NodeMcuConfig {
                fast_baud: fast_baud.filter(|f| f.fast != f.console),
                ..NodeMcuConfig::default()
            };
            Box::new(NodeMcuSession::start(now, job, config))
        }
        Family::McuBoot => {
            let job = match job {
                Job::Identify => mcuboot_smp::Job::Inspect,
                Job::Flash { image, options } => mcuboot_smp::Job::Flash {
                    image,
                    accept: options.accept,
                },
                Job::Accept => mcuboot_smp::Job::Confirm,
                Job::Rollback => mcuboot_smp::Job::Test { hash: None },
                Job::EraseUpdateSlot => mcuboot_smp::Job::Erase { slot: 1 },
                _ => return Err(unsupported()),
            };
            Box::new(McuBootSmp::start(now, job, SmpConfig::default()))
        }
        Family::Pycom => match job {
            Job::Identify => Box::new(PycomFirmware::start(now, None, flow)),
            Job::Flash { image, .. } => Box::new(PycomFirmware::start(now, Some(image), flow)),
            Job::Files { files, delete } => Box::new(PycomFiles::start(now, files, delete, flow)),
            _ => return Err(unsupported()),
        },
        Family::EspRom => Box::new(open_esp_rom(job, options, now)?),
        // A DFU session finds its device again itself (detach, manifestation).
        Family::Dfu => return Ok(Noted::wrap(notes, Box::new(open_dfu(job, options, now)?))),
        Family::MicroPython => return Err(unsupported()),
    };
    let machine = Box::new(Reconnecting::new(machine, RECONNECT_TIMEOUT));
    Ok(Noted::wrap(notes, machine))
}

/// What a backup of a module of `family` can read (before a flash overwrites it): for a USB
/// device with the interfaces `usb`, or from the slots in `state` as last read. Empty when the
/// family cannot read its flash back, or before its slots were read.
pub fn backup_regions(
    family: Family,
    usb: &[crate::session::UsbAlt],
    state: Option<&PartitionState>,
) -> Vec<BackupRegion> {
    if !family.capabilities().jobs.contains(&JobKind::ReadBack) {
        return Vec::new();
    }
    match family {
        Family::Dfu => dfu::backup_region(usb).into_iter().collect(),
        _ => state.map(crate::backup::slot_regions).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests;
