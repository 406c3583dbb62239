//! A simulated serial line between a host and a [`Device`], on a clock the caller drives: bytes
//! take their time on the wire (10 bits each at the line rate), plus a fixed latency, and faults
//! can be injected (link dropped, one byte corrupted, module stalled).

use std::collections::VecDeque;
use std::time::Duration;

/// The module side of a simulated link.
pub trait Device {
    /// Bytes arrived from the host at `now`.
    fn receive(&mut self, now: Duration, data: &[u8]);
    /// Bytes the device has sent by `now`.
    fn transmit(&mut self, now: Duration) -> Vec<u8>;
    /// The next instant the device has something to do on its own (a reboot ending, say).
    fn next_wakeup(&self) -> Option<Duration>;
    /// The clock reached `now` (called before `transmit`).
    fn tick(&mut self, now: Duration);
    /// Hard resets and power cycles so far (a soft reboot of the interpreter is none). A module
    /// on native USB drops off the bus at each and comes back as a new port.
    fn hard_resets(&self) -> u64 {
        0
    }
    /// The rate the device's UART runs at, when the device sets it itself (a console switched
    /// with `uart.setup`); `None` when it follows the line. Bytes cross a line whose host end
    /// runs at another rate as garbage, both ways.
    fn uart_rate(&self) -> Option<u32> {
        None
    }
}

/// What a byte sent at one rate reads as at another: a framing error's garbage.
pub fn garbled(byte: u8) -> u8 {
    byte.rotate_left(3) ^ 0xA5
}

/// A fault to inject on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFault {
    /// After this many bytes from the host have been delivered, the line goes dead both ways, as
    /// when a cable is pulled. [`SimLink::is_dead`] turns true.
    DropAfter(u64),
    /// The host byte with this index reaches the device with its bits flipped by the mask.
    Corrupt { index: u64, xor: u8 },
    /// After this many bytes from the host, the device stops reading and answering (a hung module);
    /// the line itself stays up.
    StallAfter(u64),
}

/// A line of `baud` bits per second (8N1: 10 bits a byte) in each direction.
#[derive(Debug)]
pub struct SimLink<D> {
    /// The device at the far end.
    pub device: D,
    baud: u32,
    byte_time: Duration,
    latency: Duration,
    to_device: VecDeque<(Duration, u8)>,
    to_host: VecDeque<(Duration, u8)>,
    host_tx_free: Duration,
    device_tx_free: Duration,
    delivered: u64,
    faults: Vec<LineFault>,
    dead: bool,
    stalled: bool,
    clock: Duration,
}

impl<D: Device> SimLink<D> {
    /// A line at `baud` with 1 ms latency each way (a USB-UART bridge).
    pub fn new(device: D, baud: u32) -> Self {
        SimLink {
            device,
            baud,
            byte_time: Duration::from_nanos(10_000_000_000 / u64::from(baud.max(1))),
            latency: Duration::from_millis(1),
            to_device: VecDeque::new(),
            to_host: VecDeque::new(),
            host_tx_free: Duration::ZERO,
            device_tx_free: Duration::ZERO,
            delivered: 0,
            faults: Vec::new(),
            dead: false,
            stalled: false,
            clock: Duration::ZERO,
        }
    }

    /// Change the line rate (takes effect for bytes sent from now on).
    pub fn set_baud(&mut self, baud: u32) {
        self.baud = baud;
        self.byte_time = Duration::from_nanos(10_000_000_000 / u64::from(baud.max(1)));
    }

    /// The line rate now, in bits per second (10 bits a byte).
    pub fn baud(&self) -> u32 {
        self.baud
    }

    /// How long one byte takes on the wire at the current rate.
    pub fn byte_time(&self) -> Duration {
        self.byte_time
    }

    /// Add a fault.
    pub fn inject(&mut self, fault: LineFault) {
        self.faults.push(fault);
    }

    /// Bytes from the host delivered to the device so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// True once a [`LineFault::DropAfter`] fired.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Plug the cable back in: the line is emptied, its faults removed, and it works again.
    /// (What the module does about it, such as a power cycle, is the caller's business.)
    pub fn replug(&mut self, now: Duration) {
        self.to_device.clear();
        self.to_host.clear();
        self.faults.clear();
        self.dead = false;
        self.stalled = false;
        self.host_tx_free = now;
        self.device_tx_free = now;
    }

    /// The host writes `data` at `now`; it is on the wire behind whatever is still queued.
    pub fn host_write(&mut self, now: Duration, data: &[u8]) {
        if self.dead {
            return;
        }
        let mut t = self.host_tx_free.max(now);
        for &b in data {
            t += self.byte_time;
            self.to_device.push_back((t + self.latency, b));
        }
        self.host_tx_free = t;
    }

    /// Bytes that reached the host by `now`.
    pub fn host_read(&mut self, now: Duration) -> Vec<u8> {
        self.advance(now);
        let mut out = Vec::new();
        while let Some(&(t, b)) = self.to_host.front() {
            if t > now {
                break;
            }
            out.push(b);
            self.to_host.pop_front();
        }
        out
    }

    /// The next instant something happens on the line or in the device.
    pub fn next_event(&self) -> Option<Duration> {
        if self.dead {
            return None;
        }
        [
            self.to_device.front().map(|x| x.0),
            self.to_host.front().map(|x| x.0),
            self.device.next_wakeup(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The latest time the line was run to.
    pub fn now(&self) -> Duration {
        self.clock
    }

    /// Run the line and the device up to `now`.
    pub fn advance(&mut self, now: Duration) {
        self.clock = self.clock.max(now);
        if self.dead {
            return;
        }
        // Deliver host bytes in arrival order, letting the device answer as it reads.
        loop {
            let mut batch = Vec::new();
            let mut at = now;
            while let Some(&(t, b)) = self.to_device.front() {
                if t > now || (!batch.is_empty() && t != at) {
                    break;
                }
                at = t;
                self.to_device.pop_front();
                let index = self.delivered;
                self.delivered += 1;
                if self.faults.contains(&LineFault::DropAfter(index)) {
                    self.dead = true;
                    self.to_device.clear();
                    self.to_host.clear();
                    return;
                }
                if self
                    .faults
                    .iter()
                    .any(|f| matches!(f, LineFault::StallAfter(n) if *n == index))
                {
                    self.stalled = true;
                }
                let mut byte = b;
                for f in &self.faults {
                    if let LineFault::Corrupt { index: i, xor } = f {
                        if *i == index {
                            byte ^= xor;
                        }
                    }
                }
                if self.rates_differ() {
                    byte = garbled(byte);
                }
                if !self.stalled {
                    batch.push(byte);
                }
            }
            if batch.is_empty() {
                break;
            }
            self.device.tick(at);
            self.device.receive(at, &batch);
            self.collect_output(at);
        }
        self.device.tick(now);
        self.collect_output(now);
    }

    /// The device's UART runs at another rate than the host's end of the line.
    fn rates_differ(&self) -> bool {
        self.device.uart_rate().is_some_and(|r| r != self.baud)
    }

    fn collect_output(&mut self, now: Duration) {
        let out = self.device.transmit(now);
        if self.stalled {
            return;
        }
        let differ = self.rates_differ();
        let mut t = self.device_tx_free.max(now);
        for b in out {
            t += self.byte_time;
            let b = if differ { garbled(b) } else { b };
            self.to_host.push_back((t + self.latency, b));
        }
        self.device_tx_free = t;
    }
}
