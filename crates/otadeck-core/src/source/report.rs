//! The result of an install in the source's own terms: AWS IoT job execution updates and
//! hawkBit DDI feedback. The caller sends them (or saves them to a file); nothing here does I/O.

use serde::Serialize;

use crate::manifest::aws_job::StatusUpdate;
use crate::manifest::hawkbit::Feedback;

/// How an install ended, as a report states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Ended {
    /// The module runs what the source offered.
    Succeeded {
        /// The version it now reports (or the offered one when it reports none).
        version: String,
    },
    /// Tried and failed; the module kept or returned to its previous firmware.
    Failed {
        /// Why, in words (the technician's message).
        reason: String,
    },
    /// Refused before anything was written (a wrong hash, a downgrade, a bad signature).
    Refused {
        /// Why, in words.
        reason: String,
    },
}

/// An AWS IoT job execution update for a step under way (`download`, `flash`, `restart`).
pub fn aws_in_progress(step: &str) -> StatusUpdate {
    StatusUpdate::in_progress(step).unwrap_or_else(|_| StatusUpdate::failed(step))
}

/// The final AWS IoT job execution update: `SUCCEEDED`, `FAILED` or `REJECTED`, with
/// `statusDetails` inside AWS's limits.
pub fn aws_final(ended: &Ended) -> StatusUpdate {
    use crate::manifest::aws_job::ExecutionStatus;
    match ended {
        Ended::Succeeded { version } => StatusUpdate::new(ExecutionStatus::Succeeded)
            .detail_lossy("version", version)
            .detail_lossy("updatedBy", "otadeck"),
        Ended::Failed { reason } => {
            StatusUpdate::failed(reason).detail_lossy("updatedBy", "otadeck")
        }
        Ended::Refused { reason } => StatusUpdate::new(ExecutionStatus::Rejected)
            .detail_lossy("reason", reason)
            .detail_lossy("updatedBy", "otadeck"),
    }
}

/// Every update of one install, in order, as a file to upload: `{"jobId":…,"updates":[…]}`,
/// each update the body of an `UpdateJobExecution` request.
pub fn aws_file(job_id: Option<&str>, updates: &[StatusUpdate]) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct File<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        job_id: Option<&'a str>,
        updates: &'a [StatusUpdate],
    }
    serde_json::to_string_pretty(&File { job_id, updates }).unwrap_or_default()
}

/// Where AWS IoT's HTTPS data plane takes an update of `job_id` for `thing`
/// (`UpdateJobExecution`: `POST {endpoint}/things/{thing}/jobs/{job_id}`, the body an
/// [`aws_in_progress`] or [`aws_final`] update). AWS IoT itself asks for the thing's X.509
/// certificate (mutual TLS); a relay that holds it takes the same request.
pub fn aws_update_url(endpoint: &str, thing: &str, job_id: &str) -> Result<String, String> {
    let mut url = url::Url::parse(endpoint).map_err(|e| format!("{endpoint:?}: {e}"))?;
    crate::manifest::safety::check_url(&url).map_err(|e| format!("{endpoint}: {e}"))?;
    url.path_segments_mut()
        .map_err(|_| format!("{endpoint} cannot take a path"))?
        .pop_if_empty()
        .extend(["things", thing, "jobs", job_id]);
    Ok(url.to_string())
}

/// hawkBit feedback while the install runs: `proceeding`, with progress when known.
pub fn hawkbit_proceeding(detail: &str, progress: Option<(u32, u32)>) -> Feedback {
    let f = match progress {
        Some((cnt, of)) => Feedback::proceeding(cnt, of),
        None => Feedback::new(
            crate::manifest::hawkbit::Execution::Proceeding,
            crate::manifest::hawkbit::Finished::None,
        ),
    };
    f.with_detail(detail)
}

/// The final hawkBit feedback: `closed` with `success` or `failure`, and the details.
pub fn hawkbit_final(ended: &Ended) -> Feedback {
    match ended {
        Ended::Succeeded { version } => {
            Feedback::closed_success().with_detail(format!("otadeck: the module runs {version}"))
        }
        Ended::Failed { reason } | Ended::Refused { reason } => {
            Feedback::closed_failure().with_detail(format!("otadeck: {reason}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::aws_job::check_detail;

    #[test]
    fn a_long_failure_fits_aws_limits() {
        let reason = format!("Writing failed\n{}", "x".repeat(5000));
        let u = aws_final(&Ended::Failed { reason });
        let json: serde_json::Value = serde_json::from_str(&u.to_json()).unwrap();
        assert_eq!(json["status"], "FAILED");
        for (k, v) in u.status_details() {
            check_detail(k, v).unwrap();
        }
        assert_eq!(u.status_details()["reason"].chars().count(), 1024);
    }

    #[test]
    fn the_file_lists_every_update_in_order() {
        let ups = [
            aws_in_progress("download"),
            aws_in_progress("flash"),
            aws_final(&Ended::Succeeded {
                version: "2.1.0".into(),
            }),
        ];
        let file: serde_json::Value = serde_json::from_str(&aws_file(Some("job-7"), &ups)).unwrap();
        assert_eq!(file["jobId"], "job-7");
        let statuses: Vec<&str> = file["updates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]);
        assert_eq!(file["updates"][2]["statusDetails"]["version"], "2.1.0");
    }

    #[test]
    fn aws_updates_go_to_the_things_job_path() {
        assert_eq!(
            aws_update_url(
                "https://data.iot.eu-west-1.amazonaws.com/",
                "dev 1",
                "fw-2.1.0"
            )
            .unwrap(),
            "https://data.iot.eu-west-1.amazonaws.com/things/dev%201/jobs/fw-2.1.0"
        );
        assert!(aws_update_url("http://relay.example", "t", "j").is_err());
    }

    #[test]
    fn hawkbit_feedback_closes_with_the_result() {
        let ok: serde_json::Value = serde_json::from_str(
            &hawkbit_final(&Ended::Succeeded {
                version: "1.1".into(),
            })
            .to_json(),
        )
        .unwrap();
        assert_eq!(ok["status"]["execution"], "closed");
        assert_eq!(ok["status"]["result"]["finished"], "success");
        let bad: serde_json::Value = serde_json::from_str(
            &hawkbit_final(&Ended::Refused {
                reason: "SHA-256 mismatch".into(),
            })
            .to_json(),
        )
        .unwrap();
        assert_eq!(bad["status"]["result"]["finished"], "failure");
        assert!(bad["status"]["details"][0]
            .as_str()
            .unwrap()
            .contains("SHA-256 mismatch"));
        let p: serde_json::Value =
            serde_json::from_str(&hawkbit_proceeding("writing", Some((3, 10))).to_json()).unwrap();
        assert_eq!(p["status"]["execution"], "proceeding");
        assert_eq!(p["status"]["result"]["progress"]["cnt"], 3);
    }
}
