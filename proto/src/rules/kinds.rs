//! What each record kind holds: its fields, the ones it needs, and the
//! entries that may be appended to it.

use super::fields::{Attr, Ty, opt, req};
use crate::kind::RecordKind;
use crate::place::Level;

/// One field of a kind.
#[derive(Debug)]
pub(crate) struct FieldSpec {
    pub(crate) name: &'static str,
    pub(crate) ty: Ty,
    /// Set when the record is created; later edits may only restate it.
    pub(crate) fixed: bool,
}

/// One kind of entry.
#[derive(Debug)]
pub(crate) struct EntrySpec {
    pub(crate) name: &'static str,
    pub(crate) attrs: &'static [Attr],
}

/// What a kind holds.
#[derive(Debug)]
pub(crate) struct KindSpec {
    pub(crate) fields: &'static [FieldSpec],
    pub(crate) required: &'static [&'static str],
    pub(crate) entries: &'static [EntrySpec],
}

impl KindSpec {
    pub(crate) fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub(crate) fn entry(&self, name: &str) -> Option<&EntrySpec> {
        self.entries.iter().find(|e| e.name == name)
    }
}

const fn field(name: &'static str, ty: Ty) -> FieldSpec {
    FieldSpec { name, ty, fixed: false }
}

const fn fixed(name: &'static str, ty: Ty) -> FieldSpec {
    FieldSpec { name, ty, fixed: true }
}

/// Who a visited person is, including the special populations followed up
/// in the platform (重点人群).
pub const PERSON_CATEGORIES: &[&str] = &[
    "general",
    "elderly_alone",
    "left_behind_child",
    "disabled",
    "low_income",
    "severe_mental_illness",
    "drug_rehabilitation",
    "community_correction",
    "released_prisoner",
    "petitioner",
    "other_special",
];

/// Why a household was visited.
pub const VISIT_PURPOSES: &[&str] = &[
    "routine",
    "special_population",
    "dispute_check",
    "information_update",
    "assistance",
    "policy_publicity",
    "other",
];

/// Where a dispute came from.
pub const DISPUTE_SOURCES: &[&str] = &["patrol", "visit", "walk_in", "hotline", "assigned"];

/// How a mediation session ended.
pub const MEDIATION_OUTCOMES: &[&str] = &["agreed", "partly_agreed", "failed", "adjourned"];

/// What a daily report says: 平安 (nothing happened) or items to report.
pub const REPORT_STATUSES: &[&str] = &["all_safe", "has_items"];

/// What a base-information record describes (门牌、楼栋、人口、单位).
pub const HOUSEHOLD_CATEGORIES: &[&str] = &["household", "building", "organization", "shop", "other"];

/// Longest note or free text, in characters.
pub(crate) const LONG_TEXT: usize = 20_000;

const NOTE: EntrySpec = EntrySpec { name: "note", attrs: &[req("text", Ty::Text(LONG_TEXT))] };

/// A photo or document attached to the record ([`crate::attachment`]): every kind takes them.
const ATTACHMENT: EntrySpec = EntrySpec {
    name: crate::attachment::ENTRY,
    attrs: &[
        req("sha256", Ty::Sha256),
        req("size", Ty::Int(1, crate::attachment::MAX_BYTES as i64)),
        req("media", Ty::Enum(crate::attachment::MEDIA_NAMES)),
        opt("name", Ty::Text(crate::attachment::MAX_NAME_CHARS)),
        opt("entry", Ty::EntryRef),
    ],
};

const GRID: Ty = Ty::Place(Some(Level::Grid));

const PERSON: &[Attr] = &[
    req("name", Ty::Text(64)),
    opt("relation", Ty::Text(32)),
    opt("id_number", Ty::Text(32)),
    opt("phone", Ty::Text(32)),
    opt("category", Ty::Enum(PERSON_CATEGORIES)),
    opt("birth_year", Ty::Int(1900, 2100)),
];

const PARTY: &[Attr] = &[
    req("name", Ty::Text(64)),
    opt("role", Ty::Enum(&["applicant", "respondent", "other"])),
    opt("id_number", Ty::Text(32)),
    opt("phone", Ty::Text(32)),
    opt("address", Ty::Text(200)),
];

const PATROL: KindSpec = KindSpec {
    fields: &[
        field("grid", GRID),
        field("started_ms", Ty::Millis),
        field("ended_ms", Ty::Millis),
        field("route", Ty::Text(2000)),
        field("summary", Ty::Text(4000)),
    ],
    required: &["grid", "started_ms"],
    entries: &[
        EntrySpec {
            name: "checkpoint",
            attrs: &[
                req("place", Ty::Text(200)),
                req("time_ms", Ty::Millis),
                req("gps", Ty::Gps),
                opt("note", Ty::Text(500)),
            ],
        },
        EntrySpec { name: "finding", attrs: &[req("record", Ty::Record), opt("note", Ty::Text(2000))] },
        NOTE,
        ATTACHMENT,
    ],
};

const VISIT: KindSpec = KindSpec {
    fields: &[
        field("grid", GRID),
        field("household", Ty::Record),
        field("address", Ty::Text(200)),
        field("visited_ms", Ty::Millis),
        field("person_category", Ty::Enum(PERSON_CATEGORIES)),
        field("purpose", Ty::Enum(VISIT_PURPOSES)),
        field("result", Ty::Text(4000)),
        field("follow_up_due", Ty::Date),
        field("gps", Ty::Gps),
    ],
    required: &["grid", "visited_ms", "person_category", "purpose"],
    entries: &[NOTE, ATTACHMENT],
};

const DAILY_REPORT: KindSpec = KindSpec {
    fields: &[
        fixed("grid", GRID),
        fixed("worker", Ty::User),
        fixed("date", Ty::Date),
        field("status", Ty::Enum(REPORT_STATUSES)),
        field("items", Ty::List(&Ty::Record, 200)),
        field("note", Ty::Text(2000)),
    ],
    required: &["grid", "worker", "date", "status"],
    entries: &[NOTE, ATTACHMENT],
};

const DISPUTE: KindSpec = KindSpec {
    fields: &[
        fixed(crate::dispute::REGISTERED_AT, Ty::Place(None)),
        field("place", Ty::Place(None)),
        fixed("source", Ty::Enum(DISPUTE_SOURCES)),
        field("source_record", Ty::Record),
        field("parties", Ty::List(&Ty::Struct(PARTY), 20)),
        field("category", Ty::Text(64)),
        field("summary", Ty::Text(4000)),
        field("risk", Ty::Int(1, 4)),
        field("address", Ty::Text(200)),
        field("due", Ty::Date),
        field("assignee", Ty::User),
    ],
    required: &[crate::dispute::REGISTERED_AT, "place", "source", "category"],
    entries: &[
        EntrySpec {
            name: "mediation",
            attrs: &[
                req("time_ms", Ty::Millis),
                req("outcome", Ty::Enum(MEDIATION_OUTCOMES)),
                opt("place", Ty::Text(200)),
                opt("participants", Ty::Text(500)),
                opt("note", Ty::Text(4000)),
            ],
        },
        NOTE,
        ATTACHMENT,
    ],
};

const HOUSEHOLD: KindSpec = KindSpec {
    fields: &[
        field("grid", GRID),
        field("category", Ty::Enum(HOUSEHOLD_CATEGORIES)),
        field("door_plate", Ty::Text(64)),
        field("building", Ty::Text(64)),
        field("address", Ty::Text(200)),
        field("unit_name", Ty::Text(128)),
        field("population", Ty::Int(0, 100_000)),
        field("residents", Ty::List(&Ty::Struct(PERSON), 50)),
        field("phone", Ty::Text(32)),
        field("gps", Ty::Gps),
        field("note", Ty::Text(2000)),
    ],
    required: &["grid", "category"],
    entries: &[NOTE, ATTACHMENT],
};

/// The spec of a known kind.
pub(crate) fn spec(kind: RecordKind) -> Option<&'static KindSpec> {
    match kind {
        RecordKind::Patrol => Some(&PATROL),
        RecordKind::Visit => Some(&VISIT),
        RecordKind::DailyReport => Some(&DAILY_REPORT),
        RecordKind::Dispute => Some(&DISPUTE),
        RecordKind::Household => Some(&HOUSEHOLD),
        RecordKind::Other(_) => None,
    }
}

/// Names of fields that a dispute derives from its steps, for a helpful
/// refusal when someone tries to set them.
pub(crate) const DERIVED_DISPUTE_FIELDS: &[&str] =
    &["status", "stage", "owner", "handler", "cooperating", "cooperating_units"];
