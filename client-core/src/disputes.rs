//! Disputes on the handset: registering one, taking lifecycle steps,
//! recording mediation sessions. Steps are checked on the device with the
//! same rules the server applies ([`gridsync_proto::dispute::permit`]): a
//! step the user may not take is refused here, before it is stored.

use std::collections::BTreeMap;

use gridsync_proto::dispute::{Action, Lifecycle, STEP_ENTRY, Step, StepBy};
use gridsync_proto::rules::RuleError;
use gridsync_proto::{Date, Dot, ErrorCode, Hierarchy, RecordId, RecordKind, Value};

use crate::error::{Error, Result};
use crate::store::{Edit, Store};

/// A party to a dispute. Personal data: it is sealed in the store and
/// never logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// Their name.
    pub name: String,
    /// `applicant`, `respondent` or `other`.
    pub role: Option<String>,
    /// Their ID number.
    pub id_number: Option<String>,
    /// Their phone.
    pub phone: Option<String>,
    /// Their address.
    pub address: Option<String>,
}

/// A dispute as first registered (矛盾纠纷登记).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDispute {
    /// Where it happened; the user's own place when `None`.
    pub place: Option<String>,
    /// `patrol`, `visit`, `walk_in`, `hotline` or `assigned`.
    pub source: String,
    /// The patrol or visit that found it.
    pub source_record: Option<RecordId>,
    /// What sort of dispute, e.g. 邻里纠纷.
    pub category: String,
    /// What it is about.
    pub summary: Option<String>,
    /// Risk level, 1 (一般) to 4 (特别重大).
    pub risk: Option<i64>,
    /// The parties.
    pub parties: Vec<Party>,
    /// The address.
    pub address: Option<String>,
    /// When it should be settled by.
    pub due: Option<Date>,
}

/// The details a step may carry besides its action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepDetails {
    /// Transfer and assistance: the department.
    pub unit: Option<String>,
    /// The letter's number (文号).
    pub letter_number: Option<String>,
    /// The department's receipt when it signs for a transfer (回执).
    pub receipt: Option<String>,
    /// Reason, outcome or remark.
    pub note: Option<String>,
    /// Acknowledge: the overridden steps acknowledged (all unacknowledged
    /// ones when empty).
    pub acknowledges: Vec<Dot>,
}

/// A mediation session (调解).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mediation {
    /// When (Unix ms).
    pub time_ms: u64,
    /// `agreed`, `partly_agreed`, `failed` or `adjourned`.
    pub outcome: String,
    /// Where.
    pub place: Option<String>,
    /// Who took part.
    pub participants: Option<String>,
    /// What was said and agreed.
    pub note: Option<String>,
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn party_value(p: &Party) -> Value {
    let mut map = BTreeMap::from([("name".to_owned(), text(&p.name))]);
    let optional =
        [("role", &p.role), ("id_number", &p.id_number), ("phone", &p.phone), ("address", &p.address)];
    for (key, value) in optional {
        if let Some(v) = value {
            map.insert(key.to_owned(), text(v));
        }
    }
    Value::Map(map)
}

impl Store {
    /// Registers a dispute at the user's own place, which owns it first.
    pub fn register_dispute(&mut self, dispute: &NewDispute) -> Result<RecordId> {
        let home = self.home_place()?;
        let place = dispute.place.clone().unwrap_or_else(|| home.clone());
        let mut fields = vec![
            (gridsync_proto::dispute::REGISTERED_AT.to_owned(), text(&home)),
            ("place".to_owned(), text(&place)),
            ("source".to_owned(), text(&dispute.source)),
            ("category".to_owned(), text(&dispute.category)),
        ];
        let optional = [
            ("source_record", dispute.source_record.map(|r| text(&r.to_string()))),
            ("summary", dispute.summary.as_deref().map(text)),
            ("risk", dispute.risk.map(Value::Int)),
            ("address", dispute.address.as_deref().map(text)),
            ("due", dispute.due.map(|d| text(&d.to_string()))),
            (
                "parties",
                (!dispute.parties.is_empty())
                    .then(|| Value::List(dispute.parties.iter().map(party_value).collect())),
            ),
        ];
        fields.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))));
        self.create(RecordKind::Dispute, fields)
    }

    /// The lifecycle of a dispute this device holds.
    pub fn lifecycle(&self, id: RecordId) -> Result<Option<Lifecycle>> {
        Ok(self.get(id)?.as_ref().and_then(Lifecycle::of))
    }

    /// Takes a lifecycle step on a dispute, after the last step this device
    /// has seen. An escalation goes to the place above the current owner.
    /// Returns the step's dot.
    pub fn take_step(&mut self, id: RecordId, action: Action, details: StepDetails) -> Result<Dot> {
        let state = self.get(id)?.ok_or(Error::NotFound(id))?;
        if state.kind() != RecordKind::Dispute {
            return Err(Error::Rule(RuleError::new(
                ErrorCode::InvalidRecord,
                None,
                "only disputes have steps",
            )));
        }
        let lifecycle = Lifecycle::of(&state).ok_or_else(|| {
            Error::Rule(RuleError::new(ErrorCode::InvalidRecord, None, "the dispute is not registered"))
        })?;
        let actor = &self.profile().ok_or(Error::NotEnrolled)?.actor;
        let mut step = Step::new(action, lifecycle.head, StepBy::of(actor, self.directory()));
        step.unit = details.unit;
        step.letter_number = details.letter_number;
        step.receipt = details.receipt;
        step.note = details.note;
        step.acknowledges = details.acknowledges;
        match action {
            Action::Escalate => step.to = self.directory().parent(&lifecycle.state.owner).map(str::to_owned),
            Action::Remind => step.unit = step.unit.or_else(|| actor.unit.clone()),
            Action::Acknowledge if step.acknowledges.is_empty() => {
                step.acknowledges = lifecycle.unacknowledged
            }
            _ => {}
        }
        let dots = self.edit_dots(id, [Edit::Append(STEP_ENTRY.into(), step.to_body())])?;
        dots.first().copied().ok_or(Error::Corrupt("a step made no change"))
    }

    /// Records a mediation session.
    pub fn add_mediation(&mut self, id: RecordId, session: &Mediation) -> Result<()> {
        let mut body = BTreeMap::from([
            ("time_ms".to_owned(), Value::Int(session.time_ms as i64)),
            ("outcome".to_owned(), text(&session.outcome)),
        ]);
        let optional =
            [("place", &session.place), ("participants", &session.participants), ("note", &session.note)];
        for (key, value) in optional {
            if let Some(v) = value {
                body.insert(key.to_owned(), text(v));
            }
        }
        self.edit(id, [Edit::Append("mediation".into(), body)])
    }
}
