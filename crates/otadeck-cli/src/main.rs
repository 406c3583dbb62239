//! `otadeck`: flash a module over a serial port, read what it runs, or serve a simulated module
//! on a pseudo-terminal for other tools to talk to.

mod esp;
mod flash;
mod inspect;
mod sim;
mod term;
mod ws;

use std::path::PathBuf;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flash::{Job, Protocol};

#[derive(Parser)]
#[command(name = "otadeck", version, about = "Flash and inspect IoT modules")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Flash an image into a module over a serial port, or (QuecPython) have the module
    /// download the package itself with --url.
    Flash {
        /// Serial device, e.g. /dev/ttyUSB0.
        #[arg(long)]
        port: String,
        #[arg(long, value_enum)]
        protocol: Protocol,
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// Leave the module on its current firmware until its next restart (QuecPython).
        #[arg(long)]
        no_restart: bool,
        /// After the restart, leave the new firmware on trial instead of accepting it (ESP32,
        /// NodeMCU):
        /// `otadeck accept` or `otadeck rollback` decides later.
        #[arg(long)]
        no_accept: bool,
        /// QuecPython: the package URL (http or https) the module downloads itself; no IMAGE
        /// then.
        #[arg(long, conflicts_with = "image")]
        url: Option<String>,
        /// QuecPython mini FOTA: the second-stage package URL (with --url).
        #[arg(long, requires = "url")]
        url2: Option<String>,
        /// ESP ROM: the flash address of the image (hex with 0x, or decimal).
        #[arg(long, default_value = "0x10000", value_parser = parse_u32)]
        offset: u32,
        /// ESP ROM: send plain 1 KiB blocks instead of a zlib stream.
        #[arg(long)]
        plain: bool,
        /// ESP ROM: how to put the chip into its loader.
        #[arg(long, value_enum, default_value_t = esp::Before::DefaultReset)]
        before: esp::Before,
        /// ESP ROM: a flasher stub (esptool's JSON stub format) to load and run first; without
        /// it the ROM loader alone does the work.
        #[arg(long, value_name = "STUB.json")]
        stub: Option<PathBuf>,
        /// The image file.
        #[arg(required_unless_present = "url")]
        image: Option<PathBuf>,
    },
    /// Ask a module what it is and which firmware it runs; without --protocol, find out what
    /// answers on the port.
    Info {
        #[arg(long)]
        port: String,
        #[arg(long, value_enum)]
        protocol: Option<Protocol>,
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// ESP ROM: how to put the chip into its loader.
        #[arg(long, value_enum, default_value_t = esp::Before::DefaultReset)]
        before: esp::Before,
    },
    /// ESP ROM: read flash into a file (64 bytes a request, then checked by the chip's MD5).
    ReadFlash {
        #[arg(long)]
        port: String,
        /// Flash address (hex with 0x, or decimal).
        #[arg(long, value_parser = parse_u32)]
        offset: u32,
        /// Bytes to read.
        #[arg(long, value_parser = parse_u32)]
        size: u32,
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// How to put the chip into its loader.
        #[arg(long, value_enum, default_value_t = esp::Before::DefaultReset)]
        before: esp::Before,
    },
    /// ESP ROM: make OTA slot N boot next by rewriting otadata (sequence and CRC).
    BootSlot {
        #[arg(long)]
        port: String,
        /// The OTA slot (0 for ota_0).
        #[arg(long)]
        slot: u8,
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// How to put the chip into its loader.
        #[arg(long, value_enum, default_value_t = esp::Before::DefaultReset)]
        before: esp::Before,
    },
    /// Accept the firmware a module runs on trial after an update.
    Accept {
        #[arg(long)]
        port: String,
        #[arg(long, value_enum)]
        protocol: Protocol,
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
    },
    /// Return a module to the firmware in its other slot.
    Rollback {
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

/// `0x10000` or `65536`.
fn parse_u32(text: &str) -> Result<u32, String> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => t.parse(),
    }
    .map_err(|e| format!("{text:?} is not a number: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Flash {
            port,
            protocol,
            baud,
            no_restart,
            no_accept,
            url,
            url2,
            image,
            offset,
            plain,
            before,
            stub,
        } => match (url, image) {
            (None, Some(image)) if protocol == Protocol::EspRom => std::fs::read(&image)
                .map_err(|e| format!("cannot read {}: {e}", image.display()))
                .and_then(|image| {
                    let args = esp::FlashArgs {
                        offset,
                        plain,
                        restart: !no_restart,
                        before,
                        stub,
                    };
                    esp::flash(&port, baud, image, args)
                }),
            (Some(url1), _) => {
                let job = Job::Download {
                    url1,
                    url2,
                    restart: !no_restart,
                };
                flash::run_job(&port, baud, protocol, job)
            }
            (None, Some(image)) => std::fs::read(&image)
                .map_err(|e| format!("cannot read {}: {e}", image.display()))
                .and_then(|image| {
                    let job = Job::Flash {
                        image,
                        restart: !no_restart,
                        accept: !no_accept,
                    };
                    flash::run_job(&port, baud, protocol, job)
                }),
            (None, None) => Err("give an IMAGE file, or --url for a module-side download".into()),
        },
        Command::Info {
            port,
            protocol: Some(Protocol::EspRom),
            baud,
            before,
        } => esp::info(&port, baud, before),
        Command::Info {
            port,
            protocol,
            baud,
            ..
        } => flash::info(&port, baud, protocol),
        Command::ReadFlash {
            port,
            offset,
            size,
            output,
            baud,
            before,
        } => esp::read_flash(&port, baud, before, (offset, size), &output),
        Command::BootSlot {
            port,
            slot,
            baud,
            before,
        } => esp::set_boot(&port, baud, before, slot),
        Command::Accept {
            port,
            protocol,
            baud,
        } => flash::run_job(&port, baud, protocol, Job::Accept),
        Command::Rollback {
            port,
            protocol,
            baud,
        } => flash::run_job(&port, baud, protocol, Job::Rollback),
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
