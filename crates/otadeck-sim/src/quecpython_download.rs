//! The module-side download of the simulated QuecPython module: `fota_obj.httpDownload(url1=,
//! url2=, callback=)`, `download_cancel()` and `apn_set(...)`, on the virtual clock.
//!
//! Packages come from a table of URLs ([`SimPackage`]). A download connects for
//! [`CONNECT_TIME`], then moves at [`crate::quecpython::QuecPythonConfig::download_rate`],
//! calling the callback with `[status, percent]` every 10 %. At the end the package is written
//! and verified as the local path does (`fota.write` + `verify`): a package that fails reports
//! [`REJECTED`] and never becomes the running firmware.
//!
//! Model behaviour follows QuecPython's `fota` reference: on [`ASYNC_MODELS`] `httpDownload`
//! returns at once (0 = accepted) and the result comes through the callback; elsewhere it blocks
//! until the download ends and returns 0 or -1. [`MINI_FOTA_MODELS`] cannot disable the restart
//! after a download and are the only ones with mini FOTA (`url2`: two stages, no callback): the
//! first package is fetched, the module restarts, fetches and applies the second while it boots,
//! and starts again on the new firmware (or on the old one if stage two failed).

use std::time::Duration;

use crate::flash::{package_is_intact, Staging};
use crate::interp::python::block::Wait;
use crate::interp::python::expr::{PyErr, Value};
use crate::quecpython::QuecPython;

/// Models whose `httpDownload` only says the call was accepted.
pub const ASYNC_MODELS: &[&str] = &[
    "EC600N", "EC800N", "EG912N", "EC600M", "EC800M", "EG810M", "BC25",
];
/// Models with mini FOTA, which also cannot disable the restart after a download.
pub const MINI_FOTA_MODELS: &[&str] = &["EC600N", "EC800N", "EG912N", "EC600M", "EC800M", "EG810M"];
/// Time from the call to the first byte (DNS, TCP, HTTP request).
pub const CONNECT_TIME: Duration = Duration::from_millis(800);
/// `[status, code]` of a downloaded package that fails verification.
pub const REJECTED: (i64, i64) = (4, 0);
/// `[status, code]` of a URL not in the table.
pub const NOT_FOUND: (i64, i64) = (3, 404);

/// What a URL serves: package bytes, or the `[status, code]` its download fails with.
pub type Body = Result<Vec<u8>, (i64, i64)>;

/// A package the simulated network serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPackage {
    /// The URL, exactly as the module is asked for it.
    pub url: String,
    /// The package bytes, or the `[status, code]` the download fails with.
    pub body: Body,
}

impl SimPackage {
    /// A URL that serves `bytes`.
    pub fn serving(url: &str, bytes: Vec<u8>) -> Self {
        SimPackage {
            url: url.into(),
            body: Ok(bytes),
        }
    }

    /// A URL whose download fails with `status` and `code`.
    pub fn failing(url: &str, status: i64, code: i64) -> Self {
        SimPackage {
            url: url.into(),
            body: Err((status, code)),
        }
    }
}

/// A download in progress.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    body: Body,
    stage2: Option<Body>,
    callback: Option<Value>,
    started: Duration,
    /// The last percentage the callback was given (-1: none yet).
    reported: i64,
}

/// What the clock brought: callbacks to run, and whether the module restarts now.
#[derive(Debug, Default)]
pub(crate) struct Due {
    pub calls: Vec<(Value, Vec<Value>)>,
    pub reboot: bool,
}

fn has(list: &[&str], model: &str) -> bool {
    list.iter().any(|m| model.starts_with(m))
}

impl QuecPython {
    fn lookup(&self, url: &str) -> Body {
        self.config
            .packages
            .iter()
            .find(|p| p.url == url)
            .map_or(Err(NOT_FOUND), |p| p.body.clone())
    }

    fn rate(&self) -> u64 {
        u64::from(self.config.download_rate.max(1))
    }

    /// When the job reaches `pct` percent (of a package of `len` bytes).
    fn at_percent(&self, job: &Job, len: usize, pct: i64) -> Duration {
        let bytes = len as u64 * pct as u64 / 100;
        job.started + CONNECT_TIME + Duration::from_micros(bytes * 1_000_000 / self.rate())
    }

    /// The next instant the download has something to report.
    pub(crate) fn next_download_event(&self) -> Option<Duration> {
        let job = self.job.as_ref()?;
        match &job.body {
            Err(_) => Some(job.started + CONNECT_TIME),
            Ok(bytes) => {
                let step = if job.callback.is_some() { 10 } else { 100 };
                let next = (job.reported.max(0) / step + 1) * step;
                let next = if job.reported < 0 && job.callback.is_some() {
                    0
                } else {
                    next
                };
                if self.config.stall_download_at.is_some_and(|s| next > s) {
                    return None;
                }
                Some(self.at_percent(job, bytes.len(), next.min(100)))
            }
        }
    }

    /// Let the download catch up with `now`.
    pub(crate) fn advance_download(&mut self, now: Duration) -> Due {
        let mut due = Due::default();
        while let Some(at) = self.next_download_event().filter(|t| *t <= now) {
            let _ = at;
            let mut job = self.job.take().expect("an event without a job");
            let callback = job.callback.clone();
            let mut report = |status: i64, second: i64| {
                if let Some(cb) = &callback {
                    let args = Value::List(vec![Value::Int(status), Value::Int(second)]);
                    due.calls.push((cb.clone(), vec![args]));
                }
            };
            let bytes = match &job.body {
                Err((status, code)) => {
                    report(*status, *code);
                    continue;
                }
                Ok(bytes) => bytes.clone(),
            };
            let step = if callback.is_some() { 10 } else { 100 };
            let pct = if job.reported < 0 && callback.is_some() {
                0
            } else {
                ((job.reported.max(0) / step + 1) * step).min(100)
            };
            job.reported = pct;
            if pct < 100 {
                report(if pct == 0 { 0 } else { 1 }, pct);
                self.job = Some(job);
                continue;
            }
            if let Some(stage2) = job.stage2.take() {
                // Mini FOTA: stage one only has to arrive whole; the module restarts into its
                // small upgrade system, which fetches stage two while it boots.
                if package_is_intact(&bytes) {
                    self.calls.push("mini FOTA stage 1 done, restarting".into());
                    self.stage2 = Some(Box::new(stage2));
                    due.reboot = true;
                }
                break;
            }
            self.flash.staging = Some(Staging::default());
            let fits = self.flash.write(&bytes, bytes.len() as i64) == 0;
            if !fits || self.flash.verify() != 0 {
                self.flash.staging = None;
                report(REJECTED.0, REJECTED.1);
                continue;
            }
            report(2, 100);
            if self.auto_restart() {
                due.reboot = true;
                break;
            }
        }
        due
    }

    /// The module restarts by itself once a download is verified.
    pub(crate) fn auto_restart(&self) -> bool {
        !self.reset_disable || has(MINI_FOTA_MODELS, &self.config.model)
    }

    /// A restart: stage two of a mini FOTA runs now. Returns the extra boot time.
    pub(crate) fn boot_stage_two(&mut self) -> Duration {
        self.job = None;
        let Some(stage2) = self.stage2.take() else {
            return Duration::ZERO;
        };
        let Ok(bytes) = *stage2 else {
            self.calls
                .push("mini FOTA stage 2 failed to download".into());
            return CONNECT_TIME;
        };
        let time =
            CONNECT_TIME + Duration::from_micros(bytes.len() as u64 * 1_000_000 / self.rate());
        self.flash.staging = Some(Staging::default());
        let ok = self.flash.write(&bytes, bytes.len() as i64) == 0 && self.flash.verify() == 0;
        self.calls.push(format!(
            "mini FOTA stage 2 {}",
            if ok { "applied" } else { "rejected" }
        ));
        // The upgrade system boots again, into the new firmware when it verified.
        self.flash.boot();
        time
    }

    /// `fota_obj.httpDownload(url1=, url2=, callback=)`.
    pub(crate) fn http_download(&mut self, kwargs: &[(String, Value)]) -> Result<Value, PyErr> {
        let arg = |k: &str| kwargs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let Some(Value::Str(url1)) = arg("url1") else {
            return Err(PyErr::new("TypeError", "url1 must be a string"));
        };
        let url2 = match arg("url2") {
            Some(Value::Str(u)) => Some(u),
            None | Some(Value::None) => None,
            Some(_) => return Err(PyErr::new("TypeError", "url2 must be a string")),
        };
        let callback = arg("callback").filter(|c| matches!(c, Value::Function(_)));
        self.calls.push(format!(
            "httpDownload(url1={url1}, url2={})",
            url2.as_deref().unwrap_or("-")
        ));
        let mini_model = has(MINI_FOTA_MODELS, &self.config.model);
        let refused = self.job.is_some()
            || (url2.is_some() && !mini_model)
            || (url2.is_none() && self.config.mini_fota_only);
        if refused {
            return Ok(Value::Int(-1));
        }
        let body = self.lookup(&url1);
        let job = Job {
            body,
            stage2: url2.as_deref().map(|u| self.lookup(u)),
            // The callback is not supported in mini FOTA.
            callback: if url2.is_some() { None } else { callback },
            started: self.now,
            reported: -1,
        };
        let blocking = !has(ASYNC_MODELS, &self.config.model);
        let outcome = match &job.body {
            Ok(bytes) if bytes.len() <= self.config.slot_size && package_is_intact(bytes) => 0,
            _ => -1,
        };
        let len = job.body.as_ref().map_or(0, Vec::len);
        let end = if job.body.is_err() {
            job.started + CONNECT_TIME
        } else {
            self.at_percent(&job, len, 100)
        };
        self.job = Some(Box::new(job));
        if blocking {
            let stalled = self.config.stall_download_at.is_some();
            self.wait = Some(Wait {
                duration: if stalled {
                    Duration::from_secs(24 * 3600)
                } else {
                    end - self.now
                },
                interruptible: false,
            });
            return Ok(Value::Int(outcome));
        }
        Ok(Value::Int(0))
    }

    /// `fota_obj.download_cancel()`: 0 when a download was stopped, -1 when none was running.
    pub(crate) fn download_cancel(&mut self) -> Value {
        self.calls.push("download_cancel()".into());
        Value::Int(if self.job.take().is_some() { 0 } else { -1 })
    }
}
