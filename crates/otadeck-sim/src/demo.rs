//! The demo module: any of the simulated families behind one type, so the browser's demo line
//! and the CLI can offer a choice.

use std::time::Duration;

use crate::esp32_mp::{self, Esp32Config, Esp32MicroPython};
use crate::firmware::demo_running_image;
use crate::line::Device;
use crate::mp_repl::{RawPasteSupport, ReplDevice};
use crate::nodemcu::{NodeMcu, NodeMcuConfig};
use crate::pycom::{self, Pycom, PycomConfig};
use crate::quecpython::{self, QuecPython, QuecPythonConfig};

/// The families a demo module can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DemoFamily {
    /// A Quectel module running QuecPython.
    QuecPython,
    /// An ESP32 board running MicroPython.
    Esp32MicroPython,
    /// A Pycom board.
    Pycom,
    /// An ESP32 board running NodeMCU (Lua).
    NodeMcu,
}

impl DemoFamily {
    /// Every family, in the order a menu offers them.
    pub const ALL: [DemoFamily; 4] = [
        DemoFamily::QuecPython,
        DemoFamily::Esp32MicroPython,
        DemoFamily::Pycom,
        DemoFamily::NodeMcu,
    ];

    /// A short stable key (for menus and URLs).
    pub fn key(self) -> &'static str {
        match self {
            DemoFamily::QuecPython => "quecpython",
            DemoFamily::Esp32MicroPython => "micropython-esp32",
            DemoFamily::Pycom => "pycom",
            DemoFamily::NodeMcu => "nodemcu",
        }
    }

    /// The family for a key.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.key() == key)
    }

    /// What a menu shows.
    pub fn label(self) -> &'static str {
        match self {
            DemoFamily::QuecPython => "QuecPython module (EC600U)",
            DemoFamily::Esp32MicroPython => "ESP32 board with MicroPython",
            DemoFamily::Pycom => "Pycom board (FiPy)",
            DemoFamily::NodeMcu => "ESP32 board with NodeMCU (Lua)",
        }
    }
}

/// A simulated module of any family, running the demo firmware.
#[derive(Debug)]
pub enum DemoModule {
    /// See [`DemoFamily::QuecPython`].
    QuecPython(ReplDevice<QuecPython>),
    /// See [`DemoFamily::Esp32MicroPython`].
    Esp32MicroPython(ReplDevice<Esp32MicroPython>),
    /// See [`DemoFamily::Pycom`].
    Pycom(ReplDevice<Pycom>),
    /// See [`DemoFamily::NodeMcu`].
    NodeMcu(NodeMcu),
}

macro_rules! each {
    ($self:expr, $d:ident => $e:expr) => {
        match $self {
            DemoModule::QuecPython($d) => $e,
            DemoModule::Esp32MicroPython($d) => $e,
            DemoModule::Pycom($d) => $e,
            DemoModule::NodeMcu($d) => $e,
        }
    };
}

impl DemoModule {
    /// A module of `family` at its friendly prompt, running the demo firmware.
    pub fn new(family: DemoFamily) -> Self {
        let fw = demo_running_image();
        let paste = RawPasteSupport::Window(128);
        match family {
            DemoFamily::QuecPython => {
                DemoModule::QuecPython(quecpython::device(QuecPythonConfig::default(), fw, paste))
            }
            DemoFamily::Esp32MicroPython => {
                DemoModule::Esp32MicroPython(esp32_mp::device(Esp32Config::default(), fw, paste))
            }
            DemoFamily::Pycom => {
                DemoModule::Pycom(pycom::device(PycomConfig::default(), fw, paste))
            }
            DemoFamily::NodeMcu => DemoModule::NodeMcu(NodeMcu::new(NodeMcuConfig::default(), fw)),
        }
    }

    /// Its family.
    pub fn family(&self) -> DemoFamily {
        match self {
            DemoModule::QuecPython(_) => DemoFamily::QuecPython,
            DemoModule::Esp32MicroPython(_) => DemoFamily::Esp32MicroPython,
            DemoModule::Pycom(_) => DemoFamily::Pycom,
            DemoModule::NodeMcu(_) => DemoFamily::NodeMcu,
        }
    }

    /// Cut the power and restore it.
    pub fn power_cycle(&mut self, now: Duration) {
        each!(self, d => d.power_cycle(now))
    }

    /// The firmware version the module runs now.
    pub fn running_version(&self) -> String {
        match self {
            DemoModule::QuecPython(d) => d.interpreter.running_version(),
            DemoModule::Esp32MicroPython(d) => d.interpreter.flash.running_version(),
            DemoModule::Pycom(d) => d.interpreter.flash.running_version(),
            DemoModule::NodeMcu(d) => d.flash.running_version(),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_each_family_boots_the_demo_firmware() {
        for f in DemoFamily::ALL {
            assert_eq!(DemoFamily::from_key(f.key()), Some(f));
            let m = DemoModule::new(f);
            assert_eq!(m.family(), f);
            assert_eq!(m.running_version(), crate::firmware::DEMO_RUNNING_VERSION);
        }
        assert_eq!(DemoFamily::from_key("nope"), None);
    }
}
