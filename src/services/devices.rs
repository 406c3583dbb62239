//! The devices the page holds, and the session log they share. Each connected module has its
//! own [`DeviceSession`]; the Flash and Device pages work on the first, the Campaigns page on
//! every one, in parallel (a bench with a USB hub). The log and the
//! record of the last flash are kept in the browser ([`keep`]) and read back after a reload.

use std::cell::Cell;
use std::rc::Rc;

use otadeck_core::family::Family;
use otadeck_core::session::{group_digits, LogLevel, Step};
use yew::Callback;

use super::device::DeviceHandle;
use super::keep::{self, FlashRecord};
use super::log::{self, LogEntry, SessionLog};
use super::store::{Store, Watch};

/// Lines of the log kept across a reload (the newest).
const KEPT_LINES: usize = 2000;
/// A burst of log lines is kept once, this long after its first line: the log is serialised a
/// few times a second at most, never once per line.
const KEEP_AFTER: std::time::Duration = std::time::Duration::from_millis(300);

/// The devices service, provided to every component as a context.
#[derive(Clone)]
pub struct Devices {
    list: Store<Vec<DeviceHandle>>,
    log: SessionLog,
    /// What a reload cut off, said once after it.
    recovery: Store<Option<String>>,
    /// Keeps the log in the browser while held.
    _keeping: Rc<Watch<Vec<LogEntry>>>,
    /// The kept log was read back: from then on the log is kept (never before, so that the
    /// first lines of a new page cannot overwrite it).
    restored: Rc<Cell<bool>>,
}

/// Two handles are equal when they hold the same devices and log.
impl PartialEq for Devices {
    fn eq(&self, other: &Self) -> bool {
        self.list == other.list && self.log == other.log
    }
}

impl Default for Devices {
    fn default() -> Self {
        let log = SessionLog::default();
        let restored = Rc::new(Cell::new(false));
        let (kept, ready) = (log.clone(), restored.clone());
        let due = Rc::new(Cell::new(false));
        let keeping = Rc::new(log.watch(Callback::from(move |_| {
            if !ready.get() || due.replace(true) {
                return;
            }
            let (kept, due) = (kept.clone(), due.clone());
            wasm_bindgen_futures::spawn_local(async move {
                gloo::timers::future::sleep(KEEP_AFTER).await;
                due.set(false);
                keep_log(&kept);
            });
        })));
        Devices {
            list: Store::new(vec![DeviceHandle::new(log.clone())]),
            log,
            recovery: Store::default(),
            _keeping: keeping,
            restored,
        }
    }
}

impl Devices {
    /// The device the pages work on.
    pub fn current(&self) -> DeviceHandle {
        self.list.get()[0].clone()
    }

    /// A new device for another module on the bench (a port of a USB hub): its own session,
    /// flashing in parallel with the others.
    pub fn add(&self) -> DeviceHandle {
        let slot = self.list.get().iter().map(|d| d.slot).max().unwrap_or(0) + 1;
        let device = DeviceHandle::in_slot(self.log.clone(), slot);
        for d in self.list.get().iter() {
            d.name_lines();
        }
        self.list.update(|l| l.push(device.clone()));
        device
    }

    /// Let go of a device that is not the first (its link is closed first).
    pub async fn remove(&self, device: &DeviceHandle) {
        if device.slot == 1 || device.view.get().busy {
            return;
        }
        device.disconnect().await;
        self.list.update(|l| l.retain(|d| d != device));
    }

    /// Every device, watched by components that list them.
    pub fn list(&self) -> &Store<Vec<DeviceHandle>> {
        &self.list
    }

    /// The session log of every device.
    pub fn log(&self) -> &SessionLog {
        &self.log
    }

    /// What the last reload interrupted, until the technician dismisses it.
    pub fn recovery(&self) -> &Store<Option<String>> {
        &self.recovery
    }

    /// After a (re)load: the log kept before it comes back, and a flash it cut off is said in
    /// words, with what the module holds now.
    pub async fn restore(&self) {
        self.restore_log().await;
        self.restored.set(true);
        keep_log(&self.log);
        self.restore_flash().await;
    }

    async fn restore_log(&self) {
        if let Some(json) = keep::load(keep::LOG_KEY).await {
            if let Ok(before) = serde_json::from_str::<Vec<LogEntry>>(&json) {
                if !before.is_empty() {
                    self.log.update(|lines| {
                        let now = std::mem::take(lines);
                        *lines = before;
                        lines.extend(now);
                    });
                    log::append(
                        &self.log,
                        LogLevel::Info,
                        "— The page was loaded again; the lines above are from before —",
                    );
                }
            }
        }
    }

    async fn restore_flash(&self) {
        let Some(json) = keep::load(keep::FLASH_KEY).await else {
            return;
        };
        let Ok(mut record) = serde_json::from_str::<FlashRecord>(&json) else {
            return;
        };
        if record.ended.is_some() {
            return;
        }
        let text = interrupted(&record);
        log::append(&self.log, LogLevel::Error, text.clone());
        self.recovery.update(|r| *r = Some(text.clone()));
        // Said once: the record now holds how it ended.
        record.ended = Some(text);
        if let Ok(json) = serde_json::to_string(&record) {
            keep::save(keep::FLASH_KEY, json);
        }
    }
}

/// Keep the newest lines of `log` in the browser.
fn keep_log(log: &SessionLog) {
    let lines = log.get();
    let from = lines.len().saturating_sub(KEPT_LINES);
    if let Ok(json) = serde_json::to_string(&lines[from..]) {
        keep::save(keep::LOG_KEY, json);
    }
}

/// "The previous flash was interrupted at 40 % …", with what the module holds now.
fn interrupted(r: &FlashRecord) -> String {
    let holds = Family::from_key(&r.family)
        .map(|f| f.after_interruption(r.step))
        .unwrap_or("is in a state otadeck cannot tell: read it again");
    let module = if r.module.is_empty() {
        "the module".to_string()
    } else {
        r.module.clone()
    };
    let at = if r.total > 0 && r.step == Step::Write {
        format!(
            "at {} % (byte {} of {}) in step {}",
            r.percent(),
            group_digits(r.done),
            group_digits(r.total),
            r.step.label()
        )
    } else {
        format!("at {} % in step {}", r.percent(), r.step.label())
    };
    format!(
        "The previous flash (started {}, {}) was interrupted by a reload or a closed page {at}. \
         The module ({module}) {holds}. Reconnect it and check it before flashing again.",
        r.started, r.image,
    )
}
