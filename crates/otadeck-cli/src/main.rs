//! `otadeck`: flash a module over a serial port, read what it runs, or serve a simulated module
//! on a pseudo-terminal for other tools to talk to.

mod flash;
mod inspect;
mod sim;
mod term;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "otadeck", version, about = "Flash and inspect IoT modules")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Update protocols.
#[derive(Clone, Copy, ValueEnum)]
enum Protocol {
    /// QuecPython `fota` over the MicroPython raw REPL.
    Quecpython,
}

#[derive(Subcommand)]
enum Command {
    /// Flash an image into a module over a serial port.
    Flash {
        /// Serial device, e.g. /dev/ttyUSB0.
        #[arg(long)]
        port: String,
        #[arg(long, value_enum)]
        protocol: Protocol,
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// Leave the module on its current firmware until its next restart.
        #[arg(long)]
        no_restart: bool,
        /// The image file.
        image: PathBuf,
    },
    /// Ask a module what it is and which firmware it runs.
    Info {
        #[arg(long)]
        port: String,
        #[arg(long, value_enum)]
        protocol: Protocol,
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
    },
    /// Say what an image, manifest, job document or campaign plan is and whether it is intact.
    /// Exit status 0: valid; 1: recognised but invalid or tampered; 2: usage error or unreadable.
    Inspect {
        /// A file, or an https URL (http only to this machine).
        source: String,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
        /// Public key (PEM or DER) to check an MCUboot image's signature with.
        #[arg(long)]
        key: Option<String>,
    },
    /// Serve a simulated module, or write a demo image.
    Sim {
        #[command(subcommand)]
        what: sim::SimCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Flash {
            port,
            protocol: Protocol::Quecpython,
            baud,
            no_restart,
            image,
        } => flash::flash(&port, baud, &image, !no_restart),
        Command::Info {
            port,
            protocol: Protocol::Quecpython,
            baud,
        } => flash::info(&port, baud),
        Command::Inspect { source, json, key } => inspect::inspect(&source, json, key.as_deref()),
        Command::Sim { what } => sim::run(what),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("otadeck: {message}");
            ExitCode::from(2)
        }
    }
}
