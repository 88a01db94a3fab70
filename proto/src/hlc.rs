//! A hybrid logical clock (Kulkarni et al., 2014).
//!
//! Handset clocks are wrong: set by hand, drifted, reset to 1970 after a flat
//! battery. Merging never depends on time (causality comes from dots, see
//! [`crate::change::Dot`]); the clock orders history for people reading a
//! ledger and breaks display ties. An [`Hlc`] stays close to physical time
//! when the clocks are good and still moves forward when they are not: it is
//! never less than any timestamp the device has seen.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A hybrid timestamp: milliseconds since the Unix epoch plus a logical
/// counter for events within the same millisecond.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Hlc {
    /// Physical part: Unix time in milliseconds.
    pub millis: u64,
    /// Logical part: orders events that share `millis`.
    pub logical: u32,
}

impl Hlc {
    /// A timestamp with no logical part.
    pub const fn from_millis(millis: u64) -> Self {
        Self { millis, logical: 0 }
    }
}

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hlc({}.{})", self.millis, self.logical)
    }
}

/// The clock of one replica. Persist [`HlcClock::last`] and restore it with
/// [`HlcClock::resume`] so that time never goes backwards across restarts.
#[derive(Debug, Clone, Default)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    /// Restores a clock from the last timestamp it issued or observed.
    pub const fn resume(last: Hlc) -> Self {
        Self { last }
    }

    /// The last timestamp issued or observed.
    pub const fn last(&self) -> Hlc {
        self.last
    }

    /// Issues a timestamp for a local event at physical time `now_ms`.
    pub fn tick(&mut self, now_ms: u64) -> Hlc {
        self.last = if now_ms > self.last.millis { Hlc::from_millis(now_ms) } else { self.next_logical() };
        self.last
    }

    /// Takes a remote timestamp into account, so later local events sort
    /// after it.
    pub fn observe(&mut self, remote: Hlc) {
        if remote > self.last {
            self.last = remote;
        }
    }

    fn next_logical(&self) -> Hlc {
        match self.last.logical.checked_add(1) {
            Some(logical) => Hlc { millis: self.last.millis, logical },
            // 4 billion events in one millisecond: borrow from the next one.
            None => Hlc::from_millis(self.last.millis.saturating_add(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_physical_time_when_it_moves_forward() {
        let mut c = HlcClock::default();
        assert_eq!(c.tick(1_000), Hlc::from_millis(1_000));
        assert_eq!(c.tick(2_000), Hlc::from_millis(2_000));
    }

    #[test]
    fn never_goes_backwards_when_the_wall_clock_does() {
        let mut c = HlcClock::resume(Hlc::from_millis(5_000));
        let a = c.tick(1_000);
        let b = c.tick(1_000);
        assert!(Hlc::from_millis(5_000) < a && a < b);
        assert_eq!(b, Hlc { millis: 5_000, logical: 2 });
    }

    #[test]
    fn sorts_after_what_it_observed() {
        let mut c = HlcClock::default();
        c.tick(1_000);
        c.observe(Hlc { millis: 9_000, logical: 7 });
        assert!(c.tick(1_001) > Hlc { millis: 9_000, logical: 7 });
    }

    #[test]
    fn logical_overflow_moves_to_the_next_millisecond() {
        let mut c = HlcClock::resume(Hlc { millis: 10, logical: u32::MAX });
        assert_eq!(c.tick(0), Hlc::from_millis(11));
    }
}
