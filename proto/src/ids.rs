//! Identifiers made on the device, without asking the server.
//!
//! Both are UUIDs: records use version 7 (time-ordered, so new records land at
//! the end of SQLite's primary-key index), actors use version 4. On the wire
//! they are 16 raw bytes; in JSON and on the command line they are the usual
//! hyphenated text form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who made a change: a handset (one id per installation and enrollment) or a
/// server-side administrative actor. Never a session or a user: per-record
/// metadata grows with the number of actors, and devices are few per record.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ActorId(Uuid);

/// The identity of one record, chosen by the device that created it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordId(Uuid);

macro_rules! uuid_newtype {
    ($name:ident, $what:literal) => {
        impl $name {
            /// Wraps raw bytes (as stored in a database column).
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }

            /// The 16 raw bytes (for a database column).
            pub const fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// Reads the raw bytes of a database column; `None` unless exactly 16 bytes.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                Uuid::from_slice(bytes).ok().map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| ParseIdError { what: $what, example: UUID_EXAMPLE })
            }
        }
    };
}

uuid_newtype!(ActorId, "actor id");
uuid_newtype!(RecordId, "record id");

impl ActorId {
    /// A fresh random actor id for a new device installation.
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    /// The actor named by `parts`: a version 8 UUID over their SHA-256 (as
    /// [`RecordId::derived`]), never equal to a device's random version 4
    /// id. The server authors changes under such ids (ADR 0016).
    pub fn derived(parts: &[&str]) -> Self {
        Self(derive_v8(parts))
    }

    /// Whether the id is a derived one ([`ActorId::derived`]), not a device's.
    pub fn is_derived(&self) -> bool {
        self.0.get_version_num() == 8
    }
}

impl RecordId {
    /// A fresh record id, time-ordered by `unix_ms` with random low bits.
    pub fn generate(unix_ms: u64) -> Self {
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            unix_ms / 1000,
            ((unix_ms % 1000) * 1_000_000) as u32,
        );
        Self(Uuid::new_v7(ts))
    }

    /// The id named by `parts`: a version 8 UUID over their SHA-256, so the
    /// same parts always name the same record on every device (one daily
    /// report per worker per day). Parts are separated unambiguously.
    pub fn derived(parts: &[&str]) -> Self {
        Self(derive_v8(parts))
    }
}

/// A version 8 UUID over the SHA-256 of `parts`, each prefixed with its
/// length so that parts are separated unambiguously.
fn derive_v8(parts: &[&str]) -> Uuid {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in parts {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    let digest = ctx.finish();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    Uuid::new_v8(bytes)
}

/// A string that is not a well-formed identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {what}: expected {example}")]
pub struct ParseIdError {
    what: &'static str,
    example: &'static str,
}

const UUID_EXAMPLE: &str = "a UUID such as 0190f3a2-7b1c-7d4e-8f00-123456789abc";

impl ParseIdError {
    pub(crate) fn dot() -> Self {
        Self { what: "change reference", example: "DEVICE-UUID:COUNTER" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_sort_by_creation_time() {
        let a = RecordId::generate(1_700_000_000_000);
        let b = RecordId::generate(1_700_000_000_001);
        assert!(a < b);
    }

    #[test]
    fn text_form_round_trips_and_rejects_garbage() {
        let a = ActorId::random();
        assert_eq!(a.to_string().parse::<ActorId>().expect("round trip"), a);
        let derived = RecordId::derived(&["daily_report", "li", "2026-12-01"]);
        assert_eq!(derived, RecordId::derived(&["daily_report", "li", "2026-12-01"]));
        assert_ne!(derived, RecordId::derived(&["daily_report", "li2", "026-12-01"]));
        assert_eq!(derived.to_string().as_bytes()[14], b'8', "a version 8 UUID");
        let actor = ActorId::derived(&["desk", "li"]);
        assert!(actor.is_derived() && !ActorId::random().is_derived());
        assert_eq!(actor, ActorId::derived(&["desk", "li"]));
        assert_ne!(actor, ActorId::derived(&["desk", "lj"]));
        let err = "not-a-uuid".parse::<RecordId>().expect_err("garbage");
        assert!(err.to_string().contains("record id"));
        assert_eq!(RecordId::from_slice(&[0; 3]), None);
    }
}
