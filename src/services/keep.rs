//! What the browser keeps across a reload, in IndexedDB (store `session` of [`super::db`]):
//! the session log and the record of the last flash. Writes go through one queue that keeps
//! only the newest value of each key, so a burst of log lines costs one write, and a write never
//! overtakes an older one.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use idb::TransactionMode;
use otadeck_core::session::Step;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use super::db::{database, SESSION as STORE};

/// The key of the session log.
pub const LOG_KEY: &str = "log";
/// The key of the last flash's record.
pub const FLASH_KEY: &str = "last_flash";

/// The last flash, as far as the page saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlashRecord {
    /// The family's key (`Family::key`).
    pub family: String,
    /// The module, as the header named it.
    pub module: String,
    /// The image's name and version, or the package URL.
    pub image: String,
    /// Wall-clock time it started, `HH:MM:SS`.
    pub started: String,
    /// The step it was in.
    pub step: Step,
    /// Bytes (or percent, for a module's own download) done.
    pub done: u64,
    /// Of this many.
    pub total: u64,
    /// How it ended, in the result card's words; `None` while it runs, so a record found
    /// without it after a reload is a flash that was cut off.
    pub ended: Option<String>,
}

impl FlashRecord {
    /// How far it got, in percent.
    pub fn percent(&self) -> u64 {
        (self.done * 100).checked_div(self.total).unwrap_or(0)
    }
}

#[derive(Default)]
struct Queue {
    pending: RefCell<BTreeMap<&'static str, String>>,
    writing: Cell<bool>,
}

thread_local! {
    static QUEUE: Rc<Queue> = Rc::new(Queue::default());
}

/// Keep `json` under `key` (newest wins; written in the background).
pub fn save(key: &'static str, json: String) {
    QUEUE.with(|queue| {
        queue.pending.borrow_mut().insert(key, json);
        if queue.writing.replace(true) {
            return;
        }
        let queue = queue.clone();
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let batch = std::mem::take(&mut *queue.pending.borrow_mut());
                if batch.is_empty() {
                    break;
                }
                if let Err(e) = write(batch).await {
                    web_sys::console::warn_1(
                        &format!("otadeck: could not keep the session: {e}").into(),
                    );
                }
            }
            queue.writing.set(false);
        });
    });
}

async fn write(batch: BTreeMap<&'static str, String>) -> Result<(), idb::Error> {
    let db = database().await?;
    let tx = db.transaction(&[STORE], TransactionMode::ReadWrite)?;
    let store = tx.object_store(STORE)?;
    for (key, json) in batch {
        store
            .put(&JsValue::from_str(&json), Some(&JsValue::from_str(key)))?
            .await?;
    }
    tx.commit()?.await?;
    Ok(())
}

/// What was kept under `key`, if anything.
pub async fn load(key: &'static str) -> Option<String> {
    let db = database().await.ok()?;
    let tx = db.transaction(&[STORE], TransactionMode::ReadOnly).ok()?;
    let store = tx.object_store(STORE).ok()?;
    let value = store.get(JsValue::from_str(key)).ok()?.await.ok()??;
    value.as_string()
}
