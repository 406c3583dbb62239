//! Terminal output: a progress line that redraws in place on a terminal, plain lines otherwise.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use otadeck_core::progress::{format_duration, format_rate, RateMeter};
use otadeck_core::session::{group_digits, LogLevel, SessionEvent};

/// Renders session events on stderr.
pub struct Reporter {
    tty: bool,
    meter: Option<RateMeter>,
    on_progress_line: bool,
    verbose: bool,
    /// The module downloads the package itself: progress is a percentage, not bytes sent.
    downloading: bool,
}

impl Reporter {
    /// A reporter; `verbose` shows wire-level log lines too.
    pub fn new(verbose: bool) -> Self {
        Reporter {
            tty: std::io::stderr().is_terminal(),
            meter: None,
            on_progress_line: false,
            verbose,
            downloading: false,
        }
    }

    fn end_progress_line(&mut self) {
        if self.on_progress_line {
            eprintln!();
            self.on_progress_line = false;
        }
    }

    /// Show one event that happened at `now`.
    pub fn event(&mut self, now: Duration, event: &SessionEvent) {
        match event {
            SessionEvent::Log { level, message } => {
                if *level == LogLevel::Debug && !self.verbose {
                    return;
                }
                self.end_progress_line();
                let tag = match level {
                    LogLevel::Debug => "debug",
                    LogLevel::Info => "info",
                    LogLevel::Warn => "warning",
                    LogLevel::Error => "error",
                };
                eprintln!("{tag}: {message}");
            }
            SessionEvent::Progress { done, total } if self.downloading => {
                if self.tty {
                    let width = 30usize;
                    let pct = (*done * 100 / (*total).max(1)).min(100) as usize;
                    let filled = pct * width / 100;
                    eprint!(
                        "\r[{}{}] {pct:3}% downloaded by the module   ",
                        "#".repeat(filled),
                        ".".repeat(width - filled)
                    );
                    let _ = std::io::stderr().flush();
                    self.on_progress_line = true;
                } else if *done >= *total {
                    eprintln!("info: download 100 %");
                }
            }
            SessionEvent::Progress { done, total } => {
                let meter = self
                    .meter
                    .get_or_insert_with(|| RateMeter::new(*total, Duration::from_secs(4)));
                meter.record(now, *done);
                if !self.tty {
                    return;
                }
                let width = 30usize;
                let filled = (meter.percent() / 100.0 * width as f64) as usize;
                let rate = meter
                    .bytes_per_second()
                    .map(format_rate)
                    .unwrap_or_default();
                let eta = meter
                    .eta()
                    .map(|e| format!("{} left", format_duration(e)))
                    .unwrap_or_default();
                eprint!(
                    "\r[{}{}] {:3.0}% {}/{} bytes {rate} {eta}   ",
                    "#".repeat(filled),
                    ".".repeat(width - filled),
                    meter.percent(),
                    group_digits(*done),
                    group_digits(*total)
                );
                let _ = std::io::stderr().flush();
                self.on_progress_line = true;
            }
            SessionEvent::Step(step) => {
                self.downloading = *step == otadeck_core::session::Step::Download;
                self.end_progress_line();
                eprintln!("== {}", step.label());
            }
            SessionEvent::Identified(_)
            | SessionEvent::Partitions(_)
            | SessionEvent::ReadBack { .. }
            | SessionEvent::Finished(_) => self.end_progress_line(),
        }
    }
}
