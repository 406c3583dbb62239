//! Campaign records in IndexedDB: every attempt (store `attempts`, by id), the plans loaded
//! (store `campaigns`) and the reports to send (store `outbox`). Writes go through one queue, so a write never overtakes an older one;
//! [`put`] returns once its transaction has committed, so a state change is on disk before the
//! step after it starts. Progress within a step goes through [`put_soon`], newest value wins.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use futures::channel::oneshot;
use idb::TransactionMode;
use otadeck_core::campaign::outbox::Outgoing;
use otadeck_core::campaign::record::Attempt;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use super::db::{database, ATTEMPTS, CAMPAIGNS, OUTBOX};

/// The key, in `campaigns`, of the plan the Campaigns page has open.
const OPEN_PLAN: &str = "open";

/// A plan as loaded: its text and where it came from, so that a reload reads it again with no
/// network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptPlan {
    /// The plan id.
    pub id: String,
    /// Its JSON, as fetched or pasted.
    pub text: String,
    /// The URL it came from, when fetched (its file URLs resolve against it).
    pub url: Option<String>,
    /// Where it came from, in words.
    pub origin: String,
    /// The technician chose to run it although it is unsigned.
    #[serde(default)]
    pub allow_unsigned: bool,
}

type Waiter = oneshot::Sender<Result<(), String>>;

#[derive(Default)]
struct Queue {
    pending: RefCell<BTreeMap<(&'static str, String), String>>,
    waiters: RefCell<Vec<Waiter>>,
    writing: Cell<bool>,
}

thread_local! {
    static QUEUE: Rc<Queue> = Rc::new(Queue::default());
}

/// Keep `attempt`; returns once it is committed (or why it could not be).
pub async fn put(attempt: &Attempt) -> Result<(), String> {
    let json = serde_json::to_string(attempt).map_err(|e| e.to_string())?;
    enqueue(ATTEMPTS, attempt.id.clone(), json).await
}

/// Keep `attempt` in the background (progress within a step).
pub fn put_soon(attempt: &Attempt) {
    if let Ok(json) = serde_json::to_string(attempt) {
        drop(enqueue(ATTEMPTS, attempt.id.clone(), json));
    }
}

/// Keep `plan` and make it the open one.
pub async fn open_plan(plan: &KeptPlan) -> Result<(), String> {
    let json = serde_json::to_string(plan).map_err(|e| e.to_string())?;
    let saved = enqueue(CAMPAIGNS, format!("plan/{}", plan.id), json);
    let open = enqueue(CAMPAIGNS, OPEN_PLAN.into(), plan.id.clone());
    saved.await?;
    open.await
}

/// The plan the Campaigns page had open, if any.
pub async fn opened_plan() -> Option<KeptPlan> {
    let id = get(CAMPAIGNS, OPEN_PLAN).await?;
    let json = get(CAMPAIGNS, &format!("plan/{id}")).await?;
    serde_json::from_str(&json).ok()
}

/// Every attempt kept, oldest first.
pub async fn all() -> Result<Vec<Attempt>, String> {
    let mut out: Vec<Attempt> = every(ATTEMPTS).await?;
    otadeck_core::order::sort_by_key(&mut out, |a| (a.started_ms, a.id.clone()));
    Ok(out)
}

/// Keep a report of the outbox; returns once it is committed.
pub async fn put_report(report: &Outgoing) -> Result<(), String> {
    let json = serde_json::to_string(report).map_err(|e| e.to_string())?;
    enqueue(OUTBOX, report.id.clone(), json).await
}

/// Every report of the outbox.
pub async fn reports() -> Result<Vec<Outgoing>, String> {
    every(OUTBOX).await
}

/// Every record of `store`, read as JSON.
async fn every<T: serde::de::DeserializeOwned>(store: &str) -> Result<Vec<T>, String> {
    let db = database().await.map_err(|e| e.to_string())?;
    let tx = db
        .transaction(&[store], TransactionMode::ReadOnly)
        .map_err(|e| e.to_string())?;
    let values = tx
        .object_store(store)
        .map_err(|e| e.to_string())?
        .get_all(None, None)
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    Ok(values
        .iter()
        .filter_map(|v| v.as_string())
        .filter_map(|s| serde_json::from_str(&s).ok())
        .collect())
}

/// Forget every attempt.
pub async fn clear() -> Result<(), String> {
    let db = database().await.map_err(|e| e.to_string())?;
    let tx = db
        .transaction(&[ATTEMPTS], TransactionMode::ReadWrite)
        .map_err(|e| e.to_string())?;
    let store = tx.object_store(ATTEMPTS).map_err(|e| e.to_string())?;
    store
        .clear()
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    tx.commit()
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

async fn get(store: &str, key: &str) -> Option<String> {
    let db = database().await.ok()?;
    let tx = db.transaction(&[store], TransactionMode::ReadOnly).ok()?;
    let s = tx.object_store(store).ok()?;
    s.get(JsValue::from_str(key)).ok()?.await.ok()??.as_string()
}

/// Queue a write and return a future that resolves once it is committed.
fn enqueue(
    store: &'static str,
    key: String,
    json: String,
) -> impl std::future::Future<Output = Result<(), String>> {
    let (tx, rx) = oneshot::channel();
    QUEUE.with(|queue| {
        queue.pending.borrow_mut().insert((store, key), json);
        queue.waiters.borrow_mut().push(tx);
        if !queue.writing.replace(true) {
            wasm_bindgen_futures::spawn_local(drain(queue.clone()));
        }
    });
    async move {
        rx.await
            .unwrap_or_else(|_| Err("the record queue stopped".into()))
    }
}

async fn drain(queue: Rc<Queue>) {
    loop {
        let batch = std::mem::take(&mut *queue.pending.borrow_mut());
        let waiters = std::mem::take(&mut *queue.waiters.borrow_mut());
        if batch.is_empty() && waiters.is_empty() {
            break;
        }
        let result = write(batch).await.map_err(|e| e.to_string());
        if let Err(e) = &result {
            web_sys::console::warn_1(&format!("otadeck: a record was not kept: {e}").into());
        }
        for w in waiters {
            let _ = w.send(result.clone());
        }
    }
    queue.writing.set(false);
}

async fn write(batch: BTreeMap<(&'static str, String), String>) -> Result<(), idb::Error> {
    let db = database().await?;
    let tx = db.transaction(&[ATTEMPTS, CAMPAIGNS, OUTBOX], TransactionMode::ReadWrite)?;
    for ((store, key), json) in batch {
        tx.object_store(store)?
            .put(&JsValue::from_str(&json), Some(&JsValue::from_str(&key)))?
            .await?;
    }
    tx.commit()?.await?;
    Ok(())
}
