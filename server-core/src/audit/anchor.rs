//! The audit chain's head kept outside the chain (ADR 0026): a chain whose
//! tail was cut off is still a valid chain, so only a head written down
//! elsewhere (a backup's manifest, the operator's notes of `audit verify`)
//! tells that rows are missing. An [`Anchor`] is such a head: the number
//! of rows and the last row's hash. A chain holds an anchor when it is at
//! least that long and its row at that position has that hash (a chain
//! only grows, so a longer chain holds every earlier anchor).

use std::fmt;
use std::str::FromStr;

use super::Verdict;

/// A head of the audit chain written down elsewhere: `ROWS:HASH` (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Rows the chain had.
    pub rows: u64,
    /// The hash of its last row (hex, lowercase; empty for an empty chain).
    pub head: String,
}

/// An anchor that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an audit head is ROWS:HASH, the row count and the last row's SHA-256 in hex (as `audit verify` prints it)"
)]
pub struct BadAnchor;

impl FromStr for Anchor {
    type Err = BadAnchor;

    fn from_str(text: &str) -> Result<Self, BadAnchor> {
        let (rows, head) = text.trim().split_once(':').ok_or(BadAnchor)?;
        let rows: u64 = rows.parse().map_err(|_| BadAnchor)?;
        let head = head.to_ascii_lowercase();
        let hex = head.len() == 64 && head.bytes().all(|b| b.is_ascii_hexdigit());
        if !(hex || (rows == 0 && head.is_empty())) {
            return Err(BadAnchor);
        }
        Ok(Anchor { rows, head })
    }
}

impl fmt::Display for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.rows, self.head)
    }
}

/// How a chain stands against an [`Anchor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorCheck {
    /// The chain's row at the anchor's position has the anchor's hash.
    Holds,
    /// The chain is shorter than the anchor: its tail was cut off (or this
    /// is an older copy of the database).
    Truncated {
        /// Rows the chain has.
        rows: u64,
        /// Rows the anchor says it had.
        anchored: u64,
    },
    /// The chain's row at the anchor's position has another hash: the
    /// chain was rewritten up to there, or it is another deployment's.
    Diverges {
        /// The anchor's position.
        at: u64,
    },
}

impl Anchor {
    /// Judges an intact chain (`verdict`, from a whole walk) against the
    /// anchor, given the hash (hex) of its row at the anchor's position
    /// (`None` if it has no such row). A broken chain is judged by its
    /// verdict alone: `None`.
    pub fn judge(&self, verdict: &Verdict, hash_at_anchor: Option<&str>) -> Option<AnchorCheck> {
        let Verdict::Intact { rows, .. } = verdict else { return None };
        if self.rows == 0 {
            return Some(AnchorCheck::Holds);
        }
        if *rows < self.rows {
            return Some(AnchorCheck::Truncated { rows: *rows, anchored: self.rows });
        }
        Some(match hash_at_anchor {
            Some(hash) if hash.eq_ignore_ascii_case(&self.head) => AnchorCheck::Holds,
            _ => AnchorCheck::Diverges { at: self.rows },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn parses_what_audit_verify_prints_and_refuses_the_rest() {
        let anchor: Anchor = format!("42:{}", HASH.to_uppercase()).parse().expect("parses");
        assert_eq!(anchor, Anchor { rows: 42, head: HASH.into() });
        assert_eq!(anchor.to_string(), format!("42:{HASH}"));
        assert_eq!("0:".parse::<Anchor>(), Ok(Anchor { rows: 0, head: String::new() }));
        for bad in ["42", "x:ab", "42:", "42:abc", &format!("-1:{HASH}"), &format!("42:{HASH}00")] {
            assert_eq!(bad.parse::<Anchor>(), Err(BadAnchor), "{bad}");
        }
    }

    #[test]
    fn a_shorter_chain_is_truncated_and_another_hash_diverges() {
        let anchor = Anchor { rows: 5, head: HASH.into() };
        let intact = |rows| Verdict::Intact { rows, head: String::new() };
        assert_eq!(anchor.judge(&intact(5), Some(HASH)), Some(AnchorCheck::Holds));
        assert_eq!(anchor.judge(&intact(9), Some(HASH)), Some(AnchorCheck::Holds), "the chain grew");
        assert_eq!(anchor.judge(&intact(4), None), Some(AnchorCheck::Truncated { rows: 4, anchored: 5 }));
        assert_eq!(anchor.judge(&intact(9), Some("00")), Some(AnchorCheck::Diverges { at: 5 }));
        let broken = Verdict::Broken { seq: 3, reason: "its content was changed" };
        assert_eq!(anchor.judge(&broken, Some(HASH)), None);
        assert_eq!(Anchor { rows: 0, head: String::new() }.judge(&intact(0), None), Some(AnchorCheck::Holds));
    }
}
