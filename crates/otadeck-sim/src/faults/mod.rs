//! The fault matrix: every serial protocol's flash of the demo module, against every fault a
//! technician meets in the field. A cell passes only when, after the fault and a power cycle,
//! the module boots a valid image (its old firmware or the new one), the technician got a message
//! naming the step (and the byte, once bytes were written), and the flash's record was written
//! and reads back the same. USB DfuSe has its own row ([`dfu`]): one application and no second
//! slot, so a cut write leaves its ROM loader as what keeps it usable.

mod dfu;

use std::fmt;
use std::time::Duration;

use otadeck_core::campaign::record::{Attempt, AttemptState};
use otadeck_core::family::{self, Family, FlashOptions, Job, OpenOptions};
use otadeck_core::module::ModuleInfo;
use otadeck_core::session::{FlashError, Machine, SessionEvent, Step};

use crate::demo::{DemoFamily, DemoModule};
use crate::firmware::{DEMO_RUNNING_VERSION, SAMPLE_VERSION};
use crate::harness::{run, Run};
use crate::line::{LineFault, SimLink};

/// The families the matrix covers, in the table's order: every family with a driver, the one
/// reached over WebUSB last.
pub fn families() -> impl Iterator<Item = Family> {
    Family::ALL.into_iter().chain(Family::USB)
}

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The cable is pulled once this percentage of the flash's bytes reached the module.
    Drop(u8),
    /// One byte halfway through arrives with a bit flipped.
    Corrupt,
    /// Halfway through, the module stops reading and answering.
    Stall,
    /// Halfway through, the power is cut and comes back.
    PowerCut,
    /// Halfway through, the technician presses Cancel.
    Cancel,
    /// Halfway through, the module's flash fails a write or stores a byte wrong (the module's
    /// own check must catch it).
    FlashFails,
    /// The image is for another family.
    WrongImage,
}

/// Every fault, in the table's order.
pub const FAULTS: [Fault; 9] = [
    Fault::Drop(10),
    Fault::Drop(50),
    Fault::Drop(99),
    Fault::Corrupt,
    Fault::Stall,
    Fault::PowerCut,
    Fault::Cancel,
    Fault::FlashFails,
    Fault::WrongImage,
];

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Drop(p) => write!(f, "drop {p}%"),
            Fault::Corrupt => f.write_str("1 byte"),
            Fault::Stall => f.write_str("stall"),
            Fault::PowerCut => f.write_str("power"),
            Fault::Cancel => f.write_str("cancel"),
            Fault::FlashFails => f.write_str("flash err"),
            Fault::WrongImage => f.write_str("wrong img"),
        }
    }
}

/// How a cell came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The module boots a valid image, the message names the step and byte, the record reads
    /// back.
    Ok,
    /// A one-application device (USB DFU): its application is incomplete, it still answers in
    /// its ROM loader, and the message says to flash it again.
    Loader,
    /// Any other outcome.
    Fail,
}

impl Verdict {
    /// The word in the table.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Loader => "loader",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The protocol.
    pub family: Family,
    /// The fault.
    pub fault: Fault,
    /// How it came out.
    pub verdict: Verdict,
    /// What the technician read (or what went wrong with the cell).
    pub note: String,
}

impl Cell {
    /// The cell did not fail.
    pub fn pass(&self) -> bool {
        self.verdict != Verdict::Fail
    }
}

fn verdict(pass: bool) -> Verdict {
    if pass {
        Verdict::Ok
    } else {
        Verdict::Fail
    }
}

const LIMIT: Duration = Duration::from_secs(900);
/// Time after the power cycle for the module to boot.
const BOOT: Duration = Duration::from_secs(10);

/// The image a fault-free flash of `family` writes, and another family's image.
fn images(family: Family) -> (Vec<u8>, Vec<u8>) {
    let other = if family == Family::McuBoot {
        Family::Esp32MicroPython
    } else {
        Family::McuBoot
    };
    (family.sample_image(), other.sample_image())
}

fn module(family: Family) -> SimLink<DemoModule> {
    SimLink::new(DemoModule::new(family), 115_200)
}

/// The demo module of `family` whose flash fails about halfway through the sample image: a
/// write that raises (QuecPython, Pycom, NodeMCU, the ROM loader) or a byte stored wrong that
/// the module's own check meets (ESP32 MicroPython's hash, MCUboot's image hash).
fn failing_flash(family: Family) -> DemoModule {
    use crate::firmware::{demo_running_image, quecpython_running_package};
    use crate::mp_repl::RawPasteSupport;
    use crate::{esp32_mp, esp_rom, mcuboot, nodemcu, pycom, quecpython};
    let paste = RawPasteSupport::Window(128);
    let fw = demo_running_image();
    match family {
        Family::QuecPython => {
            let config = quecpython::QuecPythonConfig {
                fail_write_at: Some(6),
                ..crate::demo::quecpython_demo_config("EC600U")
            };
            let package = quecpython_running_package();
            DemoModule::QuecPython(quecpython::device(config, package, paste))
        }
        Family::Pycom => {
            let config = pycom::PycomConfig {
                fail_write_at: Some(6),
                ..Default::default()
            };
            DemoModule::Pycom(pycom::device(config, fw, paste))
        }
        Family::NodeMcu => {
            let config = nodemcu::NodeMcuConfig {
                fail_write: Some(270),
                ..Default::default()
            };
            DemoModule::NodeMcu(nodemcu::NodeMcu::new(config, fw))
        }
        Family::McuBoot => {
            let config = mcuboot::McuBootConfig {
                flash_fault: Some(49_000),
                ..Default::default()
            };
            let image = crate::demo::mcuboot_image(DEMO_RUNNING_VERSION);
            DemoModule::McuBoot(mcuboot::McuBoot::new(config, image))
        }
        Family::EspRom => {
            let mut chip = esp_rom::EspRomSim::new();
            // Halfway into the update slot (ota_1).
            chip.fail_write_at = Some(0x190000 + 49_152);
            DemoModule::EspRom(Box::new(chip))
        }
        _ => {
            let config = esp32_mp::Esp32Config {
                corrupt_block: Some(12),
                ..Default::default()
            };
            DemoModule::Esp32MicroPython(esp32_mp::device(config, fw, paste))
        }
    }
}

fn machine(family: Family, image: Vec<u8>) -> Result<Box<dyn Machine>, String> {
    let options = OpenOptions {
        line_baud: Some(115_200),
        ..OpenOptions::default()
    };
    let job = Job::Flash {
        image,
        options: FlashOptions::default(),
    };
    family::open(family, job, options, Duration::ZERO).map_err(|e| e.to_string())
}

/// Bytes a fault-free flash of `family` sends to the module.
pub fn clean_bytes(family: Family) -> Result<u64, String> {
    let (image, _) = images(family);
    let mut link = module(family);
    let mut m = machine(family, image)?;
    let r = run(&mut m, &mut link, Duration::ZERO, LIMIT, None);
    match r.result {
        Some(Ok(_)) => Ok(link.delivered()),
        other => Err(format!("the fault-free flash did not succeed: {other:?}")),
    }
}

/// Run `fault` against `family`, whose fault-free flash sends `total` bytes.
pub fn run_cell(family: Family, fault: Fault, total: u64) -> Cell {
    let (image, wrong) = images(family);
    let mut link = if fault == Fault::FlashFails {
        SimLink::new(failing_flash(family), 115_200)
    } else {
        module(family)
    };
    let at = |p: u64| total * p / 100;
    match fault {
        Fault::Drop(p) => link.inject(LineFault::DropAfter(at(u64::from(p)))),
        Fault::Corrupt => link.inject(LineFault::Corrupt {
            index: at(50),
            xor: 0x20,
        }),
        Fault::Stall => link.inject(LineFault::StallAfter(at(50))),
        _ => {}
    }
    let sent = if fault == Fault::WrongImage {
        wrong
    } else {
        image
    };
    let outcome = match machine(family, sent) {
        // Refused before anything was sent: that is the message.
        Err(refusal) => Outcome::Refused(refusal),
        Ok(mut m) => {
            let mut fired = false;
            let half = at(50);
            let mut hook =
                |now: Duration, m: &mut Box<dyn Machine>, l: &mut SimLink<DemoModule>| {
                    if fired || l.delivered() < half {
                        return;
                    }
                    match fault {
                        Fault::PowerCut => {
                            fired = true;
                            l.device.power_cycle(now);
                            l.replug(now);
                        }
                        Fault::Cancel => {
                            fired = true;
                            m.cancel(now);
                        }
                        _ => {}
                    }
                };
            Outcome::Ran(Box::new(run(
                &mut m,
                &mut link,
                Duration::ZERO,
                LIMIT,
                Some(&mut hook),
            )))
        }
    };
    judge(family, fault, &outcome, &mut link)
}

enum Outcome {
    Refused(String),
    Ran(Box<Run>),
}

/// The cell's verdict: the module boots a valid image, the message names the step and byte, and
/// the record was written.
fn judge(family: Family, fault: Fault, outcome: &Outcome, link: &mut SimLink<DemoModule>) -> Cell {
    let cell = |pass: bool, note: String| Cell {
        family,
        fault,
        verdict: verdict(pass),
        note,
    };
    // A power cycle, then the module boots what its bootloader picks.
    let now = link.now();
    link.replug(now);
    link.device.power_cycle(now);
    link.advance(now + BOOT);
    let runs = link.device.running_version();
    let boots_valid = runs == DEMO_RUNNING_VERSION || runs == SAMPLE_VERSION;
    let run = match outcome {
        Outcome::Refused(why) => {
            let untouched = runs == DEMO_RUNNING_VERSION;
            return cell(
                untouched,
                format!("refused before sending: {why}; runs {runs:?}"),
            );
        }
        Outcome::Ran(run) => run,
    };
    let kept = record_kept(family, run);
    match &run.result {
        Some(Ok(_)) => {
            let new = runs == SAMPLE_VERSION;
            cell(
                new && kept,
                format!("went through (the protocol recovered); runs {runs:?}, record kept {kept}"),
            )
        }
        Some(Err(e)) => {
            let named = names_step_and_byte(e);
            let mut note = e.to_string();
            if !boots_valid {
                note = format!("BOOTS {runs:?}: {note}");
            }
            if !named {
                note = format!("NO STEP/BYTE: {note}");
            }
            if !kept {
                note = format!("NO RECORD: {note}");
            }
            cell(boots_valid && named && kept, note)
        }
        None => cell(false, "the session never finished".into()),
    }
}

/// The record of the run, as the web app keeps it, is finished and reads back the same.
fn record_kept(family: Family, run: &Run) -> bool {
    let record = record_of(family, run);
    serde_json::to_string(&record)
        .ok()
        .and_then(|json| serde_json::from_str::<Attempt>(&json).ok())
        .is_some_and(|back| back == record && back.state != AttemptState::Installing)
}

/// The message names the step, and the byte once bytes were being written.
fn names_step_and_byte(e: &FlashError) -> bool {
    let text = e.to_string();
    let step = text.starts_with(e.step.label());
    let byte = !matches!(e.step, Step::Write) || (e.offset.is_some() && text.contains(" at byte "));
    step && byte
}

/// The record the web app keeps of this flash, built from the session's events the same way.
fn record_of(family: Family, run: &Run) -> Attempt {
    let info = run
        .events
        .iter()
        .find_map(|e| match e {
            SessionEvent::Identified(info) => Some(info.clone()),
            _ => None,
        })
        .unwrap_or_else(|| ModuleInfo {
            family,
            model: family.name().into(),
            firmware_version: DEMO_RUNNING_VERSION.into(),
            runtime: String::new(),
            details: Default::default(),
        });
    let mut a = Attempt::outside_campaign(&info, "sample", Some(SAMPLE_VERSION.into()), 0);
    let mut step = Step::Connect;
    for (t, e) in run.events.iter().enumerate() {
        let t = t as i64;
        match e {
            SessionEvent::Step(s) => {
                step = *s;
                a.progress(step, a.done, a.total, t);
            }
            SessionEvent::Progress { done, total } => {
                a.progress(step, *done, *total, t);
            }
            SessionEvent::Finished(Ok(o)) => {
                let after = o.module.as_ref().map(|m| m.firmware_version.clone());
                a.finish(Ok(after), t);
            }
            SessionEvent::Finished(Err(e)) => a.finish(Err(e.to_string()), t),
            _ => {}
        }
    }
    a
}

/// Every cell, family by family.
pub fn matrix() -> Result<Vec<Cell>, String> {
    let mut cells = Vec::new();
    for family in families() {
        let named = |e: String| format!("{}: {e}", family.name());
        if family == Family::Dfu {
            let total = dfu::clean_transfers().map_err(named)?;
            cells.extend(FAULTS.map(|fault| dfu::run_cell(fault, total)));
            continue;
        }
        let total = clean_bytes(family).map_err(named)?;
        cells.extend(FAULTS.map(|fault| run_cell(family, fault, total)));
    }
    Ok(cells)
}

/// The matrix as a table: one row per protocol, `ok` or `FAIL` per fault.
pub fn table(cells: &[Cell]) -> String {
    let mut out = format!("{:<18}", "protocol");
    for fault in FAULTS {
        out.push_str(&format!("{:>10}", fault.to_string()));
    }
    out.push('\n');
    for family in families() {
        out.push_str(&format!("{:<18}", family.name()));
        for fault in FAULTS {
            let verdict = cells
                .iter()
                .find(|c| c.family == family && c.fault == fault)
                .map_or("-", |c| c.verdict.word());
            out.push_str(&format!("{verdict:>10}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use otadeck_core::session::FlashErrorKind;

    fn error(step: Step, offset: Option<u64>) -> FlashError {
        FlashError {
            step,
            offset,
            total: Some(1000),
            kind: FlashErrorKind::LinkLost,
            module_state: "still runs its previous firmware",
        }
    }

    #[test]
    fn a_write_error_must_name_its_byte_and_any_error_its_step() {
        assert!(names_step_and_byte(&error(Step::Write, Some(512))));
        assert!(!names_step_and_byte(&error(Step::Write, None)));
        assert!(names_step_and_byte(&error(Step::Connect, None)));
    }

    #[test]
    fn the_table_marks_a_failed_cell() {
        let cells = [Cell {
            family: Family::NodeMcu,
            fault: Fault::Stall,
            verdict: Verdict::Fail,
            note: String::new(),
        }];
        let table = table(&cells);
        let row = table.lines().find(|l| l.starts_with("NodeMCU")).unwrap();
        assert_eq!(row.split_whitespace().filter(|w| *w == "FAIL").count(), 1);
        assert!(row.contains('-'));
    }
}
