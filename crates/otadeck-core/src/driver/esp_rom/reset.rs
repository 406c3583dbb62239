//! Resetting an ESP chip into its serial loader (or back into the app) with the DTR and RTS
//! lines, as esptool does. On the usual boards RTS drives EN (reset) and DTR drives IO0 (boot
//! mode), both inverted: an *asserted* line pulls its pin low.
//!
//! The sequences are data. A session hands them out one [`SignalStep`] at a time through
//! [`crate::session::Next::Signals`]; the pump sets the lines at once when it gets a step,
//! and the session itself waits the step's `hold` (through `poll_timeout`) before the next.
//! A pseudo-terminal or a WebSocket bridge has no modem lines: pumps for those ignore the steps.

use std::time::Duration;

pub use crate::session::SignalStep;

const fn step(dtr: Option<bool>, rts: Option<bool>, hold_ms: u64) -> SignalStep {
    SignalStep {
        dtr,
        rts,
        hold: Duration::from_millis(hold_ms),
    }
}

/// Which reset a session performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetKind {
    /// USB-UART bridge boards (esptool's `ClassicReset`): EN low with IO0 high, then IO0 low as
    /// EN rises, then IO0 released.
    Classic,
    /// Chips with the built-in USB-JTAG-serial peripheral (esptool's `USBJTAGSerialReset`), which
    /// goes through (1,1) rather than (0,0).
    UsbJtagSerial,
    /// Reset into the application: pulse EN only (esptool's `HardReset`).
    Hard,
}

/// esptool's `ClassicReset` with its default 50 ms reset delay.
pub const CLASSIC: &[SignalStep] = &[
    step(Some(false), Some(true), 100),
    step(Some(true), Some(false), 50),
    step(Some(false), None, 0),
];

/// esptool's `USBJTAGSerialReset`.
pub const USB_JTAG_SERIAL: &[SignalStep] = &[
    step(Some(false), Some(false), 100),
    step(Some(true), Some(false), 100),
    step(Some(false), Some(true), 100),
    step(Some(false), Some(false), 0),
];

/// esptool's `HardReset`: EN low for 100 ms.
pub const HARD: &[SignalStep] = &[step(None, Some(true), 100), step(None, Some(false), 0)];

impl ResetKind {
    /// The steps of this reset, in order.
    pub fn steps(self) -> &'static [SignalStep] {
        match self {
            ResetKind::Classic => CLASSIC,
            ResetKind::UsbJtagSerial => USB_JTAG_SERIAL,
            ResetKind::Hard => HARD,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays a sequence on the inverted EN/IO0 wiring: (EN high, IO0 high) per step.
    fn pins(steps: &[SignalStep]) -> Vec<(bool, bool)> {
        let (mut dtr, mut rts) = (false, false);
        steps
            .iter()
            .map(|s| {
                dtr = s.dtr.unwrap_or(dtr);
                rts = s.rts.unwrap_or(rts);
                (!rts, !dtr)
            })
            .collect()
    }

    #[test]
    fn classic_reset_releases_en_while_io0_is_low() {
        assert_eq!(
            pins(CLASSIC),
            vec![(false, true), (true, false), (true, true)]
        );
        let total: Duration = CLASSIC.iter().map(|s| s.hold).sum();
        assert_eq!(total, Duration::from_millis(150));
    }

    #[test]
    fn usb_jtag_reset_ends_with_both_lines_released() {
        let p = pins(USB_JTAG_SERIAL);
        assert_eq!(p[1], (true, false), "IO0 low before the reset");
        assert_eq!(p[2], (false, true), "EN low");
        assert_eq!(*p.last().unwrap(), (true, true));
    }
}
