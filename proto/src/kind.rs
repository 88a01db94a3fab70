//! Record kinds.
//!
//! On the wire a kind is a small number. A peer that does not know a number
//! keeps it as [`RecordKind::Other`] and sends it on unchanged, so a newer
//! handset's new record kind survives a trip through an older server.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a record is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "u16", into = "u16")]
pub enum RecordKind {
    /// A patrol of the grid (巡查), two a day.
    Patrol,
    /// A household or place visit (走访), five a day.
    Visit,
    /// A dispute (矛盾纠纷) found, mediated, escalated or transferred.
    Dispute,
    /// The worker's daily report (有事报信息、无事报平安).
    DailyReport,
    /// Base information on a household or place: door plate, building,
    /// residents, units (门牌、楼栋、人口、单位).
    Household,
    /// A kind this build does not know, kept by its wire code.
    Other(u16),
}

impl RecordKind {
    /// Every kind this build knows.
    pub const KNOWN: [RecordKind; 5] = [
        RecordKind::Patrol,
        RecordKind::Visit,
        RecordKind::Dispute,
        RecordKind::DailyReport,
        RecordKind::Household,
    ];

    /// The wire code.
    pub const fn code(self) -> u16 {
        match self {
            RecordKind::Patrol => 1,
            RecordKind::Visit => 2,
            RecordKind::Dispute => 3,
            RecordKind::DailyReport => 4,
            RecordKind::Household => 5,
            RecordKind::Other(code) => code,
        }
    }

    /// The name used in JSON and on the command line.
    pub fn name(self) -> String {
        match self {
            RecordKind::Patrol => "patrol".to_owned(),
            RecordKind::Visit => "visit".to_owned(),
            RecordKind::Dispute => "dispute".to_owned(),
            RecordKind::DailyReport => "daily_report".to_owned(),
            RecordKind::Household => "household".to_owned(),
            RecordKind::Other(code) => format!("kind_{code}"),
        }
    }
}

impl From<u16> for RecordKind {
    fn from(code: u16) -> Self {
        match code {
            1 => RecordKind::Patrol,
            2 => RecordKind::Visit,
            3 => RecordKind::Dispute,
            4 => RecordKind::DailyReport,
            5 => RecordKind::Household,
            other => RecordKind::Other(other),
        }
    }
}

impl From<RecordKind> for u16 {
    fn from(kind: RecordKind) -> u16 {
        kind.code()
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl fmt::Debug for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for RecordKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(kind) = RecordKind::KNOWN.into_iter().find(|k| k.name() == s) {
            return Ok(kind);
        }
        s.strip_prefix("kind_")
            .and_then(|code| code.parse::<u16>().ok())
            .map(RecordKind::from)
            .ok_or(UnknownKind)
    }
}

/// A record kind name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown record kind: expected patrol, visit, dispute, daily_report or household")]
pub struct UnknownKind;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for kind in RecordKind::KNOWN {
            assert_eq!(kind.name().parse::<RecordKind>(), Ok(kind));
            assert_eq!(RecordKind::from(kind.code()), kind);
        }
        assert_eq!("kind_77".parse::<RecordKind>(), Ok(RecordKind::Other(77)));
        assert_eq!("meeting".parse::<RecordKind>(), Err(UnknownKind));
    }

    #[test]
    fn unknown_codes_survive_the_wire() {
        let bytes = postcard::to_allocvec(&RecordKind::Other(300)).expect("encode");
        assert_eq!(postcard::from_bytes::<RecordKind>(&bytes).expect("decode"), RecordKind::Other(300));
    }
}
