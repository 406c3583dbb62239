//! The USB DfuSe row of the fault matrix: the demo STM32 in its system loader, flashed with the
//! sample `.dfu` file over the simulated USB bus. A DFU device has one application and no second
//! slot: a write cut short leaves an incomplete application, and what keeps the device usable is
//! its ROM loader. Such a cell reads `loader`: it passes when the device still answers in its
//! loader (a new flash reaches it) and the message says to flash it again. A cut once the
//! application is written and read back leaves it whole, and the message says so.

use std::time::Duration;

use otadeck_core::admission::Policy;
use otadeck_core::family::{self, Family, FlashOptions, Job, OpenOptions};
use otadeck_core::session::{Machine, TransferError};

use super::{names_step_and_byte, record_kept, Cell, Fault, Verdict};
use crate::demo::{dfu_sample_file, DemoFamily};
use crate::dfu::{DfuDevice, DfuFault};
use crate::harness::{turn_to_end, Run};
use crate::usb_harness::UsbSimPort;

const LIMIT: Duration = Duration::from_secs(600);
/// Where the sample's first element goes.
const FLASH: u32 = 0x0800_0000;

fn machine(device: &DfuDevice, image: Vec<u8>) -> Result<Box<dyn Machine>, String> {
    let options = OpenOptions {
        usb: device.alts(),
        policy: Policy::default(),
        ..OpenOptions::default()
    };
    let job = Job::Flash {
        image,
        options: FlashOptions::default(),
    };
    family::open(Family::Dfu, job, options, Duration::ZERO).map_err(|e| e.to_string())
}

/// Run `machine` on `device`; `fire` once `at` control transfers were made.
fn drive(
    device: &mut DfuDevice,
    machine: &mut Box<dyn Machine>,
    fail_after: Option<(u64, TransferError)>,
    cancel_at: Option<u64>,
) -> Run {
    let mut port = UsbSimPort::new(device, Duration::ZERO, LIMIT);
    port.fail_after = fail_after;
    let mut cancelled = false;
    let (events, result) = turn_to_end(machine, &mut port, |m, p| {
        if let Some(at) = cancel_at {
            if !cancelled && p.device.transfers >= at {
                cancelled = true;
                m.cancel(otadeck_core::pump::Port::now(p));
            }
        }
    });
    Run {
        events,
        result,
        elapsed: Duration::ZERO,
        steps: Vec::new(),
    }
}

/// Control transfers a fault-free flash makes.
pub fn clean_transfers() -> Result<u64, String> {
    let mut device = DfuDevice::stm32();
    let mut m = machine(&device, dfu_sample_file())?;
    let run = drive(&mut device, &mut m, None, None);
    match run.result {
        Some(Ok(_)) => Ok(device.transfers),
        other => Err(format!("the fault-free flash did not succeed: {other:?}")),
    }
}

/// Run `fault` against the demo STM32, whose fault-free flash makes `total` transfers.
pub fn run_cell(fault: Fault, total: u64) -> Cell {
    let mut device = DfuDevice::stm32();
    let at = |p: u64| total * p / 100;
    let (mut fail_after, mut cancel_at) = (None, None);
    let mut image = dfu_sample_file();
    match fault {
        Fault::Drop(p) => fail_after = Some((at(u64::from(p)), TransferError::Disconnected)),
        // USB has its own CRC: a byte corrupted on the bus is sent again by the host controller,
        // so what is left is a byte the flash stores wrong, which the read back meets.
        Fault::Corrupt => device.fault = Some(DfuFault::CorruptAt(5000)),
        // The flash refuses a block halfway through (errWRITE).
        Fault::FlashFails => {
            device.fault = Some(DfuFault::BlockFails {
                n: 24,
                status: 0x03,
            })
        }
        // From halfway on the device refuses every request.
        Fault::Stall => fail_after = Some((at(50), TransferError::Stall)),
        Fault::PowerCut => fail_after = Some((at(50), TransferError::Disconnected)),
        Fault::Cancel => cancel_at = Some(at(50)),
        Fault::WrongImage => image = Family::McuBoot.sample_image(),
    }
    let cell = |verdict: Verdict, note: String| Cell {
        family: Family::Dfu,
        fault,
        verdict,
        note,
    };
    let mut m = match machine(&device, image.clone()) {
        Ok(m) => m,
        Err(why) => {
            let untouched = device.transfers == 0;
            let verdict = if untouched {
                Verdict::Ok
            } else {
                Verdict::Fail
            };
            return cell(verdict, format!("refused before sending: {why}"));
        }
    };
    let run = drive(&mut device, &mut m, fail_after, cancel_at);
    let kept = record_kept(Family::Dfu, &run);
    let sample = crate::dfu::stm32_image(crate::firmware::SAMPLE_BODY_LEN);
    let holds_new = device.read(FLASH, sample.len()) == sample.as_slice();
    match &run.result {
        Some(Ok(_)) => {
            let verdict = if holds_new && kept {
                Verdict::Ok
            } else {
                Verdict::Fail
            };
            cell(
                verdict,
                format!("went through; the new application is in place: {holds_new}"),
            )
        }
        Some(Err(e)) => {
            let text = e.to_string();
            let named = names_step_and_byte(e);
            // After a cut the device is plugged in again: it comes back in its loader.
            let reachable = device.in_loader();
            let nothing_written = text.contains("nothing was written");
            let says_flash_again = text.contains("flash it again");
            // Written and read back before the cut: the application is whole, and the
            // message says it is there.
            let whole = holds_new && text.contains("holds the new application");
            let verdict = match (named && kept, reachable, nothing_written || whole) {
                (true, true, true) => Verdict::Ok,
                (true, true, false) if says_flash_again => Verdict::Loader,
                _ => Verdict::Fail,
            };
            cell(verdict, text)
        }
        None => cell(Verdict::Fail, "the session never finished".into()),
    }
}
