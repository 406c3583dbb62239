//! The demo STM32: the simulated DfuSe loader running in the page, reached through the same
//! [`Connection`](super::Connection) calls as a WebUSB device, on the page's clock (its
//! `bwPollTimeout` waits, erase times and re-enumeration take real time).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use otadeck_core::session::{ControlTransfer, TransferError, UsbAlt};
use otadeck_sim::dfu::DfuDevice;

use super::Inbox;
use crate::clock::now;

/// How often the demo looks whether the device is back on the bus.
const REDISCOVER_EVERY: Duration = Duration::from_millis(100);

/// A link to the in-page DfuSe device.
#[derive(Clone)]
pub struct DemoUsbTransport {
    device: Rc<RefCell<DfuDevice>>,
    inbox: Inbox,
    _idle: Rc<futures::channel::mpsc::UnboundedSender<super::Chunk>>,
}

impl DemoUsbTransport {
    /// Plug in `device`.
    pub fn open(device: DfuDevice) -> Self {
        let (tx, inbox) = Inbox::channel();
        DemoUsbTransport {
            device: Rc::new(RefCell::new(device)),
            inbox,
            _idle: Rc::new(tx),
        }
    }

    /// The simulated device (tests and the demo read its flash).
    pub fn device(&self) -> Rc<RefCell<DfuDevice>> {
        self.device.clone()
    }

    /// Its interfaces now.
    pub fn interfaces(&self) -> Vec<UsbAlt> {
        self.device.borrow().alts()
    }

    /// One control transfer; yields to the page first, as a real USB transfer does.
    pub async fn control(&self, t: &ControlTransfer) -> Result<Vec<u8>, TransferError> {
        gloo::timers::future::sleep(Duration::ZERO).await;
        self.device.borrow_mut().control(now(), t)
    }

    /// Reset when asked, then wait for the device to be back on the bus until `until`.
    pub async fn reconnect(&self, reset: bool, until: Duration) -> Option<Vec<UsbAlt>> {
        if reset {
            self.device.borrow_mut().usb_reset(now());
        }
        loop {
            if self.device.borrow_mut().present(now()) {
                return Some(self.interfaces());
            }
            if now() >= until {
                return None;
            }
            gloo::timers::future::sleep(REDISCOVER_EVERY).await;
        }
    }

    /// Where received bytes would arrive (never).
    pub fn inbox(&self) -> Inbox {
        self.inbox.clone()
    }

    /// For the header.
    pub fn describe(&self) -> String {
        let d = self.device.borrow();
        format!("Demo STM32 DFU (USB {:04x}:{:04x})", d.vendor, d.product())
    }
}
