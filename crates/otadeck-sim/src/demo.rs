//! The demo module: any of the simulated families behind one type, so the browser's demo line
//! and the CLI can offer a choice.

use std::time::Duration;

use otadeck_core::family::{Family, JobKind};

use crate::esp32_mp::{self, Esp32Config, Esp32MicroPython};
use crate::esp_rom::EspRomSim;
use crate::firmware::{
    demo_running_image, quecpython_package, quecpython_running_package, quecpython_sample_package,
};
use crate::line::Device;
use crate::mcuboot::{McuBoot, McuBootConfig};
use crate::mcuboot_slots::demo_mcuboot_image;
use crate::mp_repl::{RawPasteSupport, ReplDevice};
use crate::nodemcu::{NodeMcu, NodeMcuConfig};
use crate::pycom::{self, Pycom, PycomConfig};
use crate::quecpython::{self, QuecPython, QuecPythonConfig};
use crate::quecpython_download::SimPackage;

/// The version the demo download packages carry (the second mini FOTA stage carries
/// [`DEMO_MINI_VERSION`]).
pub const DEMO_PACKAGE_VERSION: &str = crate::firmware::SAMPLE_VERSION;
/// The version the second stage of the demo mini FOTA installs.
pub const DEMO_MINI_VERSION: &str = "2.2.0-mini";
/// A package the demo QuecPython module downloads, verifies and restarts into.
pub const DEMO_PACKAGE_URL: &str = "https://fw.otadeck.example/quecpython/app-2.1.0.bin";
/// The same package over plain http (the session warns that nothing authenticates it).
pub const DEMO_PLAIN_HTTP_URL: &str = "http://fw.otadeck.example/quecpython/app-2.1.0.bin";
/// A package that arrives damaged: the module's check fails and it keeps its firmware.
pub const DEMO_CORRUPT_URL: &str = "https://fw.otadeck.example/quecpython/app-2.1.0-corrupt.bin";
/// A URL the server answers with 404: the download fails with status 3, code 404.
pub const DEMO_MISSING_URL: &str = "https://fw.otadeck.example/quecpython/missing.bin";
/// Mini FOTA stage one (only for an EC600N-class demo module, with [`DEMO_MINI_STAGE2_URL`]).
pub const DEMO_MINI_STAGE1_URL: &str = "https://fw.otadeck.example/quecpython/mini-stage1.bin";
/// Mini FOTA stage two: installs [`DEMO_MINI_VERSION`].
pub const DEMO_MINI_STAGE2_URL: &str = "https://fw.otadeck.example/quecpython/mini-stage2.bin";

/// A URL a download demo can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoPackage {
    /// The URL, as `url1` (or `url2` for the second mini FOTA stage).
    pub url: &'static str,
    /// What a menu shows.
    pub label: &'static str,
}

/// The URLs the demo QuecPython module's simulated network serves, in menu order.
pub const DEMO_PACKAGES: [DemoPackage; 6] = [
    DemoPackage {
        url: DEMO_PACKAGE_URL,
        label: "Firmware 2.1.0 (https)",
    },
    DemoPackage {
        url: DEMO_PLAIN_HTTP_URL,
        label: "Firmware 2.1.0 over plain http",
    },
    DemoPackage {
        url: DEMO_CORRUPT_URL,
        label: "A damaged package (fails the module's check)",
    },
    DemoPackage {
        url: DEMO_MISSING_URL,
        label: "A missing package (404)",
    },
    DemoPackage {
        url: DEMO_MINI_STAGE1_URL,
        label: "Mini FOTA stage 1 (EC600N-class modules)",
    },
    DemoPackage {
        url: DEMO_MINI_STAGE2_URL,
        label: "Mini FOTA stage 2, installs 2.2.0-mini",
    },
];

/// The demo QuecPython module's settings for `model` (EC600U in the browser demo; EC600N and
/// the other mini FOTA models restart by themselves and take the mini FOTA pair), serving
/// [`DEMO_PACKAGES`].
pub fn quecpython_demo_config(model: &str) -> QuecPythonConfig {
    let mut corrupt = quecpython_sample_package();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0x5a;
    QuecPythonConfig {
        model: model.into(),
        packages: vec![
            SimPackage::serving(DEMO_PACKAGE_URL, quecpython_sample_package()),
            SimPackage::serving(DEMO_PLAIN_HTTP_URL, quecpython_sample_package()),
            SimPackage::serving(DEMO_CORRUPT_URL, corrupt),
            SimPackage::failing(DEMO_MISSING_URL, 3, 404),
            SimPackage::serving(
                DEMO_MINI_STAGE1_URL,
                quecpython_package("mini-system", 24 * 1024),
            ),
            SimPackage::serving(
                DEMO_MINI_STAGE2_URL,
                quecpython_package(DEMO_MINI_VERSION, 80 * 1024),
            ),
        ],
        // Slow enough that the progress bar is seen moving (about 4 s for the 2.1.0 package).
        download_rate: 24 * 1024,
        ..QuecPythonConfig::default()
    }
}

/// The demo firmware as an MCUboot image, at `version` (`major.minor.revision`).
pub(crate) fn mcuboot_image(version: &str) -> Vec<u8> {
    let mut parts = version.split('.').map(|p| p.parse::<u16>().unwrap_or(0));
    let (major, minor, revision) = (
        parts.next().unwrap_or(0) as u8,
        parts.next().unwrap_or(0) as u8,
        parts.next().unwrap_or(0),
    );
    demo_mcuboot_image((major, minor, revision), crate::firmware::SAMPLE_BODY_LEN)
}

/// What the demo module offers for each family of the core's registry.
pub trait DemoFamily {
    /// What the demo menu shows.
    fn demo_label(self) -> &'static str;
    /// URLs the demo module can download by itself (module-side FOTA); empty for families that
    /// only take an image from the host.
    fn download_packages(self) -> &'static [DemoPackage];
    /// The sample image this family takes: the demo firmware at
    /// [`crate::firmware::SAMPLE_VERSION`], in the family's image format.
    fn sample_image(self) -> Vec<u8>;
    /// What the sample is called where the page offers it.
    fn sample_name(self) -> String;
}

impl DemoFamily for Family {
    fn demo_label(self) -> &'static str {
        match self {
            Family::QuecPython => "QuecPython module (EC600U)",
            Family::Esp32MicroPython => "ESP32 board with MicroPython",
            Family::Pycom => "Pycom board (FiPy)",
            Family::NodeMcu => "ESP32 board with NodeMCU (Lua)",
            Family::McuBoot => "Zephyr board with MCUboot (SMP)",
            Family::EspRom => "ESP32 in its bootloader (ROM loader)",
            Family::MicroPython => "MicroPython board",
            Family::Dfu => "STM32 in its USB DFU loader (DfuSe)",
        }
    }

    fn download_packages(self) -> &'static [DemoPackage] {
        if self.can(JobKind::Download) {
            &DEMO_PACKAGES
        } else {
            &[]
        }
    }

    fn sample_name(self) -> String {
        match self {
            Family::Dfu => "sample STM32 application (.dfu, 2 elements)".into(),
            _ => format!("sample firmware {}", crate::firmware::SAMPLE_VERSION),
        }
    }

    fn sample_image(self) -> Vec<u8> {
        match self {
            Family::McuBoot => mcuboot_image(crate::firmware::SAMPLE_VERSION),
            Family::QuecPython => quecpython_sample_package(),
            Family::Dfu => dfu_sample_file(),
            _ => crate::firmware::sample_image(),
        }
    }
}

/// A demo STM32 application as a DfuSe file for the simulated STM32: the image at the start of its
/// flash, and its first KiB again at the first 128 KiB sector (two elements).
pub fn dfu_sample_file() -> Vec<u8> {
    let image = crate::dfu::stm32_image(crate::firmware::SAMPLE_BODY_LEN);
    let tail = &image[..1024.min(image.len())];
    otadeck_core::driver::dfu::segments::make_dfuse(
        0,
        &[(0x0800_0000, &image), (0x0802_0000, tail)],
        crate::dfu::ST_VENDOR,
        crate::dfu::ST_DFU_PRODUCT,
    )
}

/// A simulated module of any family, running the demo firmware.
#[derive(Debug)]
pub enum DemoModule {
    /// See [`Family::QuecPython`].
    QuecPython(ReplDevice<QuecPython>),
    /// See [`Family::Esp32MicroPython`].
    Esp32MicroPython(ReplDevice<Esp32MicroPython>),
    /// See [`Family::Pycom`].
    Pycom(ReplDevice<Pycom>),
    /// See [`Family::NodeMcu`].
    NodeMcu(NodeMcu),
    /// See [`Family::McuBoot`].
    McuBoot(McuBoot),
    /// See [`Family::EspRom`].
    EspRom(Box<EspRomSim>),
}

macro_rules! each {
    ($self:expr, $d:ident => $e:expr) => {
        match $self {
            DemoModule::QuecPython($d) => $e,
            DemoModule::Esp32MicroPython($d) => $e,
            DemoModule::Pycom($d) => $e,
            DemoModule::NodeMcu($d) => $e,
            DemoModule::McuBoot($d) => $e,
            DemoModule::EspRom($d) => $e,
        }
    };
}

impl DemoModule {
    /// The module with its console UART (NodeMCU's) running at `baud` from boot on, so that
    /// the demo answers at the rate the page connects at.
    pub fn with_console_baud(mut self, baud: u32) -> Self {
        if let DemoModule::NodeMcu(board) = &mut self {
            board.set_console_baud(baud);
        }
        self
    }

    /// A module of `family` at its friendly prompt, running the demo firmware (a family with
    /// no update driver gets an ESP32 MicroPython board).
    pub fn new(family: Family) -> Self {
        let fw = demo_running_image();
        let paste = RawPasteSupport::Window(128);
        match family {
            Family::QuecPython => DemoModule::QuecPython(quecpython::device(
                quecpython_demo_config("EC600U"),
                quecpython_running_package(),
                paste,
            )),
            // A USB DFU device has no serial line: its simulator is [`crate::dfu::DfuDevice`].
            Family::Esp32MicroPython | Family::MicroPython | Family::Dfu => {
                DemoModule::Esp32MicroPython(esp32_mp::device(Esp32Config::default(), fw, paste))
            }
            Family::Pycom => DemoModule::Pycom(pycom::device(PycomConfig::default(), fw, paste)),
            Family::NodeMcu => DemoModule::NodeMcu(NodeMcu::new(NodeMcuConfig::default(), fw)),
            Family::McuBoot => DemoModule::McuBoot(McuBoot::new(
                McuBootConfig::default(),
                mcuboot_image(crate::firmware::DEMO_RUNNING_VERSION),
            )),
            Family::EspRom => DemoModule::EspRom(Box::default()),
        }
    }

    /// Its family.
    pub fn family(&self) -> Family {
        match self {
            DemoModule::QuecPython(_) => Family::QuecPython,
            DemoModule::Esp32MicroPython(_) => Family::Esp32MicroPython,
            DemoModule::Pycom(_) => Family::Pycom,
            DemoModule::NodeMcu(_) => Family::NodeMcu,
            DemoModule::McuBoot(_) => Family::McuBoot,
            DemoModule::EspRom(_) => Family::EspRom,
        }
    }

    /// Cut the power and restore it.
    pub fn power_cycle(&mut self, now: Duration) {
        match self {
            // Back in its loader: the demo chip's boot pin is held for download mode.
            DemoModule::EspRom(d) => {
                d.power_cut();
                d.power_on();
            }
            DemoModule::QuecPython(d) => d.power_cycle(now),
            DemoModule::Esp32MicroPython(d) => d.power_cycle(now),
            DemoModule::Pycom(d) => d.power_cycle(now),
            DemoModule::NodeMcu(d) => d.power_cycle(now),
            DemoModule::McuBoot(d) => d.power_cycle(now),
        }
    }

    /// The firmware version the module runs now.
    pub fn running_version(&self) -> String {
        match self {
            DemoModule::QuecPython(d) => d.interpreter.running_version(),
            DemoModule::Esp32MicroPython(d) => d.interpreter.flash.running_version(),
            DemoModule::Pycom(d) => d.interpreter.flash.running_version(),
            DemoModule::NodeMcu(d) => d.flash.running_version(),
            DemoModule::McuBoot(d) => d.running_version().unwrap_or_default(),
            DemoModule::EspRom(d) => d
                .boot_choice()
                .and_then(|slot| d.slot_version(&slot))
                .unwrap_or_default(),
        }
    }
}

impl Device for DemoModule {
    fn receive(&mut self, now: Duration, data: &[u8]) {
        each!(self, d => d.receive(now, data))
    }
    fn transmit(&mut self, now: Duration) -> Vec<u8> {
        each!(self, d => d.transmit(now))
    }
    fn next_wakeup(&self) -> Option<Duration> {
        each!(self, d => d.next_wakeup())
    }
    fn tick(&mut self, now: Duration) {
        each!(self, d => d.tick(now))
    }
    fn hard_resets(&self) -> u64 {
        each!(self, d => d.hard_resets())
    }

    fn uart_rate(&self) -> Option<u32> {
        each!(self, d => d.uart_rate())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_boots_the_demo_firmware() {
        for f in Family::ALL {
            let m = DemoModule::new(f);
            assert_eq!(m.family(), f);
            assert_eq!(m.running_version(), crate::firmware::DEMO_RUNNING_VERSION);
        }
    }

    #[test]
    fn each_family_admits_its_own_sample_and_no_other() {
        use otadeck_core::admission::{admit, Policy};
        let policy = Policy::default();
        for f in Family::ALL {
            assert!(admit(f, &f.sample_image(), None, &policy).is_ok(), "{f:?}");
        }
        let quec = Family::QuecPython.sample_image();
        for f in [Family::Esp32MicroPython, Family::McuBoot, Family::NodeMcu] {
            assert!(admit(f, &quec, None, &policy).is_err(), "{f:?}");
        }
        for other in [Family::EspRom, Family::McuBoot] {
            let image = other.sample_image();
            assert!(
                admit(Family::QuecPython, &image, None, &policy).is_err(),
                "{other:?}"
            );
        }
    }
}
