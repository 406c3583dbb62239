//! The demo STM32: the simulated DfuSe loader, in the demo's host like the serial modules,
//! reached through the same [`Connection`](crate::transport::Connection) calls as a WebUSB
//! device, on the host's clock (its `bwPollTimeout` waits, erase times and re-enumeration take
//! real time).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use otadeck_core::session::{ControlTransfer, TransferError, UsbAlt};

use super::wire::{DemoCommand, DemoSpec, UsbAnswer, UsbRequest};
use super::Line;
use crate::clock::now;
use crate::transport::Inbox;

/// How often the demo looks whether the device is back on the bus.
const REDISCOVER_EVERY: Duration = Duration::from_millis(100);

/// What the page last heard of the device.
#[derive(Default)]
struct Seen {
    alts: Vec<UsbAlt>,
    vendor: u16,
    product: u16,
}

/// A link to the demo STM32.
#[derive(Clone)]
pub struct DemoUsbTransport {
    line: Rc<Line>,
    seen: Rc<RefCell<Seen>>,
    inbox: Inbox,
}

impl DemoUsbTransport {
    /// Plug in the demo STM32, waiting in its DfuSe loader with an older application in flash;
    /// why not, when its host cannot start.
    pub async fn open() -> Result<Self, String> {
        let spec = DemoSpec::Stm32Dfu;
        let (line, epoch, inbox) = Line::open(&spec);
        line.send(&DemoCommand::Open {
            module: spec,
            baud: 0,
            epoch,
        });
        let demo = DemoUsbTransport {
            line,
            seen: Rc::default(),
            inbox,
        };
        match demo.ask(UsbRequest::Present).await {
            Some(_) => Ok(demo),
            None => Err(demo.line.broken.borrow().clone().unwrap_or_default()),
        }
    }

    /// True when the device's host stopped for good (a new one must be plugged in).
    pub fn broken(&self) -> bool {
        self.line.broken.borrow().is_some()
    }

    async fn ask(&self, request: UsbRequest) -> Option<UsbAnswer> {
        let answer = self.line.usb(request).await?;
        *self.seen.borrow_mut() = Seen {
            alts: answer.alts.clone(),
            vendor: answer.vendor,
            product: answer.product,
        };
        Some(answer)
    }

    /// Its interfaces, as last heard.
    pub fn interfaces(&self) -> Vec<UsbAlt> {
        self.seen.borrow().alts.clone()
    }

    /// One control transfer; yields to the page first, as a real USB transfer does.
    pub async fn control(&self, t: &ControlTransfer) -> Result<Vec<u8>, TransferError> {
        gloo::timers::future::sleep(Duration::ZERO).await;
        match self.ask(UsbRequest::Control(t.clone())).await {
            Some(UsbAnswer {
                result: Some(result),
                ..
            }) => result,
            _ => Err(TransferError::Disconnected),
        }
    }

    /// Reset when asked, then wait for the device to be back on the bus until `until`.
    pub async fn reconnect(&self, reset: bool, until: Duration) -> Option<Vec<UsbAlt>> {
        if reset {
            self.ask(UsbRequest::Reset).await?;
        }
        loop {
            let answer = self.ask(UsbRequest::Present).await?;
            if answer.present {
                return Some(answer.alts);
            }
            if now() >= until {
                return None;
            }
            gloo::timers::future::sleep(REDISCOVER_EVERY).await;
        }
    }

    /// Where received bytes would arrive (only the reason, should its host stop).
    pub fn inbox(&self) -> Inbox {
        self.inbox.clone()
    }

    /// For the header.
    pub fn describe(&self) -> String {
        let seen = self.seen.borrow();
        format!(
            "Demo STM32 DFU (USB {:04x}:{:04x})",
            seen.vendor, seen.product
        )
    }
}
