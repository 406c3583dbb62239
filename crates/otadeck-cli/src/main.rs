//! `otadeck`: flash a module over a serial port, read what it runs, or serve a simulated module
//! on a pseudo-terminal for other tools to talk to.

mod flash;
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
