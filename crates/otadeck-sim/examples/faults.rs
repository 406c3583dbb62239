//! `cargo xtask faults`: every protocol against every fault; prints the table and the
//! message of every cell, and exits 1 when any cell fails.

use std::process::ExitCode;

use otadeck_sim::faults::{matrix, table};

fn main() -> ExitCode {
    let cells = match matrix() {
        Ok(cells) => cells,
        Err(e) => {
            eprintln!("faults: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", table(&cells));
    println!(
        "\nok: after the fault and a power cycle the module boots a valid image, the message names \
         the step (and the byte once writing began), and the record reads back.\nloader: a \
         one-application USB DFU device; its application is incomplete, it still answers in its \
         ROM loader, and the message says to flash it again.\n"
    );
    for c in &cells {
        println!(
            "{:<6} {} / {}: {}",
            c.verdict.word(),
            c.family.name(),
            c.fault,
            c.note
        );
    }
    let failed = cells.iter().filter(|c| !c.pass()).count();
    println!("\n{} cells, {failed} failed", cells.len());
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
