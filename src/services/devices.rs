//! The devices the page holds, and the session log they share. Today the technician works on
//! one device at a time; each connected module has its own [`DeviceSession`].

use super::device::DeviceHandle;
use super::log::SessionLog;
use super::store::Store;

/// The devices service, provided to every component as a context.
#[derive(Clone, PartialEq)]
pub struct Devices {
    list: Store<Vec<DeviceHandle>>,
    log: SessionLog,
}

impl Default for Devices {
    fn default() -> Self {
        let log = SessionLog::default();
        Devices {
            list: Store::new(vec![DeviceHandle::new(log.clone())]),
            log,
        }
    }
}

impl Devices {
    /// The device the pages work on.
    pub fn current(&self) -> DeviceHandle {
        self.list.get()[0].clone()
    }

    /// Every device, watched by components that list them.
    pub fn list(&self) -> &Store<Vec<DeviceHandle>> {
        &self.list
    }

    /// The session log of every device.
    pub fn log(&self) -> &SessionLog {
        &self.log
    }
}
