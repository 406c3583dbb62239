//! A value that components watch: changing it re-renders only the components that watch it.
//! The devices service keeps each device's view, progress and the log in one of these, so that a
//! progress event redraws the progress card and a log line redraws the log, nothing else.

use std::cell::{Cell, Ref, RefCell};
use std::rc::Rc;

use yew::Callback;

struct Inner<T> {
    value: RefCell<T>,
    watchers: RefCell<Vec<(u64, Callback<()>)>>,
    next_id: Cell<u64>,
}

/// A shared, watched value.
pub struct Store<T>(Rc<Inner<T>>);

impl<T> Clone for Store<T> {
    fn clone(&self) -> Self {
        Store(self.0.clone())
    }
}

/// Two handles are equal when they lead to the same store.
impl<T> PartialEq for Store<T> {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl<T: Default> Default for Store<T> {
    fn default() -> Self {
        Store::new(T::default())
    }
}

impl<T> Store<T> {
    /// A store holding `value`.
    pub fn new(value: T) -> Self {
        Store(Rc::new(Inner {
            value: RefCell::new(value),
            watchers: RefCell::new(Vec::new()),
            next_id: Cell::new(0),
        }))
    }

    /// The value now.
    pub fn get(&self) -> Ref<'_, T> {
        self.0.value.borrow()
    }

    /// Change the value, then tell every watcher.
    pub fn update(&self, change: impl FnOnce(&mut T)) {
        change(&mut self.0.value.borrow_mut());
        // Watchers may render at once, and rendering reads the value or adds watchers: nothing
        // stays borrowed while they run.
        let watchers: Vec<Callback<()>> = self
            .0
            .watchers
            .borrow()
            .iter()
            .map(|(_, c)| c.clone())
            .collect();
        for watcher in watchers {
            watcher.emit(());
        }
    }

    /// Change the value; tell the watchers only when `change` says it is worth a redraw.
    pub fn update_if(&self, change: impl FnOnce(&mut T) -> bool) {
        let redraw = change(&mut self.0.value.borrow_mut());
        if redraw {
            self.update(|_| {});
        }
    }

    /// Call `on_change` after every change until the returned guard is dropped.
    pub fn watch(&self, on_change: Callback<()>) -> Watch<T> {
        let id = self.0.next_id.get();
        self.0.next_id.set(id + 1);
        self.0.watchers.borrow_mut().push((id, on_change));
        Watch {
            store: self.clone(),
            id,
        }
    }
}

/// A watch on a [`Store`]; dropping it stops the calls.
pub struct Watch<T> {
    store: Store<T>,
    id: u64,
}

impl<T> Drop for Watch<T> {
    fn drop(&mut self) {
        self.store
            .0
            .watchers
            .borrow_mut()
            .retain(|(id, _)| *id != self.id);
    }
}
