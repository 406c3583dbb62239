//! The browser database, `otadeck` in IndexedDB, opened once per page. Every object store is
//! listed here: opening at a new version creates the missing ones and keeps the others with
//! their records (the builder drops a store that is not listed).

use std::cell::RefCell;
use std::rc::Rc;

use idb::builder::{DatabaseBuilder, ObjectStoreBuilder};
use idb::Database;

const DATABASE: &str = "otadeck";
/// Version 1 had `session`; version 2 adds `attempts` and `campaigns`; 3 adds `outbox`.
const VERSION: u32 = 3;

/// The session log and the last flash ([`super::keep`]).
pub const SESSION: &str = "session";
/// Every campaign attempt, by its id ([`super::records`]).
pub const ATTEMPTS: &str = "attempts";
/// The campaign plans loaded, and which one is open ([`super::records`]).
pub const CAMPAIGNS: &str = "campaigns";
/// Reports of campaign results waiting to be sent, and those sent ([`super::outbox`]).
pub const OUTBOX: &str = "outbox";

thread_local! {
    static OPEN: RefCell<Option<Rc<Database>>> = const { RefCell::new(None) };
}

/// The database, opened (and upgraded) on first use.
pub async fn database() -> Result<Rc<Database>, idb::Error> {
    if let Some(db) = OPEN.with(|o| o.borrow().clone()) {
        return Ok(db);
    }
    let db = Rc::new(
        DatabaseBuilder::new(DATABASE)
            .version(VERSION)
            .add_object_store(ObjectStoreBuilder::new(SESSION))
            .add_object_store(ObjectStoreBuilder::new(ATTEMPTS))
            .add_object_store(ObjectStoreBuilder::new(CAMPAIGNS))
            .add_object_store(ObjectStoreBuilder::new(OUTBOX))
            .build()
            .await?,
    );
    // Two awaits may race to open it: the first one kept wins, the other is closed.
    Ok(OPEN.with(|o| o.borrow_mut().get_or_insert(db).clone()))
}
