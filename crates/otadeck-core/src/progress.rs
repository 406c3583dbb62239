//! Transfer rate and time left, from progress samples the caller timestamps.

use std::collections::VecDeque;
use std::time::Duration;

/// Bytes per second over a sliding window, and the estimated time left.
#[derive(Debug, Clone)]
pub struct RateMeter {
    window: Duration,
    samples: VecDeque<(Duration, u64)>,
    total: u64,
}

impl RateMeter {
    /// A meter for a transfer of `total` bytes, averaging over `window` (a few seconds is steady
    /// enough to read and quick enough to follow a change of speed).
    pub fn new(total: u64, window: Duration) -> Self {
        RateMeter {
            window,
            samples: VecDeque::new(),
            total,
        }
    }

    /// `done` bytes were complete at `now`.
    pub fn record(&mut self, now: Duration, done: u64) {
        self.samples.push_back((now, done));
        while self.samples.len() > 2 {
            let (t0, _) = self.samples[1];
            if now.saturating_sub(t0) >= self.window {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }

    /// Bytes per second, once two samples span some time.
    pub fn bytes_per_second(&self) -> Option<f64> {
        let (t0, d0) = *self.samples.front()?;
        let (t1, d1) = *self.samples.back()?;
        let span = t1.saturating_sub(t0).as_secs_f64();
        (span > 0.0 && d1 >= d0).then(|| (d1 - d0) as f64 / span)
    }

    /// Time left at the current rate.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.bytes_per_second().filter(|r| *r > 0.0)?;
        let done = self.samples.back()?.1;
        Some(Duration::from_secs_f64(
            self.total.saturating_sub(done) as f64 / rate,
        ))
    }

    /// Percent complete, 0 to 100.
    pub fn percent(&self) -> f64 {
        match (self.samples.back(), self.total) {
            (_, 0) => 0.0,
            (Some((_, done)), total) => (*done as f64 * 100.0 / total as f64).min(100.0),
            (None, _) => 0.0,
        }
    }
}

/// `83` seconds as `1 min 23 s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

/// A size for people: `10 MB`, `1.5 MB`, `96 KB`, `512 bytes` (binary units, as flash sizes
/// are counted).
pub fn format_size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    const GIB: u64 = 1024 * MIB;
    if bytes >= GIB {
        format!("{:.1} GB", bytes as f64 / GIB as f64)
    } else if bytes >= MIB {
        let mb = bytes as f64 / MIB as f64;
        if bytes.is_multiple_of(MIB) {
            format!("{} MB", bytes / MIB)
        } else {
            format!("{mb:.1} MB")
        }
    } else if bytes >= KIB {
        format!("{} KB", bytes.div_ceil(KIB))
    } else {
        format!("{bytes} bytes")
    }
}

/// A byte rate for people: `11.3 kB/s`.
pub fn format_rate(bytes_per_second: f64) -> String {
    if bytes_per_second >= 1_000_000.0 {
        format!("{:.2} MB/s", bytes_per_second / 1_000_000.0)
    } else if bytes_per_second >= 1000.0 {
        format!("{:.1} kB/s", bytes_per_second / 1000.0)
    } else {
        format!("{bytes_per_second:.0} B/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(format_size(4 << 20), "4 MB");
        assert_eq!(format_size(10_485_761), "10.0 MB");
        assert_eq!(format_size(0x18_0000), "1.5 MB");
        assert_eq!(format_size(98_304), "96 KB");
        assert_eq!(format_size(512), "512 bytes");
        assert_eq!(format_size(u64::from(u32::MAX)), "4.0 GB");
    }

    #[test]
    fn rate_and_eta_follow_the_samples() {
        let mut m = RateMeter::new(10_000, Duration::from_secs(5));
        assert_eq!(m.bytes_per_second(), None);
        m.record(Duration::from_secs(0), 0);
        m.record(Duration::from_secs(2), 2_000);
        assert_eq!(m.bytes_per_second(), Some(1000.0));
        assert_eq!(m.eta(), Some(Duration::from_secs(8)));
        assert_eq!(m.percent(), 20.0);
    }

    #[test]
    fn old_samples_leave_the_window() {
        let mut m = RateMeter::new(100_000, Duration::from_secs(2));
        m.record(Duration::from_secs(0), 0);
        m.record(Duration::from_secs(1), 100);
        for t in 2..10 {
            m.record(Duration::from_secs(t), 100 + (t - 1) * 5000);
        }
        // Only the recent, faster samples count.
        assert!(m.bytes_per_second().unwrap() > 4000.0);
    }

    #[test]
    fn human_formats() {
        assert_eq!(format_duration(Duration::from_secs(83)), "1 min 23 s");
        assert_eq!(format_duration(Duration::from_secs(7)), "7 s");
        assert_eq!(format_rate(11_300.0), "11.3 kB/s");
        assert_eq!(format_rate(512.0), "512 B/s");
    }
}
