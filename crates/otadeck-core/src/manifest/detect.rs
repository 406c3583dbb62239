//! Which kind of document a JSON body is, told by its shape (never by its file name), and the
//! parse of it by the right parser.

use serde::Serialize;
use serde_json::Value;

use super::{
    aws_job, esp_web_tools, hawkbit, plan, pycom, ErrorKind, ManifestError, MAX_DOCUMENT_BYTES,
};

/// The document kinds otadeck reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Pycom OTA `manifest.json` body (including the literal `null`).
    Pycom,
    /// ESP Web Tools manifest.
    EspWebTools,
    /// AWS IoT job document (Zerynth `bc_*` or FreeRTOS `afr_ota`).
    AwsJob,
    /// hawkBit DDI controller base resource.
    HawkbitController,
    /// hawkBit DDI deploymentBase.
    HawkbitDeployment,
    /// hawkBit DDI action feedback.
    HawkbitFeedback,
    /// otadeck campaign plan.
    CampaignPlan,
}

impl DocumentKind {
    /// The kind in words.
    pub fn name(self) -> &'static str {
        match self {
            DocumentKind::Pycom => "Pycom OTA manifest",
            DocumentKind::EspWebTools => "ESP Web Tools manifest",
            DocumentKind::AwsJob => "AWS IoT job document",
            DocumentKind::HawkbitController => "hawkBit DDI controller base",
            DocumentKind::HawkbitDeployment => "hawkBit DDI deploymentBase",
            DocumentKind::HawkbitFeedback => "hawkBit DDI feedback",
            DocumentKind::CampaignPlan => "otadeck campaign plan",
        }
    }
}

/// A parsed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "document", rename_all = "snake_case")]
pub enum Document {
    Pycom(pycom::PycomResponse),
    EspWebTools(esp_web_tools::EspWebToolsManifest),
    AwsJob(aws_job::Job),
    HawkbitController(hawkbit::ControllerBase),
    HawkbitDeployment(hawkbit::DeploymentBase),
    HawkbitFeedback(hawkbit::Feedback),
    CampaignPlan(plan::CampaignPlan),
}

/// The kind of document `bytes` looks like, or `None` when it is not JSON of a known shape.
pub fn sniff(bytes: &[u8]) -> Option<DocumentKind> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    if bytes.len() > MAX_DOCUMENT_BYTES || !matches!(bytes[start], b'{' | b'n') {
        return None;
    }
    let value: Value = serde_json::from_slice(bytes).ok()?;
    kind_of(&value)
}

/// Whether `bytes` was meant as a JSON document (a manifest, a plan): its name ends in `.json`,
/// or its first byte after a byte-order mark and white space opens an object or an array.
pub fn meant_as_document(bytes: &[u8], name: Option<&str>) -> bool {
    let named = name.is_some_and(|n| {
        let n = n.split(['?', '#']).next().unwrap_or(n);
        n.to_ascii_lowercase().ends_with(".json")
    });
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    named || matches!(first, Some(b'{' | b'['))
}

/// The kind of a body meant as a document (see [`meant_as_document`]). JSON that does not parse
/// is an error naming its line and column; JSON of no shape otadeck reads is an error naming
/// what it holds.
pub fn classify(bytes: &[u8]) -> Result<DocumentKind, ManifestError> {
    let value = super::json::parse_document(bytes)?;
    kind_of(&value).ok_or_else(|| {
        let holds = match &value {
            Value::Object(map) => {
                let keys: Vec<&str> = map.keys().take(6).map(String::as_str).collect();
                format!("an object with the keys {}", keys.join(", "))
            }
            Value::Array(_) => "an array".into(),
            other => format!("the single value {other}"),
        };
        ManifestError::new(
            "",
            ErrorKind::Unsupported {
                message: format!(
                    "valid JSON, but no manifest or plan otadeck reads: it holds {holds}"
                ),
            },
        )
    })
}

/// The kind of a parsed JSON value, by its shape.
fn kind_of(value: &Value) -> Option<DocumentKind> {
    let Value::Object(map) = value else {
        return value.is_null().then_some(DocumentKind::Pycom);
    };
    let has = |k: &str| map.contains_key(k);
    let kind = if map.get("format").and_then(Value::as_str) == Some("otadeck-campaign-plan") {
        DocumentKind::CampaignPlan
    } else if has("builds") {
        DocumentKind::EspWebTools
    } else if has("afr_ota") || has("bc_url") || has("execution") || has("jobDocument") {
        DocumentKind::AwsJob
    } else if has("deployment") {
        DocumentKind::HawkbitDeployment
    } else if map
        .get("status")
        .is_some_and(|s| s.get("execution").is_some())
    {
        DocumentKind::HawkbitFeedback
    } else if has("config") && has("_links") {
        DocumentKind::HawkbitController
    } else if has("version")
        && ["delete", "new", "update", "firmware"]
            .iter()
            .any(|k| has(k))
    {
        DocumentKind::Pycom
    } else {
        return None;
    };
    Some(kind)
}

/// Parse `bytes` as a document of `kind`. `url` is where it was fetched from, if it was: ESP Web
/// Tools part paths and a campaign plan's file URLs resolve against it.
pub fn parse(
    bytes: &[u8],
    kind: DocumentKind,
    url: Option<&str>,
) -> Result<Document, ManifestError> {
    Ok(match kind {
        DocumentKind::Pycom => Document::Pycom(pycom::parse(bytes)?),
        DocumentKind::EspWebTools => Document::EspWebTools(match url {
            Some(u) => esp_web_tools::parse_at(bytes, u)?,
            None => esp_web_tools::parse(bytes)?,
        }),
        DocumentKind::AwsJob => Document::AwsJob(aws_job::parse(bytes)?),
        DocumentKind::HawkbitController => {
            Document::HawkbitController(hawkbit::parse_controller_base(bytes)?)
        }
        DocumentKind::HawkbitDeployment => {
            Document::HawkbitDeployment(hawkbit::parse_deployment_base(bytes)?)
        }
        DocumentKind::HawkbitFeedback => Document::HawkbitFeedback(hawkbit::parse_feedback(bytes)?),
        DocumentKind::CampaignPlan => {
            let base = url.and_then(|u| url::Url::parse(u).ok());
            Document::CampaignPlan(plan::parse_with(bytes, base.as_ref())?)
        }
    })
}
