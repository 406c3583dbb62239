//! Reporting a campaign's results where the plan says: each report is queued once per attempt in
//! IndexedDB, sent one at a time, and kept with its answer before the next is sent. Waiting
//! reports are sent again when the browser is back online and every 30 s.

use otadeck_core::campaign::outbox::{reports_for, Outgoing, ReportKind};
use otadeck_core::campaign::record::Attempt;
use otadeck_core::session::LogLevel;

use super::super::{fetcher, records};
use super::{now_ms, Campaigns};

/// What sends waiting reports again, held while the page is open.
pub(super) struct Retries {
    _online: gloo::events::EventListener,
    _timer: gloo::timers::callback::Interval,
}

/// How often waiting reports are tried again.
const RETRY_EVERY_MS: u32 = 30_000;

impl Campaigns {
    /// Queue the reports the open plan asks for about `attempt` (once each), then send.
    pub(super) async fn report(&self, attempt: &Attempt) {
        let Some(open) = self.view.get().plan.clone() else {
            return;
        };
        // Shown (and so known) at once, before anything awaits: a report is queued once.
        let mut new = Vec::new();
        self.view.update(|v| {
            for r in reports_for(&open.plan, attempt) {
                if !v.outbox.iter().any(|o| o.id == r.id) {
                    v.outbox.push(r.clone());
                    new.push(r);
                }
            }
        });
        for r in &new {
            if let Err(e) = records::put_report(r).await {
                self.fail(format!("A report could not be queued in this browser: {e}"));
            }
        }
        if !new.is_empty() {
            self.send_reports().await;
        }
    }

    /// Send every waiting report, one at a time; each is kept with its answer before the next
    /// is sent. A hawkBit report waits for the Management API login.
    pub async fn send_reports(&self) {
        if self.sending.replace(true) {
            return;
        }
        let login = self.hawkbit_login.borrow().clone();
        let waiting: Vec<Outgoing> = self
            .view
            .get()
            .outbox
            .iter()
            .filter(|r| r.pending())
            .cloned()
            .collect();
        let log = self.devices.current();
        for mut r in waiting {
            let headers: Vec<(&str, &str)> = match (r.kind, &login) {
                (ReportKind::HawkbitOffline, Some(l)) => vec![("Authorization", l.as_str())],
                (ReportKind::HawkbitOffline, None) => continue,
                (ReportKind::Result, _) => Vec::new(),
            };
            match fetcher::send_json("POST", &r.url, &headers, &r.body).await {
                Ok(status) => {
                    r.answered(status, "", now_ms());
                    let level = if r.pending() || status >= 400 {
                        LogLevel::Warn
                    } else {
                        LogLevel::Info
                    };
                    log.log(
                        level,
                        format!("Report {} answered HTTP {status} by {}", r.id, r.url),
                    );
                }
                Err(e) => r.failed(e),
            }
            if let Err(e) = records::put_report(&r).await {
                self.fail(format!("A report's answer could not be kept: {e}"));
            }
            self.view.update(|v| {
                if let Some(o) = v.outbox.iter_mut().find(|o| o.id == r.id) {
                    *o = r.clone();
                }
            });
        }
        self.sending.set(false);
    }

    /// The hawkBit Management API login (`user:password`), kept only while the page is open;
    /// waiting hawkBit reports are sent with it.
    pub async fn set_hawkbit_login(&self, user_password: &str) {
        use base64::Engine;
        let login = Some(user_password.trim())
            .filter(|l| !l.is_empty())
            .map(|l| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(l)
                )
            });
        *self.hawkbit_login.borrow_mut() = login;
        self.send_reports().await;
    }

    /// The hawkBit login was given.
    pub fn has_hawkbit_login(&self) -> bool {
        self.hawkbit_login.borrow().is_some()
    }

    /// Send waiting reports when the browser is back online, and every 30 s.
    pub(super) fn keep_sending(&self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let (online, timer) = (self.clone(), self.clone());
        let listener = gloo::events::EventListener::new(&window, "online", move |_| {
            let c = online.clone();
            wasm_bindgen_futures::spawn_local(async move { c.send_reports().await });
        });
        let interval = gloo::timers::callback::Interval::new(RETRY_EVERY_MS, move || {
            if timer.view.get().outbox.iter().any(Outgoing::pending) {
                let c = timer.clone();
                wasm_bindgen_futures::spawn_local(async move { c.send_reports().await });
            }
        });
        *self.retries.borrow_mut() = Some(Retries {
            _online: listener,
            _timer: interval,
        });
    }
}
