//! The host in the page itself, for the browser tests (they have no worker script to load).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::host::{Deliver, DemoHost};
use super::wire::DemoCommand;
use super::{HostPort, Line};

struct InPage(RefCell<DemoHost>);

impl HostPort for InPage {
    fn send(&self, command: &DemoCommand) {
        self.0.borrow_mut().handle(command.clone());
    }

    fn write(&self, data: &[u8]) {
        self.0.borrow().write(data);
    }
}

/// A host in the page handing its output to `line`.
pub(super) fn open(line: Weak<Line>) -> Box<dyn HostPort> {
    let deliver: Deliver = Rc::new(move |epoch, output| {
        if let Some(line) = line.upgrade() {
            line.deliver(epoch, output);
        }
    });
    Box::new(InPage(RefCell::new(DemoHost::new(deliver))))
}
