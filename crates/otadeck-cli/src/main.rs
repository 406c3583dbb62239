//! `otadeck`: flash a module over a serial port, read what it runs, or serve a simulated module
//! on a pseudo-terminal for other tools to talk to.

mod fetch;
mod flash;
mod inspect;
mod install;
mod interrupt;
mod port;
mod sim;
mod term;
mod ws;

use std::path::PathBuf;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flash::{Before, Target};
use otadeck_core::admission::Policy;
use otadeck_core::family::{Family, FlashOptions, Job, JobKind, OpenOptions};
use otadeck_core::image::PublicKey;

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
    Flash(FlashArgs),
    /// Ask a module what it is and which firmware it runs; without --protocol, find out what
    /// answers on the port.
    Info {
        #[arg(long)]
        port: String,
        /// The module's family (its update protocol); without it, otadeck finds out.
        #[arg(long, value_parser = flash::protocol_parser())]
        protocol: Option<Family>,
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// ESP ROM: how to put the chip into its loader.
        #[arg(long, value_enum, default_value_t = Before::DefaultReset)]
        before: Before,
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
        #[arg(long, value_enum, default_value_t = Before::DefaultReset)]
        before: Before,
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
        #[arg(long, value_enum, default_value_t = Before::DefaultReset)]
        before: Before,
    },
    /// ESP ROM: leave the loader and boot the firmware otadata selects.
    Restart {
        #[arg(long)]
        port: String,
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// How to put the chip into its loader first (no-reset: it already waits there).
        #[arg(long, value_enum, default_value_t = Before::NoReset)]
        before: Before,
    },
    /// Accept the firmware a module runs on trial after an update.
    Accept(DecideArgs),
    /// Return a module to the firmware in its other slot.
    Rollback(DecideArgs),
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
        /// Give up a URL that has not been fetched whole after this many seconds.
        #[arg(long, default_value_t = 120, value_name = "SECONDS")]
        timeout: u64,
    },
    /// Install from a source: an ESP Web Tools or Pycom manifest, an AWS IoT job document or a
    /// hawkBit deployment, fetched and checked (hashes, signature, version) before anything is
    /// written, then reported back. Exit status 0: the module runs what the source offers; 1: the
    /// source or an image was refused, or the install failed; 2: usage error.
    Install(install::InstallArgs),
    /// Expose a serial port to the browser over WebSocket, so that a module on this machine is
    /// flashed from otadeck in Chrome elsewhere (binary messages carry the bytes; text messages
    /// set the baud rate and DTR/RTS, see docs/ws-bridge.md). One client at a time; the port is
    /// opened while a client is connected. The first line printed is `ws: ws://<addr>`.
    Bridge {
        /// The serial device, e.g. /dev/ttyUSB0.
        #[arg(long)]
        port: String,
        /// Address to listen on, e.g. 0.0.0.0:8765 (any interface) or 127.0.0.1:8765.
        #[arg(long, value_name = "ADDR")]
        ws: String,
        /// The rate to open the port at, until the client asks for another.
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
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

/// A target on `port` for `family`, reset into its loader as `before` says where it has one.
fn target(port: &str, family: Family, baud: u32, before: Before) -> Target<'_> {
    Target {
        port,
        family,
        baud,
        options: OpenOptions {
            reset: before.kind(),
            ..OpenOptions::default()
        },
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, String> {
    inspect::read_capped(path)
}

fn read_key(path: &std::path::Path) -> Result<PublicKey, String> {
    let bytes = read(path)?;
    PublicKey::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// `otadeck accept` and `otadeck rollback`.
#[derive(clap::Args)]
struct DecideArgs {
    /// Serial device, e.g. /dev/ttyUSB0.
    #[arg(long)]
    port: String,
    /// The module's family (its update protocol).
    #[arg(long, value_parser = flash::protocol_parser())]
    protocol: Family,
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
}

impl DecideArgs {
    /// An ESP chip is reset into its loader first, as for the other ESP ROM commands.
    fn target(&self) -> Target<'_> {
        target(&self.port, self.protocol, self.baud, Before::DefaultReset)
    }
}

/// `otadeck flash`, with the options of every family.
#[derive(clap::Args)]
struct FlashArgs {
    /// Serial device, e.g. /dev/ttyUSB0.
    #[arg(long)]
    port: String,
    /// The module's family (its update protocol).
    #[arg(long, value_parser = flash::protocol_parser())]
    protocol: Family,
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
    /// ESP ROM: the flash address of the image (hex with 0x, or decimal). Without it an app
    /// goes into the OTA slot that does not boot now, and boots next once checked.
    #[arg(long, value_parser = parse_u32)]
    offset: Option<u32>,
    /// ESP ROM: write even inside the partition the chip boots now (an interruption there
    /// leaves nothing to boot).
    #[arg(long)]
    overwrite_running: bool,
    /// ESP ROM: send plain 1 KiB blocks instead of a zlib stream.
    #[arg(long)]
    plain: bool,
    /// NodeMCU: the console rate to write at (`uart.setup`; back to --baud at the restart).
    /// The --baud value keeps the console where it is.
    #[arg(long, value_name = "BAUD", default_value_t = otadeck_core::family::NODEMCU_WRITE_BAUD)]
    write_baud: u32,
    /// ESP ROM: how to put the chip into its loader.
    #[arg(long, value_enum, default_value_t = Before::DefaultReset)]
    before: Before,
    /// ESP ROM: a flasher stub (esptool's JSON stub format) to load and run first; without
    /// it the ROM loader alone does the work.
    #[arg(long, value_name = "STUB.json")]
    stub: Option<PathBuf>,
    /// ESP ROM: write a file that is no recognised firmware image; the ROM loader does not
    /// check what it writes.
    #[arg(long)]
    raw: bool,
    /// MCUboot: a public key (PEM or DER, as `imgtool getpub` writes it) the image's signature
    /// must verify with; give it again for more keys.
    #[arg(long, value_name = "KEY")]
    key: Vec<PathBuf>,
    /// Refuse an image that is not signed by one of the --key keys.
    #[arg(long)]
    require_signed: bool,
    /// The image file.
    #[arg(required_unless_present = "url")]
    image: Option<PathBuf>,
}

fn flash(a: FlashArgs) -> Result<ExitCode, String> {
    let mut t = target(&a.port, a.protocol, a.baud, a.before);
    t.options.write_baud = Some(a.write_baud);
    if let Some(path) = &a.stub {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let stub = otadeck_core::driver::esp_rom::stub::Stub::from_json(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        t.options.stub = Some(stub);
    }
    t.options.policy = Policy {
        allow_raw: a.raw,
        keys: a
            .key
            .iter()
            .map(|k| read_key(k))
            .collect::<Result<_, _>>()?,
        require_signature: a.require_signed,
    };
    let job = match (a.url, a.image) {
        (Some(_), _) if !a.protocol.can(JobKind::Download) => {
            let downloaders: Vec<&str> = Family::ALL
                .into_iter()
                .filter(|f| f.can(JobKind::Download))
                .map(Family::name)
                .collect();
            return Err(format!(
                "--url is for {} modules, which download the package themselves; give {} an \
                 image file",
                downloaders.join(" and "),
                a.protocol.name()
            ));
        }
        (Some(url1), _) => Job::Download {
            url1,
            url2: a.url2,
            restart: !a.no_restart,
        },
        (None, Some(image)) => Job::Flash {
            image: read(&image)?,
            options: FlashOptions {
                restart: !a.no_restart,
                accept: !a.no_accept,
                offset: a.offset,
                compress: !a.plain,
                overwrite_running: a.overwrite_running,
                ..FlashOptions::default()
            },
        },
        (None, None) => {
            return Err("give an IMAGE file, or --url for a module-side download".into())
        }
    };
    flash::run_job(t, job, None)
}

fn main() -> ExitCode {
    interrupt::quiet_broken_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Flash(args) => flash(args),
        Command::Info {
            port,
            protocol,
            baud,
            before,
        } => {
            let family = protocol.unwrap_or(Family::MicroPython);
            flash::info(target(&port, family, baud, before), protocol.is_none())
        }
        Command::ReadFlash {
            port,
            offset,
            size,
            output,
            baud,
            before,
        } => flash::run_job(
            target(&port, Family::EspRom, baud, before),
            Job::ReadBack { offset, len: size },
            Some(&output),
        ),
        Command::BootSlot {
            port,
            slot,
            baud,
            before,
        } => flash::run_job(
            target(&port, Family::EspRom, baud, before),
            Job::SetBootSlot { slot },
            None,
        ),
        Command::Restart { port, baud, before } => flash::run_job(
            target(&port, Family::EspRom, baud, before),
            Job::Restart,
            None,
        ),
        Command::Accept(a) => flash::run_job(a.target(), Job::Accept, None),
        Command::Rollback(a) => flash::run_job(a.target(), Job::Rollback, None),
        Command::Inspect {
            source,
            json,
            key,
            timeout,
        } => {
            let limits = fetch::Limits {
                deadline: std::time::Duration::from_secs(timeout.max(1)),
            };
            inspect::inspect(&source, json, key.as_deref(), limits)
        }
        Command::Sim { what } => sim::run(what),
        Command::Bridge { port, ws, baud } => ws::serve_ws(ws::SerialLine::new(&port, baud), &ws),
        Command::Install(args) => install::run(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("otadeck: {message}");
            install::exit_of(&message)
        }
    }
}
