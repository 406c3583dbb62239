//! QuecPython module-side download: the module fetches the package itself with
//! `fota_obj.httpDownload(url1=..., [url2=...], callback=...)`, which downloads, writes and
//! verifies it. `url2` makes it a mini FOTA (two packages applied in order; EC600N, EC800N,
//! EG912N, EC600M, EC800M, EG810M only, and without a callback). Runs as a [`ReplPlan`] on the
//! raw-REPL engine.
//!
//! The download runs inside one exec that waits: a callback prints `@P <status> <percent>` on
//! every call, the exec sleeps in a loop (printing `@W <seconds>` each second) until the callback
//! reports completion or failure, the call returns `-1`, or the overall timeout passes, and it
//! ends with `@E <return> <status> <percent>`. That handles both behaviours of `httpDownload`:
//! it blocks until the end on most models, and only accepts the job on the models listed in
//! [`ASYNC_MODELS`]. Cancel sends Ctrl-C: the `KeyboardInterrupt` handler calls
//! `download_cancel()` and prints `@C <result>`.
//!
//! When the module can, the object is made with `reset_disable=1` and the host restarts the
//! module after a verified download; [`MINI_FOTA_MODELS`] always restart by themselves, and the
//! session then waits for them to come back. Either way it reconnects and reads the version.

use std::time::Duration;

use crate::driver::quecpython::{parse_identity, IDENTIFY_CALL, IDENTIFY_CODE, RESTART_CODE};
use crate::driver::repl::flow::{
    bad_answer, traceback, Call, FlowConfig, Next, ReplFlow, ReplPlan, Reply, Report,
};
use crate::link::mp_repl::ReplConfig;
use crate::session::{FlashErrorKind, LogLevel, Step};

/// Models whose `httpDownload` returns at once and reports through the callback.
pub const ASYNC_MODELS: &[&str] = &[
    "EC600N", "EC800N", "EG912N", "EC600M", "EC800M", "EG810M", "BC25",
];
/// Models that can do mini FOTA; they also cannot disable the restart after a download.
pub const MINI_FOTA_MODELS: &[&str] = &["EC600N", "EC800N", "EG912N", "EC600M", "EC800M", "EG810M"];
/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 1024;

/// The network settings `fota_obj.apn_set(...)` takes before the download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApnSettings {
    /// Access point name.
    pub apn: String,
    /// 0 IPv4, 1 IPv6, 2 both.
    pub ip_type: u8,
    /// User name (may be empty).
    pub user: String,
    /// Password (may be empty).
    pub password: String,
}

/// What to download and how.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// The package URL (`url1`).
    pub url1: String,
    /// The second-stage package of a mini FOTA (`url2`); `None` for a one-stage upgrade.
    pub url2: Option<String>,
    /// APN settings to give the module first.
    pub apn: Option<ApnSettings>,
    /// Restart the module into the new firmware after the download. When false (and the model
    /// can disable its own restart) the new firmware runs after the module's next restart.
    pub restart: bool,
    /// REPL tuning.
    pub repl: ReplConfig,
    /// Silence allowed for quick calls.
    pub call_timeout: Duration,
    /// Silence allowed while the download runs (the exec prints at least once a second).
    pub silence_timeout: Duration,
    /// The longest the download may take on the module before the session gives up on it.
    pub download_timeout: Duration,
    /// How long the module may take to come back after the restart.
    pub reboot_timeout: Duration,
}

impl DownloadOptions {
    /// Download `url1` with the default settings.
    pub fn new(url1: impl Into<String>) -> Self {
        DownloadOptions {
            url1: url1.into(),
            url2: None,
            apn: None,
            restart: true,
            repl: ReplConfig::default(),
            call_timeout: Duration::from_secs(5),
            silence_timeout: Duration::from_secs(30),
            download_timeout: Duration::from_secs(600),
            reboot_timeout: Duration::from_secs(60),
        }
    }
}

/// Why a package URL cannot be given to the module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Longer than the module takes.
    #[error("it is longer than {MAX_URL_LEN} characters")]
    TooLong,
    /// A space, control or non-ASCII character.
    #[error(
        "it contains {0:?}: spaces, line breaks, control and non-ASCII characters are not \
         allowed (percent-encode them)"
    )]
    NotPrintable(char),
    /// A quote or backslash (it would end the Python string literal).
    #[error("it contains {0:?}, which is not allowed")]
    Quote(char),
    /// Neither http nor https.
    #[error("only http:// and https:// URLs are supported")]
    Scheme,
    /// `user@host`.
    #[error("it carries credentials (user@host), which would end up in logs")]
    Credentials,
    /// `[` with no `]`.
    #[error("its IPv6 host has no closing ]")]
    OpenIpv6,
    /// No host, or one with characters a host name cannot hold.
    #[error("it has no valid host name")]
    Host,
    /// A port that is not 1 to 65535.
    #[error("its port {0:?} is not a number from 1 to 65535")]
    Port(String),
    /// The URL parser refused it.
    #[error("it is not a well-formed URL ({0})")]
    Malformed(String),
}

/// A URL the module can be given, or why not. Checked before anything is sent: the URL goes
/// into a Python string literal, so quotes, backslashes and control characters are refused.
pub fn check_url(url: &str) -> Result<(), UrlError> {
    if url.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong);
    }
    if let Some(c) = url.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(UrlError::NotPrintable(c));
    }
    if let Some(c) = url.chars().find(|c| matches!(c, '\'' | '"' | '\\')) {
        return Err(UrlError::Quote(c));
    }
    let rest = ["http://", "https://"]
        .iter()
        .find_map(|s| url.strip_prefix(s))
        .ok_or(UrlError::Scheme)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(UrlError::Credentials);
    }
    let (host, port, v6) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or(UrlError::OpenIpv6)?;
        (h, after.strip_prefix(':'), true)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p), false),
            None => (authority, None, false),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.') || (v6 && c == ':'));
    if !host_ok {
        return Err(UrlError::Host);
    }
    if let Some(p) = port {
        if !p.parse::<u16>().is_ok_and(|p| p > 0) {
            return Err(UrlError::Port(p.to_string()));
        }
    }
    url::Url::parse(url)
        .map(|_| ())
        .map_err(|e| UrlError::Malformed(e.to_string()))
}

fn check_field(what: &str, value: &str) -> Result<(), String> {
    if value.len() > 64
        || value
            .chars()
            .any(|c| !c.is_ascii_graphic() || matches!(c, '\'' | '"' | '\\'))
    {
        return Err(format!(
            "the APN {what} must be at most 64 printable ASCII characters without quotes or \
             backslashes"
        ));
    }
    Ok(())
}

fn is_model(list: &[&str], model: &str) -> bool {
    list.iter().any(|m| model.starts_with(m))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Identify,
    Prepare,
    Download,
    Confirm,
}

/// The download plan: see the module documentation.
#[derive(Debug)]
pub struct DownloadPlan {
    options: DownloadOptions,
    stage: Stage,
    old_version: String,
    auto_restart: bool,
    started: bool,
    percent: i64,
    returned: Option<i64>,
    failure: Option<(i64, i64)>,
    complete: bool,
    timed_out: Option<i64>,
    cancelling: bool,
    cancel_result: Option<i64>,
}

/// A module-side download session.
pub type QuecPythonDownload = ReplFlow<DownloadPlan>;

/// Start a module-side download. Refused at once, with nothing sent, when a URL or an APN
/// field cannot be given to the module.
pub fn download(now: Duration, options: DownloadOptions) -> QuecPythonDownload {
    let config = FlowConfig {
        repl: options.repl.clone(),
        reboot_timeout: if options.url2.is_some() {
            options.reboot_timeout + options.download_timeout
        } else {
            options.reboot_timeout
        },
    };
    let mut problems = Vec::new();
    for (name, url) in [
        ("the package URL", Some(&options.url1)),
        ("the second-stage package URL", options.url2.as_ref()),
    ] {
        if let Some(Err(why)) = url.map(|u| check_url(u)) {
            problems.push(format!("{name} is refused: {why}"));
        }
    }
    if let Some(apn) = &options.apn {
        for (what, v) in [
            ("name", &apn.apn),
            ("user", &apn.user),
            ("password", &apn.password),
        ] {
            if let Err(why) = check_field(what, v) {
                problems.push(why);
            }
        }
        if apn.ip_type > 2 {
            problems.push("the APN ip_type must be 0 (IPv4), 1 (IPv6) or 2 (both)".into());
        }
    }
    let plan = DownloadPlan {
        options,
        stage: Stage::Identify,
        old_version: String::new(),
        auto_restart: false,
        started: false,
        percent: -1,
        returned: None,
        failure: None,
        complete: false,
        timed_out: None,
        cancelling: false,
        cancel_result: None,
    };
    if !problems.is_empty() {
        let kind = FlashErrorKind::Unsuitable(problems.join("; "));
        return ReplFlow::refused(now, plan, config, Step::Prepare, kind);
    }
    let plain_http = plan.plain_http();
    let mut flow = ReplFlow::start(now, plan, config);
    if plain_http {
        flow.log(
            LogLevel::Warn,
            "The package URL uses plain http: nothing authenticates the package on its way to \
             the module; only the module's own package check protects it",
        );
    }
    flow
}

impl DownloadPlan {
    fn plain_http(&self) -> bool {
        let o = &self.options;
        [Some(&o.url1), o.url2.as_ref()]
            .into_iter()
            .flatten()
            .any(|u| u.starts_with("http://"))
    }

    fn mini(&self) -> bool {
        self.options.url2.is_some()
    }

    fn prepare_code(&self) -> String {
        let ctor = if self.auto_restart {
            "fota()"
        } else {
            "fota(reset_disable=1)"
        };
        let mut code = format!("import fota,utime\nf={ctor}\nprint('ok')");
        if let Some(a) = &self.options.apn {
            code = format!(
                "import fota,utime\nf={ctor}\nprint(f.apn_set(fota_apn='{}',ip_type={},fota_user='{}',fota_password='{}'))",
                a.apn, a.ip_type, a.user, a.password
            );
        }
        code
    }

    fn download_code(&self) -> String {
        let limit = self.options.download_timeout.as_secs().max(1);
        let mut c = String::from("s=[0,-1]\nr=-1\nt=0\n");
        let call = match &self.options.url2 {
            Some(u2) => format!("r=f.httpDownload(url1='{}',url2='{u2}')", self.options.url1),
            None => {
                c.push_str("def c(a):\n s[0]=a[0]\n s[1]=a[1]\n print('@P',a[0],a[1])\n");
                format!("r=f.httpDownload(url1='{}',callback=c)", self.options.url1)
            }
        };
        c.push_str(&format!(
            "try:\n {call}\n print('@R',r)\n while r==0 and t<{limit}:\n"
        ));
        c.push_str("  if s[0]<0 or s[0]>2:\n   break\n");
        if !self.auto_restart {
            c.push_str("  if s[1]>=100:\n   break\n");
        }
        c.push_str("  utime.sleep_ms(1000)\n  t=t+1\n  print('@W',t)\n");
        c.push_str(&format!(
            " if t>={limit}:\n  print('@T',f.download_cancel())\n"
        ));
        c.push_str(" print('@E',r,s[0],s[1])\n");
        c.push_str("except KeyboardInterrupt:\n print('@C',f.download_cancel())");
        c
    }

    fn download_result(&mut self) -> Result<Next, FlashErrorKind> {
        if let Some((status, code)) = self.failure {
            return Err(FlashErrorKind::DownloadFailed { status, code });
        }
        if self.returned == Some(-1) {
            return Err(FlashErrorKind::Rejected {
                call: "fota.httpDownload",
                returned: "-1".into(),
            });
        }
        if self.timed_out.is_some() {
            return Err(FlashErrorKind::DownloadStalled {
                percent: self.percent.max(0),
                waited_s: self.options.download_timeout.as_secs(),
            });
        }
        if !self.complete {
            return Err(FlashErrorKind::BadAnswer {
                call: "fota.httpDownload",
                got: "no completion or failure reported".into(),
            });
        }
        if self.options.restart {
            Ok(Next::Restart(RESTART_CODE.to_vec()))
        } else {
            Ok(Next::Done { restarted: false })
        }
    }
}

fn numbers(rest: &str) -> Vec<i64> {
    rest.split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

impl ReplPlan for DownloadPlan {
    fn next(&mut self, report: &mut Report, reply: Reply<'_>) -> Result<Next, FlashErrorKind> {
        let call = |step, code: &[u8], timeout| Ok(Next::Exec(Call::new(step, code, timeout)));
        match (self.stage, reply) {
            (_, Reply::Connected) => call(Step::Identify, IDENTIFY_CODE, self.options.call_timeout),
            (_, Reply::Reconnected) => {
                self.stage = Stage::Confirm;
                report.log(LogLevel::Info, "Reading the version the module runs now");
                call(Step::Confirm, IDENTIFY_CODE, self.options.call_timeout)
            }
            (Stage::Identify, out) => {
                let out = out.output()?;
                let info = parse_identity(out).ok_or_else(|| bad_answer(IDENTIFY_CALL, out))?;
                let model = info.model.clone();
                self.old_version = info.firmware_version.clone();
                report.identified(info);
                if self.mini() && !is_model(MINI_FOTA_MODELS, &model) {
                    return Ok(Next::Fail {
                        step: Step::Prepare,
                        kind: FlashErrorKind::Unsuitable(format!(
                            "mini FOTA (two packages) is only for {}; this module is {model}: give \
                             one package",
                            MINI_FOTA_MODELS.join(", ")
                        )),
                    });
                }
                self.auto_restart = is_model(MINI_FOTA_MODELS, &model);
                if self.auto_restart {
                    report.log(
                        LogLevel::Info,
                        format!("The {model} restarts by itself after the download"),
                    );
                    if !self.options.restart {
                        report.log(
                            LogLevel::Warn,
                            "This model cannot stay on its firmware after a download: it \
                             restarts into the new one anyway",
                        );
                    }
                }
                self.stage = Stage::Prepare;
                let code = self.prepare_code();
                call(Step::Prepare, code.as_bytes(), self.options.call_timeout)
            }
            (Stage::Prepare, out) => {
                let out = out.output()?;
                if self.options.apn.is_some() && out != "0" {
                    return Err(FlashErrorKind::Rejected {
                        call: "fota.apn_set",
                        returned: out.to_string(),
                    });
                }
                self.stage = Stage::Download;
                let what = if self.mini() {
                    "two mini FOTA packages"
                } else {
                    "the package"
                };
                report.log(
                    LogLevel::Info,
                    format!("The module downloads {what} itself: {}", self.options.url1),
                );
                if !self.mini() {
                    self.percent = 0;
                    report.progress(0, 100);
                }
                let code = self.download_code();
                call(
                    Step::Download,
                    code.as_bytes(),
                    self.options.silence_timeout,
                )
            }
            (Stage::Download, out) => {
                if self.cancelling {
                    return Err(FlashErrorKind::Cancelled);
                }
                if let Reply::Output { stderr, .. } = out {
                    if !stderr.trim().is_empty() {
                        return Err(traceback(stderr));
                    }
                }
                self.download_result()
            }
            (Stage::Confirm, out) => {
                let out = out.output()?;
                let info = parse_identity(out).ok_or_else(|| bad_answer(IDENTIFY_CALL, out))?;
                let version = info.firmware_version.clone();
                report.identified(info);
                if version == self.old_version {
                    if self.mini() {
                        return Err(FlashErrorKind::Mismatch(format!(
                            "the module came back still running {version}: the mini FOTA did not \
                             apply"
                        )));
                    }
                    report.log(
                        LogLevel::Warn,
                        format!("The module still reports version {version}, as before"),
                    );
                }
                Ok(Next::Done { restarted: true })
            }
        }
    }

    fn position(&self) -> Option<(u64, u64)> {
        None
    }

    fn on_line(&mut self, report: &mut Report, line: &str) {
        let Some((tag, rest)) = line.split_once(' ') else {
            return;
        };
        let n = numbers(rest);
        match (tag, n.as_slice()) {
            ("@P", [status, second]) if (0..=2).contains(status) => {
                let pct = (*second).clamp(0, 100);
                if !self.started {
                    self.started = true;
                    report.log(LogLevel::Info, "The module is downloading the package");
                }
                if pct > self.percent {
                    self.percent = pct;
                    report.progress(pct as u64, 100);
                }
                if pct >= 100 && !self.complete {
                    self.complete = true;
                    report.log(
                        LogLevel::Info,
                        "The module downloaded and verified the package",
                    );
                    if self.auto_restart {
                        report.log(
                            LogLevel::Info,
                            "Waiting for the module to restart by itself",
                        );
                        report.expect_restart();
                    }
                }
            }
            ("@P", [status, code]) => {
                self.failure = Some((*status, *code));
            }
            ("@R", [r]) => {
                self.returned = Some(*r);
                if self.mini() && *r == 0 {
                    report.log(
                        LogLevel::Info,
                        "The module accepted both packages; it restarts by itself between the \
                         stages (no progress is reported in mini FOTA)",
                    );
                    report.expect_restart();
                }
            }
            ("@T", [r]) => self.timed_out = Some(*r),
            ("@C", [r]) => self.cancel_result = Some(*r),
            _ => {}
        }
    }

    fn interrupt_on_cancel(&mut self, step: Step) -> bool {
        self.cancelling = step == Step::Download;
        self.cancelling
    }

    fn module_state(&self, step: Step, kind: &FlashErrorKind) -> &'static str {
        match (step, kind) {
            (Step::Connect | Step::Identify | Step::Prepare, _) => "was not changed",
            (Step::Download, FlashErrorKind::Cancelled) => match self.cancel_result {
                Some(0) => {
                    "confirmed the cancel (download_cancel() returned 0) and still runs its \
                     previous firmware"
                }
                _ => {
                    "did not confirm the cancel; it still runs its previous firmware, but may \
                     finish the download and boot the new firmware"
                }
            },
            (Step::Download, FlashErrorKind::DownloadStalled { .. }) => match self.timed_out {
                Some(0) => "still runs its previous firmware; the download was cancelled on it",
                _ => {
                    "still runs its previous firmware, but did not confirm the cancel of the \
                     download"
                }
            },
            (
                Step::Download,
                FlashErrorKind::DownloadFailed { .. }
                | FlashErrorKind::Rejected { .. }
                | FlashErrorKind::Traceback { .. },
            ) => "still runs its previous firmware",
            (Step::Download, _) if self.auto_restart => {
                "still runs its previous firmware, but may go on downloading and restart into the \
                 new one by itself; power-cycle it to stop the download"
            }
            (Step::Download, _) => {
                "still runs its previous firmware, but may go on downloading; the new firmware \
                 would then run after its next restart"
            }
            (_, FlashErrorKind::Mismatch(_)) => "still runs its previous firmware",
            _ if self.mini() => {
                "was given both mini FOTA packages and restarted to apply them; reconnect to check \
                 the version it runs"
            }
            _ => {
                "downloaded and verified the new firmware and was restarted into it; reconnect to \
                 check the version it runs"
            }
        }
    }
}
