//! Moves bytes between a core [`Machine`] and a [`Connection`], gives the machine the time, and
//! hands its events to the page. No protocol logic lives here.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use futures::future::{select, Either};
use futures::StreamExt;
use otadeck_core::session::{LogLevel, Machine, SessionEvent};

use crate::clock::now;
use crate::transport::Connection;

/// Set to ask the running session to cancel.
#[derive(Clone, Default)]
pub struct CancelFlag(Rc<Cell<bool>>);

impl CancelFlag {
    /// Ask for cancellation.
    pub fn cancel(&self) {
        self.0.set(true);
    }

    fn take(&self) -> bool {
        self.0.replace(false)
    }
}

/// The longest the pump sleeps before looking at the cancel flag again.
const POLL_CAP: Duration = Duration::from_millis(50);

/// Run `machine` over `conn` until it finishes, calling `on_event` for each event.
pub async fn drive<M: Machine>(
    machine: &mut M,
    conn: &Connection,
    cancel: &CancelFlag,
    mut on_event: impl FnMut(SessionEvent),
) {
    // A Cancel pressed before this session started is not meant for it.
    cancel.take();
    let inbox = conn.inbox();
    let Some(mut rx) = inbox.take() else {
        machine.link_lost(now());
        while let Some(ev) = machine.poll_event() {
            on_event(ev);
        }
        return;
    };
    // The machine times a line change's hold from when it handed the step out; the line changes
    // later, once the port has taken it. Until the hold has passed from then, the machine's
    // timeouts (which hand out the next step) wait.
    let mut hold_until = Duration::ZERO;
    loop {
        if cancel.take() {
            machine.cancel(now());
        }
        while let Some(bytes) = machine.poll_transmit() {
            if conn.write(&bytes).await.is_err() {
                machine.link_lost(now());
                break;
            }
        }
        while let Some(step) = machine.poll_signals() {
            if let Err(e) = conn.set_signals(step).await {
                on_event(SessionEvent::Log {
                    level: LogLevel::Error,
                    message: e.to_string(),
                });
                machine.link_lost(now());
                break;
            }
            hold_until = now() + step.hold;
        }
        if let Some(baud) = machine.poll_baud() {
            if let Err(e) = conn.set_baud(baud) {
                on_event(SessionEvent::Log {
                    level: LogLevel::Error,
                    message: e.to_string(),
                });
                machine.link_lost(now());
            }
        }
        while let Some(ev) = machine.poll_event() {
            on_event(ev);
        }
        if machine.is_finished() {
            break;
        }
        let due = |m: &M| m.poll_timeout().map(|t| t.max(hold_until));
        let wait = due(machine)
            .map(|t| t.saturating_sub(now()))
            .unwrap_or(POLL_CAP)
            .min(POLL_CAP);
        let sleep = gloo::timers::future::sleep(wait);
        match select(rx.next(), sleep).await {
            Either::Left((Some(Ok(bytes)), _)) => machine.handle_input(now(), &bytes),
            Either::Left((Some(Err(_)) | None, _)) => machine.link_lost(now()),
            Either::Right(_) => {}
        }
        if due(machine).is_some_and(|t| t <= now()) {
            machine.handle_timeout(now());
        }
    }
    inbox.put_back(rx);
}
