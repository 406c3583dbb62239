//! `cargo xtask faults`: every serial protocol against every fault; prints the table and the
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
    println!();
    for c in &cells {
        let verdict = if c.pass { "ok  " } else { "FAIL" };
        println!("{verdict} {} / {}: {}", c.family.name(), c.fault, c.note);
    }
    let failed = cells.iter().filter(|c| !c.pass).count();
    println!("\n{} cells, {failed} failed", cells.len());
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
