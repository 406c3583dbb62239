//! The catalogue of failures a technician can see: each has a plain cause for the headline, the
//! protocol detail for the log, what the module holds now, and one action that fits the cause.

use std::fmt;

use crate::session::{group_digits, Step};

/// A session that failed: the step, the byte offset where it applies, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashError {
    /// The step that failed.
    pub step: Step,
    /// How far the image had been written when it failed, where that applies.
    pub offset: Option<u64>,
    /// The image size, where that applies.
    pub total: Option<u64>,
    /// The cause.
    pub kind: FlashErrorKind,
    /// What the module holds now, in words (for example "still runs its previous firmware").
    pub module_state: &'static str,
}

/// Why a session failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlashErrorKind {
    /// The technician cancelled.
    Cancelled,
    /// The image is empty.
    EmptyImage,
    /// The module stopped answering.
    NoResponse { waiting_for: &'static str },
    /// The link to the module went away.
    LinkLost,
    /// The module sent something the protocol does not allow.
    Protocol(String),
    /// A module call returned an error value.
    Rejected {
        call: &'static str,
        returned: String,
    },
    /// The code raised on the module; `last_line` is the exception line of the traceback.
    Traceback { last_line: String },
    /// The module's answer could not be understood.
    BadAnswer { call: &'static str, got: String },
    /// The image cannot go to this module (wrong kind, too large for its flash or slot).
    Unsuitable(String),
    /// The module's state forbids the job until it is settled: `why`, and what to do (`then`).
    ModuleState { why: String, then: &'static str },
    /// The module's firmware lacks what this way of updating needs.
    ModuleLacks(String),
    /// What the module holds differs from what was sent.
    Mismatch(String),
    /// The module's own download of the package failed with this status and error code.
    DownloadFailed { status: i64, code: i64 },
    /// The module's own download reached `percent` % and did not finish within `waited_s`.
    DownloadStalled { percent: i64, waited_s: u64 },
    /// The device reports an error status (USB DFU: `errVERIFY: flash verify failed`) while
    /// `during` (what was being done).
    DeviceStatus {
        status: String,
        during: &'static str,
    },
}

/// QuecPython's download callback status for a failed download (`code` is the error).
const DOWNLOAD_FAILED: i64 = 3;
/// The callback status of a package that arrived whole and failed the module's check.
const PACKAGE_REFUSED: i64 = 4;

impl FlashError {
    /// The cause in plain words, without protocol names or codes.
    pub fn cause(&self) -> String {
        match &self.kind {
            FlashErrorKind::Cancelled => "cancelled by you".into(),
            FlashErrorKind::EmptyImage => "the image is empty (0 bytes)".into(),
            FlashErrorKind::NoResponse { waiting_for } => {
                format!("the module stopped answering while {waiting_for}")
            }
            FlashErrorKind::LinkLost => "the connection to the module was lost".into(),
            FlashErrorKind::Protocol(_) => "the data on the line was garbled".into(),
            FlashErrorKind::Rejected { call, .. } => rejected_cause(call).into(),
            FlashErrorKind::Traceback { .. } => "the module's firmware raised an error".into(),
            FlashErrorKind::BadAnswer { .. } => {
                "the module gave an answer otadeck does not understand".into()
            }
            FlashErrorKind::Unsuitable(text)
            | FlashErrorKind::ModuleLacks(text)
            | FlashErrorKind::Mismatch(text)
            | FlashErrorKind::ModuleState { why: text, .. } => text.clone(),
            FlashErrorKind::DownloadFailed { status, code } => download_cause(*status, *code),
            FlashErrorKind::DeviceStatus { status, .. } => format!("the device reports {status}"),
            FlashErrorKind::DownloadStalled { percent, waited_s } => format!(
                "the module's download stopped at {percent} % and did not finish within \
                 {waited_s} s"
            ),
        }
    }

    /// The protocol detail behind the cause, for the log.
    pub fn detail(&self) -> Option<String> {
        match &self.kind {
            FlashErrorKind::Protocol(text) => Some(text.clone()),
            FlashErrorKind::Rejected { call, returned } => {
                Some(format!("{call} returned {returned}"))
            }
            FlashErrorKind::Traceback { last_line } => Some(last_line.clone()),
            FlashErrorKind::BadAnswer { call, got } => Some(format!("to {call}: {got}")),
            FlashErrorKind::DownloadFailed { status, code } => {
                Some(format!("download status {status}, code {code}"))
            }
            FlashErrorKind::DeviceStatus { during, .. } => Some(format!("while {during}")),
            _ => None,
        }
    }

    /// `Writing failed at byte 40,960 of 98,304: the connection to the module was lost`.
    pub fn headline(&self) -> String {
        let verb = if self.kind == FlashErrorKind::Cancelled {
            "stopped"
        } else {
            "failed"
        };
        let mut out = format!("{} {verb}", self.step.label());
        // A byte position means something once writing started.
        let writing = matches!(self.step, Step::Write | Step::Verify);
        if let (Some(offset), Some(total), true) = (self.offset, self.total, writing) {
            out.push_str(&format!(
                " at byte {} of {}",
                group_digits(offset),
                group_digits(total)
            ));
        }
        out.push_str(": ");
        out.push_str(&self.cause());
        out
    }

    /// `The module still runs its previous firmware.`
    pub fn module_now(&self) -> String {
        format!("The module {}.", self.module_state)
    }

    /// What the technician can do about it, in one sentence that fits the cause.
    pub fn advice(&self) -> &'static str {
        match &self.kind {
            FlashErrorKind::Cancelled => "Start the flash again when ready.",
            FlashErrorKind::EmptyImage => "Choose a firmware file that is not empty.",
            FlashErrorKind::NoResponse { .. } | FlashErrorKind::LinkLost => {
                "Check the USB cable and the module's power, reconnect, and flash again."
            }
            FlashErrorKind::Rejected { call, .. } => rejected_advice(call),
            FlashErrorKind::Traceback { .. } | FlashErrorKind::BadAnswer { .. } => {
                "Check that the module runs the firmware family chosen for it, then try again."
            }
            FlashErrorKind::Unsuitable(_) => "Choose a firmware image built for this module.",
            FlashErrorKind::ModuleState { then, .. } => then,
            FlashErrorKind::ModuleLacks(_) => {
                "This firmware cannot take an update this way: update the module through its \
                 bootloader or the vendor's tool."
            }
            FlashErrorKind::Mismatch(_) => {
                "The module did not store the image intact. Flash again; if it fails twice, check \
                 the cable and the module's power supply."
            }
            FlashErrorKind::Protocol(_) => "Check the cable and the baud rate, then flash again.",
            FlashErrorKind::DownloadFailed { status, code } => download_advice(*status, *code),
            FlashErrorKind::DownloadStalled { .. } => {
                "Check the module's signal and data connection (SIM, APN), then try again."
            }
            FlashErrorKind::DeviceStatus { status, .. } => device_status_advice(status),
        }
    }
}

/// What a refused call means, by what the call does.
fn rejected_cause(call: &str) -> &'static str {
    let upper = call.to_ascii_uppercase();
    if upper.ends_with("VERIFY") {
        "the module's check of the image it received failed"
    } else if upper.contains("BEGIN") || upper.contains("ERASE") {
        "the module refused to prepare its flash for the image"
    } else if upper.contains("DATA") || upper.contains("WRITE") || upper.contains("UPLOAD") {
        "the module refused a block of the image"
    } else if upper.contains("MD5") {
        "the chip could not check what it wrote"
    } else if upper.contains("DOWNLOAD") {
        "the module refused to start the download"
    } else {
        "the module refused the request"
    }
}

fn rejected_advice(call: &str) -> &'static str {
    let upper = call.to_ascii_uppercase();
    if upper.ends_with("VERIFY") {
        "The module found the image it received incomplete or damaged. Flash again; if it fails \
         twice, check the cable and that the file is a firmware package for this module."
    } else if upper.contains("BEGIN") || upper.contains("ERASE") {
        "Check that the image fits the module's flash and update slot; if it does, power-cycle \
         the module and flash again."
    } else if upper.contains("DATA") || upper.contains("WRITE") || upper.contains("UPLOAD") {
        "Flash again; if it stops at the same byte twice, check the cable and the module's power \
         supply."
    } else if upper.contains("DOWNLOAD") {
        "Check the package URL, then the module's SIM, APN and signal, and try again."
    } else {
        "Check that the image is a firmware package for this module and fits its update area."
    }
}

/// What to do about a USB DFU error status, by its name (`errVERIFY: …`).
fn device_status_advice(status: &str) -> &'static str {
    let name = status.split(':').next().unwrap_or_default();
    match name {
        "errTARGET" | "errFILE" | "errADDRESS" | "errFIRMWARE" => {
            "Choose a firmware file built for this device and its memory layout, then flash again."
        }
        "errWRITE" | "errERASE" | "errCHECK_ERASED" | "errPROG" => {
            "The device could not write its flash: it may be read- or write-protected. Remove the \
             protection with the vendor's tool, or power-cycle the device and flash again."
        }
        "errVERIFY" => {
            "The device did not store the image intact. Flash again; if it fails twice, check the \
             cable and the device's power supply."
        }
        _ => "Unplug the device, put it back into DFU mode, and flash again.",
    }
}

/// The HTTP status a download error code is, when it is one.
fn http_status(code: i64) -> Option<i64> {
    (100..600).contains(&code).then_some(code)
}

fn download_cause(status: i64, code: i64) -> String {
    match (status, http_status(code)) {
        (PACKAGE_REFUSED, _) => "the module downloaded the package, but its check refused it: \
             the package is damaged or not made for this module"
            .into(),
        (DOWNLOAD_FAILED, Some(http)) => {
            format!("the module could not download the package: the server answered HTTP {http}")
        }
        _ => "the module could not download the package".into(),
    }
}

fn download_advice(status: i64, code: i64) -> &'static str {
    match (status, http_status(code)) {
        (PACKAGE_REFUSED, _) => {
            "Get the package again, made for this module's model and firmware version, and try \
             again."
        }
        (_, Some(404 | 410)) => {
            "The server has no file at that URL: check the address (open it on a computer)."
        }
        (_, Some(401 | 403)) => {
            "The server refused access: check the URL's token or the server's access rules."
        }
        (_, Some(500..)) => "The server failed: try again later, or ask whoever runs it.",
        _ => "Check the module's SIM, APN and signal, then try again.",
    }
}

impl fmt::Display for FlashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline())?;
        if let Some(detail) = self.detail() {
            write!(f, " ({detail})")?;
        }
        write!(f, ". {}", self.module_now())
    }
}

impl std::error::Error for FlashError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(kind: FlashErrorKind) -> FlashError {
        FlashError {
            step: Step::Download,
            offset: None,
            total: None,
            kind,
            module_state: "still runs its previous firmware",
        }
    }

    #[test]
    fn a_package_that_fails_the_module_check_is_not_called_a_download_failure() {
        let e = error(FlashErrorKind::DownloadFailed { status: 4, code: 0 });
        assert!(e
            .headline()
            .contains("downloaded the package, but its check refused it"));
        assert!(!e.headline().contains("status"));
        assert!(e.advice().starts_with("Get the package again"));
        assert!(!e.advice().contains("SIM"));
        assert!(e.to_string().contains("(download status 4, code 0)"));
    }

    #[test]
    fn a_download_error_names_the_http_status_and_fits_the_advice() {
        let e = error(FlashErrorKind::DownloadFailed {
            status: 3,
            code: 404,
        });
        assert!(e.headline().ends_with("the server answered HTTP 404"));
        assert!(e.advice().contains("no file at that URL"));
        let e = error(FlashErrorKind::DownloadFailed { status: 3, code: 7 });
        assert!(e.headline().ends_with("could not download the package"));
        assert!(e.advice().contains("SIM, APN and signal"));
    }

    #[test]
    fn protocol_names_stay_out_of_the_headline() {
        let e = FlashError {
            step: Step::Write,
            offset: Some(0),
            total: Some(10 << 20),
            ..error(FlashErrorKind::Rejected {
                call: "FLASH_DEFL_BEGIN",
                returned: "status 1, error 0x08".into(),
            })
        };
        assert_eq!(
            e.headline(),
            "Writing failed at byte 0 of 10,485,760: the module refused to prepare its flash for \
             the image"
        );
        assert!(e.advice().contains("fits the module's flash"));
        assert!(e
            .to_string()
            .contains("(FLASH_DEFL_BEGIN returned status 1, error 0x08)"));
    }

    #[test]
    fn a_state_refusal_carries_its_own_action() {
        let e = error(FlashErrorKind::ModuleState {
            why: "the running firmware is still on trial".into(),
            then: "Accept it or roll it back on the Device page, then flash again.",
        });
        assert_eq!(
            e.advice(),
            "Accept it or roll it back on the Device page, then flash again."
        );
        let unsuitable = error(FlashErrorKind::Unsuitable("too large".into()));
        assert!(!unsuitable.advice().contains("state"));
    }
}
