//! Runs a host-side [`Machine`] against a simulated USB DFU device on a virtual clock, through
//! the core's sync [`Pump`], as the browser does over WebUSB. Each control transfer costs the
//! time a full-speed bus takes for it.

use std::time::Duration;

use otadeck_core::pump::{Port, PortError};
use otadeck_core::session::{
    ControlTransfer, Machine, SignalStep, TransferData, TransferError, UsbAlt,
};

use crate::dfu::DfuDevice;
use crate::harness::{turn_to_end, Run};

/// Time of one control transfer on full-speed USB: a setup and status stage in about a frame,
/// and data at about 1 MB/s (64-byte packets).
pub fn transfer_time(t: &ControlTransfer) -> Duration {
    let bytes = match &t.data {
        TransferData::Out(d) => d.len(),
        TransferData::In(n) => usize::from(*n),
    };
    Duration::from_micros(1000 + bytes as u64)
}

/// A [`Port`] onto a simulated DFU device.
pub struct UsbSimPort<'a> {
    /// The device.
    pub device: &'a mut DfuDevice,
    /// From this many control transfers on, every transfer fails this way (a pulled cable:
    /// `Disconnected`; a device that refuses everything: `Stall`).
    pub fail_after: Option<(u64, TransferError)>,
    now: Duration,
    end: Duration,
}

impl<'a> UsbSimPort<'a> {
    /// The device from `start`, for at most `limit` of virtual time.
    pub fn new(device: &'a mut DfuDevice, start: Duration, limit: Duration) -> Self {
        UsbSimPort {
            device,
            fail_after: None,
            now: start,
            end: start + limit,
        }
    }
}

impl Port for UsbSimPort<'_> {
    fn now(&mut self) -> Duration {
        self.now
    }

    fn write(&mut self, _bytes: &[u8]) -> Result<(), PortError> {
        Err(PortError::Gone(
            "a USB DFU device has no serial line".into(),
        ))
    }

    fn set_signals(&mut self, _step: SignalStep) -> Result<(), PortError> {
        Err(PortError::Gone(
            "a USB DFU device has no modem lines".into(),
        ))
    }

    fn set_baud(&mut self, _baud: u32) -> Result<(), PortError> {
        Err(PortError::Gone("a USB DFU device has no baud rate".into()))
    }

    fn control(&mut self, t: &ControlTransfer) -> Result<Vec<u8>, TransferError> {
        self.now += transfer_time(t);
        if let Some((n, error)) = self.fail_after.clone() {
            if self.device.transfers >= n {
                return Err(error);
            }
        }
        self.device.control(self.now, t)
    }

    fn reconnect(
        &mut self,
        reset: bool,
        until: Duration,
    ) -> Result<Option<Vec<UsbAlt>>, PortError> {
        if self
            .fail_after
            .as_ref()
            .is_some_and(|(n, _)| self.device.transfers >= *n)
        {
            return Err(PortError::Gone("the device is gone".into()));
        }
        if reset {
            self.device.usb_reset(self.now);
        }
        match self.device.back_at() {
            Some(back) if back > until.min(self.end) => {
                self.now = until.min(self.end).max(self.now);
                Ok(None)
            }
            back => {
                self.now = back.unwrap_or(self.now).max(self.now);
                self.device.present(self.now);
                Ok(Some(self.device.alts()))
            }
        }
    }

    fn read(&mut self, deadline: Option<Duration>, _buf: &mut Vec<u8>) -> Result<(), PortError> {
        if self.now >= self.end {
            return Err(PortError::Stopped);
        }
        self.now = deadline.unwrap_or(self.end).min(self.end).max(self.now);
        Ok(())
    }
}

/// Drive `machine` against `device` until it finishes or `limit` of virtual time passes.
pub fn run_usb<M: Machine>(machine: &mut M, device: &mut DfuDevice, limit: Duration) -> Run {
    let mut port = UsbSimPort::new(device, Duration::ZERO, limit);
    let (events, result) = turn_to_end(machine, &mut port, |_, _| {});
    Run {
        events,
        result,
        elapsed: port.now,
        steps: Vec::new(),
    }
}
