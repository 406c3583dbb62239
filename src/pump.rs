//! The async pump: moves bytes between a core [`Machine`] and a [`Connection`] in the order the
//! `Machine` trait documents (the same order as the core's sync pump), gives the machine the
//! time, and hands its events to the page. No protocol logic lives here.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use futures::future::{select, Either};
use futures::StreamExt;
use otadeck_core::session::{LogLevel, Machine, Next, SessionEvent, TransferError};

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

    /// Resolves once cancellation is asked for (looking every [`POLL_CAP`]), leaving the flag
    /// for the pump's loop to take.
    async fn asked(&self) {
        while !self.0.get() {
            gloo::timers::future::sleep(POLL_CAP).await;
        }
    }
}

/// The longest the pump sleeps before looking at the cancel flag again.
const POLL_CAP: Duration = Duration::from_millis(50);
/// The longest the pump runs timeouts that are due at once (a machine working through a big
/// image a slice per turn) before it lets the page run.
const YIELD_AFTER: Duration = Duration::from_millis(16);

/// Run `machine` over `conn` until it finishes, calling `on_event` for each event.
pub async fn drive<M: Machine + ?Sized>(
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
    // A line change's hold counts from when the port took it: no timeout is due before then.
    let mut hold_until = Duration::ZERO;
    let mut gone = false;
    let mut ran_since = now();
    loop {
        if cancel.take() {
            machine.cancel(now());
        }
        while let Some(ev) = machine.poll_event() {
            on_event(ev);
        }
        let failed = match machine.poll_next() {
            Next::Transmit(bytes) if !gone => conn.write(&bytes).await.err().map(|e| (e, false)),
            Next::Signals(step) if !gone => match conn.set_signals(step).await {
                Ok(()) => {
                    hold_until = now() + step.hold;
                    None
                }
                Err(e) => Some((e, true)),
            },
            Next::Baud(baud) if !gone => conn.set_baud(baud).await.err().map(|e| (e, true)),
            Next::Baud(baud) => {
                conn.reopen_at(baud);
                None
            }
            Next::Transmit(_) | Next::Signals(_) => None,
            Next::Control(transfer) => {
                // Serial, bridge and demo serial links answer `Unsupported`.
                let result = match gone {
                    false => conn.control(&transfer).await,
                    true => Err(TransferError::Disconnected),
                };
                machine.handle_transfer(now(), result);
                None
            }
            Next::Reconnect { reset, until } => {
                while let Some(ev) = machine.poll_event() {
                    on_event(ev);
                }
                // Cancel stops the wait for the module at once; the machine hears of it at the
                // top of the loop.
                let back = select(
                    Box::pin(conn.reconnect(reset, until)),
                    Box::pin(cancel.asked()),
                )
                .await;
                match back {
                    Either::Left((Some(interfaces), _)) => {
                        gone = false;
                        machine.handle_reconnected(now(), interfaces);
                    }
                    Either::Left((None, _)) => machine.handle_timeout(now()),
                    Either::Right(_) => {}
                }
                None
            }
            Next::Wait { until } => {
                let due = until.map(|t| t.max(hold_until));
                if due.is_some_and(|t| t <= now()) {
                    machine.handle_timeout(now());
                    if now().saturating_sub(ran_since) >= YIELD_AFTER {
                        gloo::timers::future::sleep(Duration::ZERO).await;
                        ran_since = now();
                    }
                    continue;
                }
                let wait = due
                    .map(|t| t.saturating_sub(now()))
                    .unwrap_or(POLL_CAP)
                    .min(POLL_CAP);
                let sleep = gloo::timers::future::sleep(wait);
                ran_since = now();
                if gone {
                    // Nothing more comes from the link: only the clock moves.
                    sleep.await;
                    continue;
                }
                match select(rx.next(), sleep).await {
                    Either::Left((Some(Ok(bytes)), _)) => machine.handle_input(now(), &bytes),
                    Either::Left((Some(Err(why)), _)) => {
                        // What the link says of its end, in the log; the machine tells the step.
                        on_event(SessionEvent::Log {
                            level: LogLevel::Error,
                            message: format!("The link ended: {why}"),
                        });
                        gone = true;
                        machine.link_lost(now());
                    }
                    Either::Left((None, _)) => {
                        gone = true;
                        machine.link_lost(now());
                    }
                    Either::Right(_) => {}
                }
                None
            }
            Next::Finished => {
                while let Some(ev) = machine.poll_event() {
                    on_event(ev);
                }
                break;
            }
        };
        if let Some((error, log)) = failed {
            if log {
                on_event(SessionEvent::Log {
                    level: LogLevel::Error,
                    message: error.to_string(),
                });
            }
            gone = true;
            machine.link_lost(now());
        }
    }
    inbox.put_back(rx);
}
