//! Field work as the app records it: patrols, household visits, daily
//! reports and base information. Each call is one write, checked with the
//! record rules for the enrolled user before it is stored.
//!
//! ```no_run
//! # fn main() -> Result<(), gridsync_client_core::Error> {
//! # let mut store: gridsync_client_core::Store = unimplemented!();
//! use gridsync_proto::Date;
//! // A quiet day: "nothing happened" (无事报平安) is one call.
//! let today: Date = "2026-12-01".parse().expect("a date");
//! store.file_all_safe(today)?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use gridsync_proto::rules::RuleError;
use gridsync_proto::{Date, ErrorCode, RecordId, RecordKind, Value, daily_report_id};

use crate::error::{Error, Result};
use crate::store::{Edit, Store, now_ms};

/// A position from the handset's location service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gps {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Accuracy radius, metres.
    pub accuracy_m: f64,
    /// The platform reported a mock (simulated) location.
    pub mock: bool,
    /// When the fix was taken (Unix ms), if known.
    pub time_ms: Option<u64>,
}

impl Gps {
    /// The position as a field value.
    pub fn to_value(&self) -> Value {
        let mut map = BTreeMap::from([
            ("lat".to_owned(), Value::Float(self.lat)),
            ("lon".to_owned(), Value::Float(self.lon)),
            ("accuracy_m".to_owned(), Value::Float(self.accuracy_m)),
            ("mock".to_owned(), Value::Bool(self.mock)),
        ]);
        if let Some(t) = self.time_ms {
            map.insert("time_ms".to_owned(), Value::Int(t as i64));
        }
        Value::Map(map)
    }
}

/// A household or place visit (走访).
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    /// The grid; the user's own place when `None`.
    pub grid: Option<String>,
    /// The household's base-information record, if it has one.
    pub household: Option<RecordId>,
    /// Or the address visited.
    pub address: Option<String>,
    /// When (Unix ms).
    pub visited_ms: u64,
    /// Who was visited: `general`, or a special population such as
    /// `severe_mental_illness` ([`gridsync_proto::rules::PERSON_CATEGORIES`]).
    pub person_category: String,
    /// Why ([`gridsync_proto::rules::VISIT_PURPOSES`]).
    pub purpose: String,
    /// What came of it.
    pub result: Option<String>,
    /// When to follow up.
    pub follow_up_due: Option<Date>,
    /// Where the worker stood.
    pub gps: Option<Gps>,
}

/// What a daily report says (有事报信息、无事报平安).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DailyReport {
    /// Nothing happened (平安).
    AllSafe {
        /// A remark.
        note: Option<String>,
    },
    /// Something happened: the day's records that say what.
    HasItems {
        /// The patrols, visits and disputes of the day.
        items: Vec<RecordId>,
        /// A remark.
        note: Option<String>,
    },
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn millis(ms: u64) -> Value {
    Value::Int(ms as i64)
}

impl Store {
    /// The place the enrolled user is assigned to: the grid of their field
    /// records when none is given.
    pub fn home_place(&self) -> Result<String> {
        let profile = self.profile().ok_or(Error::NotEnrolled)?;
        profile.actor.place.clone().ok_or_else(|| {
            Error::Rule(RuleError::new(
                ErrorCode::MissingField,
                Some("grid"),
                "name the grid: the user has no place",
            ))
        })
    }

    /// Refuses a reference to a record this device does not hold: the
    /// first such id, named with the `argument` that gave it.
    fn known(&self, argument: &'static str, records: impl IntoIterator<Item = RecordId>) -> Result<()> {
        for record in records {
            if self.get(record)?.is_none() {
                return Err(Error::UnknownReference { argument, record });
            }
        }
        Ok(())
    }

    /// Starts a patrol of the user's grid (巡查) at `started_ms`.
    pub fn start_patrol(&mut self, started_ms: u64) -> Result<RecordId> {
        let grid = self.home_place()?;
        self.start_patrol_in(&grid, started_ms)
    }

    /// Starts a patrol of `grid`.
    pub fn start_patrol_in(&mut self, grid: &str, started_ms: u64) -> Result<RecordId> {
        self.create(
            RecordKind::Patrol,
            [("grid".into(), text(grid)), ("started_ms".into(), millis(started_ms))],
        )
    }

    /// Records a checkpoint of a patrol: the place, when, and the position.
    pub fn add_checkpoint(
        &mut self,
        patrol: RecordId,
        place: &str,
        time_ms: u64,
        gps: &Gps,
        note: Option<&str>,
    ) -> Result<()> {
        let mut body = BTreeMap::from([
            ("place".to_owned(), text(place)),
            ("time_ms".to_owned(), millis(time_ms)),
            ("gps".to_owned(), gps.to_value()),
        ]);
        if let Some(note) = note {
            body.insert("note".to_owned(), text(note));
        }
        self.edit(patrol, [Edit::Append("checkpoint".into(), body)])
    }

    /// Links a finding of a patrol to the record it produced (a dispute, a
    /// visit). `record` must be on this device
    /// ([`Error::UnknownReference`] otherwise; nothing is written).
    pub fn add_finding(&mut self, patrol: RecordId, record: RecordId, note: Option<&str>) -> Result<()> {
        self.profile().ok_or(Error::NotEnrolled)?;
        self.known("record", [record])?;
        let mut body = BTreeMap::from([("record".to_owned(), text(&record.to_string()))]);
        if let Some(note) = note {
            body.insert("note".to_owned(), text(note));
        }
        self.edit(patrol, [Edit::Append("finding".into(), body)])
    }

    /// Ends a patrol.
    pub fn end_patrol(&mut self, patrol: RecordId, ended_ms: u64, summary: Option<&str>) -> Result<()> {
        let mut edits = vec![Edit::Set("ended_ms".into(), millis(ended_ms))];
        if let Some(summary) = summary {
            edits.push(Edit::Set("summary".into(), text(summary)));
        }
        self.edit(patrol, edits)
    }

    /// Records a visit.
    pub fn record_visit(&mut self, visit: &Visit) -> Result<RecordId> {
        let grid = match &visit.grid {
            Some(grid) => grid.clone(),
            None => self.home_place()?,
        };
        let mut fields = vec![
            ("grid".to_owned(), text(&grid)),
            ("visited_ms".to_owned(), millis(visit.visited_ms)),
            ("person_category".to_owned(), text(&visit.person_category)),
            ("purpose".to_owned(), text(&visit.purpose)),
        ];
        let optional = [
            ("household", visit.household.map(|h| text(&h.to_string()))),
            ("address", visit.address.as_deref().map(text)),
            ("result", visit.result.as_deref().map(text)),
            ("follow_up_due", visit.follow_up_due.map(|d| text(&d.to_string()))),
            ("gps", visit.gps.as_ref().map(Gps::to_value)),
        ];
        fields.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))));
        self.create(RecordKind::Visit, fields)
    }

    /// Files the user's daily report for `date`, or updates it if already
    /// filed (on this phone or another of theirs: the report's id is fixed by
    /// worker and day, so both phones' reports are one). Every item must be
    /// a record on this device ([`Error::UnknownReference`] naming `items`
    /// otherwise; nothing is written).
    pub fn file_daily_report(&mut self, date: Date, report: &DailyReport) -> Result<RecordId> {
        let worker = self.profile().ok_or(Error::NotEnrolled)?.actor.user.clone();
        if let DailyReport::HasItems { items, .. } = report {
            self.known("items", items.iter().copied())?;
        }
        let id = daily_report_id(&worker, date);
        let exists = self.get(id)?.is_some();
        let mut edits = Vec::new();
        if !exists {
            edits.push(Edit::Set("grid".into(), text(&self.home_place()?)));
            edits.push(Edit::Set("worker".into(), text(&worker)));
            edits.push(Edit::Set("date".into(), text(&date.to_string())));
        }
        let (status, items, note) = match report {
            DailyReport::AllSafe { note } => ("all_safe", Value::Null, note),
            DailyReport::HasItems { items, note } => {
                ("has_items", Value::List(items.iter().map(|i| text(&i.to_string())).collect()), note)
            }
        };
        edits.push(Edit::Set("status".into(), text(status)));
        if exists || items != Value::Null {
            edits.push(Edit::Set("items".into(), items));
        }
        if let Some(note) = note {
            edits.push(Edit::Set("note".into(), text(note)));
        }
        self.create_or_edit(id, RecordKind::DailyReport, edits)?;
        Ok(id)
    }

    /// Files "all safe" (平安) for `date`: a quiet day in one call.
    pub fn file_all_safe(&mut self, date: Date) -> Result<RecordId> {
        self.file_daily_report(date, &DailyReport::AllSafe { note: None })
    }

    /// Today's date where the user works, at `utc_offset_minutes` east of UTC.
    pub fn today(utc_offset_minutes: i32) -> Option<Date> {
        Date::of_millis(now_ms() as i64, utc_offset_minutes)
    }

    /// Records base information on a household or place (门牌、楼栋、人口、单位):
    /// its `category` ([`gridsync_proto::rules::HOUSEHOLD_CATEGORIES`]) and
    /// further fields (`door_plate`, `building`, `address`, `residents`, …).
    /// The grid is the user's own unless `fields` names one.
    pub fn record_household(
        &mut self,
        category: &str,
        fields: impl IntoIterator<Item = (String, Value)>,
    ) -> Result<RecordId> {
        let mut all: BTreeMap<String, Value> = fields.into_iter().collect();
        all.insert("category".into(), text(category));
        if !all.contains_key("grid") {
            all.insert("grid".into(), text(&self.home_place()?));
        }
        self.create(RecordKind::Household, all)
    }
}
