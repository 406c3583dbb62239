//! `otadeck sim`: a simulated module on a pseudo-terminal, so that any serial tool (otadeck
//! itself, mpremote, a terminal) can talk to it; and demo images on disk.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::openpty;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use otadeck_sim::demo::{quecpython_demo_config, DemoModule, DEMO_PACKAGES};
use otadeck_sim::esp32_mp::{self, Esp32Config};
use otadeck_sim::firmware::{
    demo_image, demo_running_image, quecpython_package, quecpython_running_package,
    SAMPLE_BODY_LEN, SAMPLE_VERSION,
};
use otadeck_sim::line::{Device, SimLink};
use otadeck_sim::mcuboot::{demo_mcuboot_image, McuBoot, McuBootConfig};
use otadeck_sim::mp_repl::RawPasteSupport;
use otadeck_sim::nodemcu::{NodeMcu, NodeMcuConfig};
use otadeck_sim::pycom::{self, PycomConfig};
use otadeck_sim::quecpython;

/// How the simulated firmware answers raw-paste requests.
#[derive(Clone, Copy, ValueEnum)]
pub enum Paste {
    /// Current firmware: raw-paste with a 128-byte window.
    Yes,
    /// Answers `R\x00`.
    Refuses,
    /// Firmware older than raw-paste.
    Absent,
}

/// Where and how a simulated module is served.
#[derive(Args)]
pub struct Serve {
    /// Serve on a new pseudo-terminal; the first line printed is `pty: <path>`.
    #[arg(long)]
    pty: bool,
    /// Serve on a pseudo-terminal reached through a symlink at this path, which behaves as a
    /// module on native USB: at each hard reset the port goes away (the symlink is removed and
    /// the pseudo-terminal closed) and comes back as a new one `--reenumerate-ms` later. The
    /// first line printed is `pty: <path>`.
    #[arg(long, value_name = "PATH", conflicts_with = "pty")]
    pty_link: Option<PathBuf>,
    /// How long the port stays away at a hard reset (with --pty-link).
    #[arg(long, default_value_t = 1500, value_name = "MS")]
    reenumerate_ms: u64,
    /// Serve over WebSocket on this address (e.g. 127.0.0.1:8765): binary messages carry the
    /// serial bytes each way. The first line printed is `ws: ws://<addr>`. A line `power` on
    /// standard input then cuts the module's power and restores it, and prints `boots: <version>`.
    #[arg(long, value_name = "ADDR")]
    ws: Option<String>,
    /// Line rate the simulation keeps to. A NodeMCU board's console is a UART (115200 baud at
    /// boot): its line follows the rate the client sets on the pty, and what crosses at
    /// another rate than the console's arrives garbled.
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// How the firmware answers raw-paste requests.
    #[arg(long, value_enum, default_value_t = Paste::Yes)]
    paste: Paste,
}

impl Serve {
    fn paste(&self) -> RawPasteSupport {
        match self.paste {
            Paste::Yes => RawPasteSupport::Window(128),
            Paste::Refuses => RawPasteSupport::Refuses,
            Paste::Absent => RawPasteSupport::Absent,
        }
    }

    fn run(&self, device: DemoModule) -> Result<ExitCode, String> {
        let link = SimLink::new(device, self.baud);
        let reenumerate = Duration::from_millis(self.reenumerate_ms);
        match (&self.ws, self.pty, &self.pty_link) {
            (Some(addr), false, None) => crate::ws::serve_ws(link, addr),
            (None, true, None) => serve_pty(link, None),
            (None, false, Some(path)) => serve_pty(link, Some((path.as_path(), reenumerate))),
            _ => Err(
                "say where to serve the module: --pty, --pty-link <path> or --ws <addr> (one of \
                 them)"
                    .into(),
            ),
        }
    }
}

/// A simulated QuecPython module: where to serve it and which model it is.
#[derive(Args)]
pub struct QuecServe {
    #[command(flatten)]
    serve: Serve,
    /// The model (`uos.uname().sysname`). EC600N, EC800N, EG912N, EC600M, EC800M and EG810M
    /// report downloads through the callback only, restart by themselves and take mini FOTA.
    #[arg(long, default_value = "EC600U")]
    model: String,
}

/// A simulated Zephyr / MCUboot module: where to serve it and its sizes.
#[derive(Args)]
pub struct McuBootServe {
    #[command(flatten)]
    serve: Serve,
    /// `buf_size` the module reports (MCUmgr parameters); larger requests are dropped.
    #[arg(long, default_value_t = 384)]
    buf_size: usize,
    /// Size of each image slot, in bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    slot_size: usize,
    /// Print no boot banner on the console.
    #[arg(long)]
    quiet: bool,
}

/// What `otadeck sim` does.
#[derive(Subcommand)]
pub enum SimCommand {
    /// A QuecPython module (fota over the raw REPL). Its simulated network serves the demo
    /// package URLs for `otadeck flash --url` (listed on stderr at start).
    Quecpython(QuecServe),
    /// An ESP32 board running MicroPython (esp32.Partition over the raw REPL).
    MicropythonEsp32(Serve),
    /// A Pycom board (pycom.ota_* over the raw REPL).
    Pycom(Serve),
    /// An ESP32 in its serial ROM loader (for `--protocol esp-rom` and esptool with
    /// `--before no-reset --no-stub`), with a partition table, otadata and two app slots on
    /// 4 MiB of flash (--paste does not apply).
    Esp32(Serve),
    /// An ESP32 board running NodeMCU (otaupgrade over the Lua console; --paste does not apply).
    Nodemcu(Serve),
    /// A Zephyr application under MCUboot (MCUmgr SMP over the console; --paste does not
    /// apply). Slot 0 holds a confirmed MCUboot image 1.0.0.
    Mcuboot(McuBootServe),
    /// Write a demo firmware image (an ESP-IDF app image declaring `version`; with --mcuboot an
    /// unsigned MCUboot image with a SHA-256 TLV, `version` as major.minor.revision; with
    /// --quecpython the simulated QuecPython module's full FOTA package).
    Image {
        #[arg(long, default_value = SAMPLE_VERSION)]
        version: String,
        #[arg(long, default_value_t = SAMPLE_BODY_LEN)]
        size: usize,
        #[arg(long, conflicts_with = "quecpython")]
        mcuboot: bool,
        #[arg(long)]
        quecpython: bool,
        /// Wrap the image in a one-image SWUpdate bundle (`.swu`, as a hawkBit server such as
        /// goosebit hands out), its SHA-256 in `sw-description`.
        #[arg(long)]
        swu: bool,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Serve the test sources (one case per path under /fx/: signed, unsigned, expired, a wrong
    /// hash, a body cut short, no CORS…) over HTTP; first line printed: `http: http://<addr>`.
    Fixtures {
        #[arg(long, default_value = "127.0.0.1:0")]
        http: String,
    },
    /// Write the demo's update sources (an ESP Web Tools manifest of a whole ESP32 install and
    /// its bootloader, partition table and app) into a directory, as `static/demo/` holds them.
    Sources {
        #[arg(long)]
        out: PathBuf,
    },
}

/// Run an `otadeck sim` command.
pub fn run(cmd: SimCommand) -> Result<ExitCode, String> {
    match cmd {
        SimCommand::Image {
            version,
            size,
            mcuboot,
            quecpython,
            swu,
            output,
        } => {
            let img = if mcuboot {
                let mut parts = version.split('.').map(|p| p.parse::<u16>());
                let mut next = || parts.next().and_then(Result::ok).unwrap_or(0);
                let (major, minor, revision) = (next(), next(), next());
                demo_mcuboot_image((major as u8, minor as u8, revision), size)
            } else if quecpython {
                quecpython_package(&version, size)
            } else {
                demo_image(&version, size)
            };
            let img = if swu {
                otadeck_sim::sources::swu_bundle(&img, &version)
            } else {
                img
            };
            std::fs::write(&output, &img)
                .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
            println!(
                "{}: {} bytes, version {version}",
                output.display(),
                img.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        SimCommand::Fixtures { http } => {
            let server = otadeck_sim::fixture_server::FixtureServer::start(&http)
                .map_err(|e| format!("cannot listen on {http}: {e}"))?;
            otadeck_sim::sources::serve_fixtures(&server);
            println!("http: http://{}", server.addr);
            use std::io::Write;
            let _ = std::io::stdout().flush();
            loop {
                std::thread::park();
            }
        }
        SimCommand::Sources { out } => {
            std::fs::create_dir_all(&out)
                .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
            for (name, data) in otadeck_sim::sources::demo_files() {
                let path = out.join(&name);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                std::fs::write(&path, &data)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                println!("{}: {} bytes", path.display(), data.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        SimCommand::Quecpython(q) => {
            eprintln!("{} serves these package URLs to the module:", q.model);
            for p in DEMO_PACKAGES {
                eprintln!("  {}  {}", p.url, p.label);
            }
            q.serve.run(DemoModule::QuecPython(quecpython::device(
                quecpython_demo_config(&q.model),
                quecpython_running_package(),
                q.serve.paste(),
            )))
        }
        SimCommand::MicropythonEsp32(serve) => serve.run(DemoModule::Esp32MicroPython(
            esp32_mp::device(Esp32Config::default(), demo_running_image(), serve.paste()),
        )),
        SimCommand::Mcuboot(m) => {
            let config = McuBootConfig {
                buf_size: m.buf_size,
                slot_size: m.slot_size,
                banner: !m.quiet,
                ..McuBootConfig::default()
            };
            let image = demo_mcuboot_image((1, 0, 0), 20_000);
            m.serve
                .run(DemoModule::McuBoot(McuBoot::new(config, image)))
        }
        SimCommand::Esp32(serve) => serve.run(DemoModule::EspRom(Box::new(
            otadeck_sim::esp_rom::EspRomSim::new(),
        ))),
        SimCommand::Nodemcu(serve) => serve.run(DemoModule::NodeMcu(NodeMcu::new(
            NodeMcuConfig::default(),
            demo_running_image(),
        ))),
        SimCommand::Pycom(serve) => serve.run(DemoModule::Pycom(pycom::device(
            PycomConfig::default(),
            demo_running_image(),
            serve.paste(),
        ))),
    }
}

/// A new raw pseudo-terminal: its master end, its slave end (kept open here, so that the pty
/// survives clients closing and reopening it) and the slave's path.
fn raw_pty() -> Result<(OwnedFd, OwnedFd, PathBuf), String> {
    let pty = openpty(None, None).map_err(|e| format!("openpty: {e}"))?;
    for fd in [&pty.master, &pty.slave] {
        let mut t = tcgetattr(fd.as_fd()).map_err(|e| format!("tcgetattr: {e}"))?;
        cfmakeraw(&mut t);
        tcsetattr(fd.as_fd(), SetArg::TCSANOW, &t).map_err(|e| format!("tcsetattr: {e}"))?;
    }
    let path = nix::unistd::ttyname(pty.slave.as_fd()).map_err(|e| format!("ttyname: {e}"))?;
    Ok((pty.master, pty.slave, path))
}

/// Point the symlink at `link` to `target`, replacing what is there.
fn relink(target: &std::path::Path, link: &std::path::Path) -> Result<(), String> {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).map_err(|e| {
        format!(
            "cannot link {} to {}: {e}",
            link.display(),
            target.display()
        )
    })
}

/// Serve `link` on a pseudo-terminal; with `reenumerate`, behind a symlink that goes away for
/// the given time at each hard reset of the module, the pty with it.
fn serve_pty<D: Device>(
    mut link: SimLink<D>,
    reenumerate: Option<(&std::path::Path, Duration)>,
) -> Result<ExitCode, String> {
    let (mut master, mut slave, path) = raw_pty()?;
    match reenumerate {
        Some((at, _)) => {
            relink(&path, at)?;
            println!("pty: {}", at.display());
        }
        None => println!("pty: {}", path.display()),
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let start = Instant::now();
    let mut resets = link.device.hard_resets();
    let mut buf = [0u8; 4096];
    loop {
        if let Some((at, away)) = reenumerate {
            if link.device.hard_resets() != resets {
                resets = link.device.hard_resets();
                // Off the bus: the port and its path vanish; what the module prints meanwhile
                // (its boot banner) is lost, as on a real USB port.
                let _ = std::fs::remove_file(at);
                drop((master, slave));
                let back = Instant::now() + away;
                while Instant::now() < back {
                    std::thread::sleep(Duration::from_millis(10));
                    link.host_read(start.elapsed());
                }
                let (m, s, p) = raw_pty()?;
                (master, slave) = (m, s);
                relink(&p, at)?;
                eprintln!(
                    "otadeck: the module reset: its port came back as {}",
                    p.display()
                );
            }
        }
        pty_turn(&mut link, &master, start, &mut buf)?;
    }
}

/// The rate a new pty reports before any client sets one (B38400).
const PTY_DEFAULT_RATE: u32 = 38_400;

/// The rate the client set on the pty's slave end (serialport sets any rate with `termios2`),
/// read through the master end, which shares the slave's settings.
#[cfg(target_os = "linux")]
fn host_rate(master: &OwnedFd) -> Option<u32> {
    // SAFETY: TCGETS2 fills the `termios2` it is given, and the fd is open for its lifetime.
    let mut t: nix::libc::termios2 = unsafe { std::mem::zeroed() };
    let rc = unsafe { nix::libc::ioctl(master.as_raw_fd(), nix::libc::TCGETS2, &mut t) };
    (rc == 0 && t.c_ospeed > 0).then_some(t.c_ospeed)
}

#[cfg(not(target_os = "linux"))]
fn host_rate(_master: &OwnedFd) -> Option<u32> {
    None
}

/// Move what is waiting each way between the pty's master end and the line, waiting at most
/// 20 ms for the host.
fn pty_turn<D: Device>(
    link: &mut SimLink<D>,
    master: &OwnedFd,
    start: Instant,
    buf: &mut [u8],
) -> Result<(), String> {
    let now = start.elapsed();
    let wait = link
        .next_event()
        .map(|t| t.saturating_sub(now))
        .unwrap_or(Duration::from_millis(20))
        .min(Duration::from_millis(20));
    let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
    let ms = u16::try_from(wait.as_millis().max(1)).unwrap_or(20);
    poll(&mut fds, PollTimeout::from(ms)).map_err(|e| format!("poll: {e}"))?;
    // The host set its end of the line to another rate: the line to a module with a UART of
    // its own follows, and what crosses at another rate than the UART's now arrives garbled.
    // (A rate still at the pty's default was never set: that client does not care.)
    if link.device.uart_rate().is_some() {
        if let Some(rate) =
            host_rate(master).filter(|r| *r != link.baud() && *r != PTY_DEFAULT_RATE)
        {
            link.set_baud(rate);
        }
    }
    if fds[0]
        .revents()
        .is_some_and(|r| r.contains(PollFlags::POLLIN))
    {
        match nix::unistd::read(master.as_raw_fd(), buf) {
            Ok(n) if n > 0 => link.host_write(start.elapsed(), &buf[..n]),
            Ok(_) => {}
            Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EIO) => {}
            Err(e) => return Err(format!("reading the pty: {e}")),
        }
    }
    let out = link.host_read(start.elapsed());
    let mut rest = &out[..];
    while !rest.is_empty() {
        match nix::unistd::write(master, rest) {
            Ok(n) => rest = &rest[n..],
            Err(nix::errno::Errno::EAGAIN) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => return Err(format!("writing the pty: {e}")),
        }
    }
    Ok(())
}
