//! The app's state and the actions that change it.

use std::rc::Rc;
use std::time::Duration;

use otadeck_core::module::ModuleInfo;
use otadeck_core::partition_state::PartitionState;
use otadeck_core::progress::RateMeter;
use otadeck_core::session::{FlashError, FlashOutcome, LogLevel, SessionEvent, Step};
use yew::Reducible;

use crate::image::LoadedImage;

/// How the page is linked to a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkKind {
    /// Nothing connected.
    None,
    /// The demo module; the text describes the line.
    Demo(String),
    /// A serial port; the text names it.
    Serial(String),
}

/// One line of the session log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Seconds since the page loaded.
    pub at: f64,
    /// Wall-clock time, `HH:MM:SS`.
    pub clock: String,
    /// Importance.
    pub level: LogLevel,
    /// The text.
    pub message: String,
}

/// The flash panel's state.
#[derive(Debug, Clone, PartialEq)]
pub enum FlashView {
    /// Nothing started.
    Idle,
    /// A flash runs.
    Running {
        step: Step,
        done: u64,
        total: u64,
        rate: Option<f64>,
        eta: Option<Duration>,
    },
    /// The last flash succeeded.
    Success(FlashOutcome),
    /// The last flash failed (or was cancelled).
    Failed(FlashError),
}

/// Everything the pages show.
#[derive(Debug, Clone, PartialEq)]
pub struct AppState {
    pub link: LinkKind,
    pub module: Option<ModuleInfo>,
    /// The module's application slots, as last read.
    pub partitions: Option<PartitionState>,
    pub log: Rc<Vec<LogEntry>>,
    /// A session (identify or flash) is running on the link.
    pub busy: bool,
    pub flash: FlashView,
    pub image: Option<Rc<LoadedImage>>,
    meter: Option<RateMeterEq>,
}

/// RateMeter compared by identity of its samples' count, so the state can derive PartialEq.
#[derive(Debug, Clone)]
struct RateMeterEq(RateMeter);

impl PartialEq for RateMeterEq {
    fn eq(&self, _: &Self) -> bool {
        false
    }
}

impl Default for AppState {
    fn default() -> Self {
        AppState {
            link: LinkKind::None,
            module: None,
            partitions: None,
            log: Rc::new(Vec::new()),
            busy: false,
            flash: FlashView::Idle,
            image: None,
            meter: None,
        }
    }
}

/// What can happen to the state.
pub enum Action {
    Linked(LinkKind),
    Unlinked,
    Busy(bool),
    Image(Option<Rc<LoadedImage>>),
    Log(LogEntry),
    FlashStarted {
        total: u64,
    },
    /// An event of the running session, at `now`.
    Session {
        event: SessionEvent,
        now: Duration,
        clock: String,
    },
}

impl AppState {
    fn push_log(&mut self, entry: LogEntry) {
        Rc::make_mut(&mut self.log).push(entry);
    }
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            Action::Linked(kind) => {
                s.link = kind;
                s.module = None;
                s.partitions = None;
            }
            Action::Unlinked => {
                s.link = LinkKind::None;
                s.module = None;
                s.partitions = None;
                s.busy = false;
            }
            Action::Busy(b) => s.busy = b,
            Action::Image(image) => {
                s.image = image;
                if !matches!(s.flash, FlashView::Running { .. }) {
                    s.flash = FlashView::Idle;
                }
            }
            Action::Log(entry) => s.push_log(entry),
            Action::FlashStarted { total } => {
                s.meter = Some(RateMeterEq(RateMeter::new(total, Duration::from_secs(4))));
                s.flash = FlashView::Running {
                    step: Step::Connect,
                    done: 0,
                    total,
                    rate: None,
                    eta: None,
                };
            }
            Action::Session { event, now, clock } => match event {
                SessionEvent::Log { level, message } => s.push_log(LogEntry {
                    at: now.as_secs_f64(),
                    clock,
                    level,
                    message,
                }),
                SessionEvent::Step(step) => {
                    if let FlashView::Running { step: st, .. } = &mut s.flash {
                        *st = step;
                    }
                }
                SessionEvent::Progress { done, total } => {
                    if let (
                        FlashView::Running {
                            done: d,
                            total: t,
                            rate,
                            eta,
                            ..
                        },
                        Some(m),
                    ) = (&mut s.flash, s.meter.as_mut())
                    {
                        m.0.record(now, done);
                        *d = done;
                        *t = total;
                        *rate = m.0.bytes_per_second();
                        *eta = m.0.eta();
                    }
                }
                SessionEvent::Identified(info) => s.module = Some(info),
                SessionEvent::Partitions(p) => s.partitions = Some(p),
                // The page offers no read-back job yet.
                SessionEvent::ReadBack { .. } => {}
                SessionEvent::Finished(result) => {
                    if matches!(s.flash, FlashView::Running { .. }) {
                        s.flash = match result {
                            Ok(outcome) => FlashView::Success(outcome),
                            Err(e) => FlashView::Failed(e),
                        };
                    }
                }
            },
        }
        Rc::new(s)
    }
}
