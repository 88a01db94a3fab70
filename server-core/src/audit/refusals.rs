//! Refused requests, counted instead of each appended (ADR 0030).
//!
//! A refusal of the same kind from the same requester (an enrolled device,
//! or the client address of a request that names no one: unauthenticated
//! sync requests, enrollments, logins) is written to the chain once a
//! minute: the first one of the minute at once, as its own row
//! (so a single refusal is in the log, durably, as soon as it happened), and
//! the repeats of that minute as one summary row when the minute closes,
//! with the same actor, action, target and outcome and the detail
//! `repeats=N minute_ms=START`. A flood of N refusals from one requester thus
//! appends at most two rows per minute instead of N, every row still a link
//! of the hash chain (nothing is rewritten or deleted: the chain stays
//! append-only and [`super::ChainCheck`] checks the summaries like any row).
//!
//! The tally of the open minute lives in memory, bounded by
//! [`MAX_REQUESTERS`]: past it, requesters not yet seen that minute count
//! under the actor [`OTHERS`]. A server killed without stopping loses the
//! repeats of its open minute, never a first refusal.
//!
//! This module knows no storage: [`RefusalTally::record`] and
//! [`RefusalTally::close`] answer the events to append; the service appends
//! them.

use std::collections::HashMap;
use std::net::IpAddr;

use super::Event;

/// The length of a tally's window.
pub const MINUTE_MS: u64 = 60_000;
/// Most distinct requesters tallied in one minute.
pub const MAX_REQUESTERS: usize = 4_096;
/// The actor under which requesters past [`MAX_REQUESTERS`] are counted.
pub const OTHERS: &str = "others";

/// The actor of a request that names no device or user: `address:IP`, the
/// client address ([`crate::guard`]'s callers resolve it behind trusted
/// proxies), or `anonymous` when it is not known.
pub fn anonymous(client: Option<IpAddr>) -> String {
    client.map_or_else(|| "anonymous".to_owned(), |ip| format!("address:{ip}"))
}

/// What a refusal is counted by: its event without the detail.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    actor: String,
    action: String,
    target: String,
    outcome: String,
}

/// The refusals of the open minute, by key: how many came after the first.
#[derive(Debug, Default)]
pub struct RefusalTally {
    /// The start of the open minute (Unix ms).
    minute_ms: u64,
    repeats: HashMap<Key, u64>,
}

impl RefusalTally {
    /// Counts a refusal at `now_ms`. Answers the events to append now, in
    /// order: the summaries of a minute that closed before `now_ms`, then
    /// `event` itself when it is the first of its key in this minute.
    pub fn record(&mut self, event: Event, now_ms: u64) -> Vec<Event> {
        let mut append = self.close(Some(now_ms));
        let minute_ms = now_ms - now_ms % MINUTE_MS;
        if self.repeats.is_empty() {
            self.minute_ms = minute_ms;
        }
        let mut key =
            Key { actor: event.actor, action: event.action, target: event.target, outcome: event.outcome };
        if !self.repeats.contains_key(&key) && self.repeats.len() >= MAX_REQUESTERS {
            key = Key { actor: OTHERS.to_owned(), target: String::new(), ..key };
        }
        match self.repeats.get_mut(&key) {
            Some(count) => *count += 1,
            None => {
                let first =
                    Event::new(&key.actor, &key.action, &key.target, &key.outcome).detail(event.detail);
                self.repeats.insert(key, 0);
                append.push(first);
            }
        }
        append
    }

    /// Closes the open minute if it ended before `now_ms` (`None`: closes
    /// it now, as on shutdown), answering one summary event per key that
    /// repeated in it, in a stable order.
    pub fn close(&mut self, now_ms: Option<u64>) -> Vec<Event> {
        if now_ms.is_some_and(|now| now < self.minute_ms + MINUTE_MS) {
            return Vec::new();
        }
        let mut repeated: Vec<(Key, u64)> = self.repeats.drain().filter(|(_, n)| *n > 0).collect();
        repeated.sort();
        repeated
            .into_iter()
            .map(|(k, n)| {
                Event::new(k.actor, k.action, k.target, k.outcome)
                    .detail(format!("repeats={n} minute_ms={}", self.minute_ms))
            })
            .collect()
    }

    /// Whether nothing is tallied.
    pub fn is_empty(&self) -> bool {
        self.repeats.is_empty()
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.actor, &self.action, &self.target, &self.outcome).cmp(&(
            &other.actor,
            &other.action,
            &other.target,
            &other.outcome,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_780_000_040_000; // 20 s into a minute

    fn refused(actor: &str, outcome: &str) -> Event {
        Event::new(actor, "sync.refused", "/v1/sync/push", outcome)
    }

    #[test]
    fn the_first_refusal_is_written_at_once_and_its_repeats_once_the_minute_closes() {
        let mut tally = RefusalTally::default();
        let first = tally.record(refused("device:a", "bad_signature"), T);
        assert_eq!(first, [refused("device:a", "bad_signature")], "the first at once");
        for i in 1..100 {
            assert!(tally.record(refused("device:a", "bad_signature"), T + i).is_empty(), "repeat {i}");
        }
        assert_eq!(tally.record(refused("device:a", "replayed_request"), T + 200).len(), 1, "another code");
        assert!(tally.close(Some(T + 30_000)).is_empty(), "the minute is still open");
        let next_minute = T - 20_000 + MINUTE_MS;
        let rows = tally.record(refused("device:b", "bad_signature"), next_minute);
        let minute = T - 20_000;
        assert_eq!(
            rows,
            [
                refused("device:a", "bad_signature").detail(format!("repeats=99 minute_ms={minute}")),
                refused("device:b", "bad_signature"),
            ],
            "the closed minute's summary (replayed_request did not repeat), then the new first"
        );
        assert!(tally.record(refused("device:b", "bad_signature"), next_minute + 1).is_empty());
        let shutdown = tally.close(None);
        assert_eq!(
            shutdown,
            [refused("device:b", "bad_signature").detail(format!("repeats=1 minute_ms={next_minute}"))]
        );
        assert!(tally.is_empty());
    }

    #[test]
    fn requesters_past_the_bound_count_as_others() {
        let mut tally = RefusalTally::default();
        for i in 0..MAX_REQUESTERS {
            assert_eq!(tally.record(refused(&format!("address:{i}"), "unknown_device"), T).len(), 1);
        }
        let over = tally.record(refused("address:new", "unknown_device"), T);
        assert_eq!(over, [Event::new(OTHERS, "sync.refused", "", "unknown_device")]);
        assert!(tally.record(refused("address:newer", "unknown_device"), T).is_empty());
        assert!(tally.record(refused("address:0", "unknown_device"), T).is_empty(), "a known one repeats");
        let summary = tally.close(None);
        assert_eq!(summary.len(), 2);
        assert!(summary.iter().any(|e| e.actor == OTHERS && e.detail.starts_with("repeats=1 ")));
        assert_eq!(anonymous(Some("203.0.113.9".parse().expect("ip"))), "address:203.0.113.9");
        assert_eq!(anonymous(None), "anonymous");
    }
}
