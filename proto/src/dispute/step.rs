//! One lifecycle step: its typed form and its entry body.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::change::Dot;
use crate::value::Value;

/// The entry kind of lifecycle steps.
pub const STEP_ENTRY: &str = "step";
/// Longest step note, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;

/// Where a dispute stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Registered, not yet taken on (发现登记).
    Found,
    /// Taken on by its owner (受理).
    Accepted,
    /// Being mediated (调解中).
    Mediating,
    /// Settled by its owner (化解).
    Resolved,
    /// Visited again after settling (回访).
    FollowedUp,
    /// Sent to a department, waiting for it to accept (转办待签收).
    Transferred,
    /// Being handled by the department (部门办理中).
    Handling,
    /// The department asks the centre to close it (申请办结).
    ClosureRequested,
    /// Closed with the centre's confirmation (销号).
    Closed,
}

impl Stage {
    /// Every stage, in lifecycle order.
    pub const ALL: [Stage; 9] = [
        Stage::Found,
        Stage::Accepted,
        Stage::Mediating,
        Stage::Resolved,
        Stage::FollowedUp,
        Stage::Transferred,
        Stage::Handling,
        Stage::ClosureRequested,
        Stage::Closed,
    ];

    /// The name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Found => "found",
            Stage::Accepted => "accepted",
            Stage::Mediating => "mediating",
            Stage::Resolved => "resolved",
            Stage::FollowedUp => "followed_up",
            Stage::Transferred => "transferred",
            Stage::Handling => "handling",
            Stage::ClosureRequested => "closure_requested",
            Stage::Closed => "closed",
        }
    }

    /// Whether the dispute still needs work (it stays on devices until closed).
    pub fn is_open(self) -> bool {
        self != Stage::Closed
    }

    /// Whether the dispute counts as resolved in the ledgers (化解).
    pub fn is_resolved(self) -> bool {
        matches!(self, Stage::Resolved | Stage::FollowedUp | Stage::Closed)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The owner takes it on: found → accepted.
    Accept,
    /// The owner starts mediating: found/accepted → mediating.
    Mediate,
    /// The owner settles it: found/accepted/mediating → resolved.
    Resolve,
    /// The owner visits again after settling: resolved → followed up.
    FollowUp,
    /// A centre closes it: resolved/followed up → closed.
    Close,
    /// Ownership moves one level up and the dispute starts again at
    /// accepted there (上报).
    Escalate,
    /// A centre transfers it to a department with a transfer letter (转办):
    /// accepted/mediating → transferred.
    Transfer,
    /// The department signs for it (签收): transferred → handling.
    AcceptTransfer,
    /// Sent back: by the department before accepting (transferred →
    /// accepted), or by the centre for more information on a closure
    /// request (closure requested → handling).
    Return,
    /// The department asks the centre to close it: handling → closure requested.
    RequestClosure,
    /// The centre confirms the closure (销号): closure requested → closed.
    ConfirmClosure,
    /// The owner asks a department to help with an assistance letter
    /// (协办函); the department cooperates from then on. No stage change.
    Assist,
    /// A handling or cooperating department sends a reminder letter (提示函)
    /// to the owner. No stage change.
    Remind,
    /// The owner acknowledges steps that a clash overrode, clearing the flag.
    Acknowledge,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 14] = [
        Action::Accept,
        Action::Mediate,
        Action::Resolve,
        Action::FollowUp,
        Action::Close,
        Action::Escalate,
        Action::Transfer,
        Action::AcceptTransfer,
        Action::Return,
        Action::RequestClosure,
        Action::ConfirmClosure,
        Action::Assist,
        Action::Remind,
        Action::Acknowledge,
    ];

    /// The name used in entry bodies, JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Mediate => "mediate",
            Action::Resolve => "resolve",
            Action::FollowUp => "follow_up",
            Action::Close => "close",
            Action::Escalate => "escalate",
            Action::Transfer => "transfer",
            Action::AcceptTransfer => "accept_transfer",
            Action::Return => "return",
            Action::RequestClosure => "request_closure",
            Action::ConfirmClosure => "confirm_closure",
            Action::Assist => "assist",
            Action::Remind => "remind",
            Action::Acknowledge => "acknowledge",
        }
    }

    /// Whether the step moves the stage or the ownership. Such steps clash
    /// when two are made without seeing each other; annotations (assist,
    /// remind, acknowledge) never clash.
    pub fn changes_stage(self) -> bool {
        !matches!(self, Action::Assist | Action::Remind | Action::Acknowledge)
    }

    /// The letter this step sends, if any.
    pub fn letter(self) -> Option<LetterType> {
        match self {
            Action::Transfer => Some(LetterType::Transfer),
            Action::Assist => Some(LetterType::Assistance),
            Action::Remind => Some(LetterType::Reminder),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
            format!("unknown step; expected one of {}", names.join(", "))
        })
    }
}

/// The letters of two-way transfer (双向流转).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterType {
    /// 提示函: a department tells the township that local work is needed.
    Reminder,
    /// 协办函: the owner asks a department to assist.
    Assistance,
    /// 转办: the centre hands the dispute to a department.
    Transfer,
}

impl LetterType {
    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            LetterType::Reminder => "reminder",
            LetterType::Assistance => "assistance",
            LetterType::Transfer => "transfer",
        }
    }
}

/// Who took a step, as their device stated it (the server checks it
/// against the user's assignment before accepting the step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepBy {
    /// Their role.
    pub role: Role,
    /// Their place; `None`: the whole deployment.
    pub place: Option<String>,
    /// Their unit, for department users.
    pub unit: Option<String>,
    /// Their level's rank ([`crate::Actor::rank`]), which decides clashes.
    pub rank: u8,
}

/// One lifecycle step, as appended to a dispute in a `step` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// What it does.
    pub action: Action,
    /// The last step its author had seen (none for the first step). This,
    /// not a clock, orders steps.
    pub parent: Option<Dot>,
    /// Who took it.
    pub by: StepBy,
    /// Escalation: the new owner, the place above the current owner.
    pub to: Option<String>,
    /// Transfer, assistance: the department; reminder: the sending unit.
    pub unit: Option<String>,
    /// The letter's number (文号), for transfers, assistance and reminders.
    pub letter_number: Option<String>,
    /// The receipt (回执) the department gives when it signs for a transfer.
    pub receipt: Option<String>,
    /// Reason, outcome or remark.
    pub note: Option<String>,
    /// Acknowledge: the overridden steps acknowledged.
    pub acknowledges: Vec<Dot>,
}

/// A step entry body that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step attribute {attr:?}: {reason}")]
pub struct BadStep {
    /// The offending attribute.
    pub attr: &'static str,
    /// Why.
    pub reason: String,
}

fn bad(attr: &'static str, reason: impl Into<String>) -> BadStep {
    BadStep { attr, reason: reason.into() }
}

const ATTRS: [&str; 12] = [
    "action",
    "parent",
    "by_role",
    "by_place",
    "by_unit",
    "by_rank",
    "to",
    "unit",
    "letter_number",
    "receipt",
    "note",
    "acknowledges",
];

impl Step {
    /// A step with only its action, parent and author filled in.
    pub fn new(action: Action, parent: Option<Dot>, by: StepBy) -> Self {
        Self {
            action,
            parent,
            by,
            to: None,
            unit: None,
            letter_number: None,
            receipt: None,
            note: None,
            acknowledges: Vec::new(),
        }
    }

    /// The entry body.
    pub fn to_body(&self) -> BTreeMap<String, Value> {
        let mut body = BTreeMap::new();
        let mut put = |k: &str, v: Value| {
            body.insert(k.to_owned(), v);
        };
        put("action", self.action.name().into());
        if let Some(parent) = self.parent {
            put("parent", parent.to_string().into());
        }
        put("by_role", self.by.role.name().into());
        let texts = [
            ("by_place", &self.by.place),
            ("by_unit", &self.by.unit),
            ("to", &self.to),
            ("unit", &self.unit),
            ("letter_number", &self.letter_number),
            ("receipt", &self.receipt),
            ("note", &self.note),
        ];
        for (key, text) in texts {
            if let Some(text) = text {
                put(key, text.as_str().into());
            }
        }
        put("by_rank", Value::Int(i64::from(self.by.rank)));
        if !self.acknowledges.is_empty() {
            put(
                "acknowledges",
                Value::List(self.acknowledges.iter().map(|d| d.to_string().into()).collect()),
            );
        }
        body
    }

    /// Reads an entry body, refusing unknown attributes and wrong types.
    pub fn from_body(body: &BTreeMap<String, Value>) -> Result<Step, BadStep> {
        if let Some(unknown) = body.keys().find(|k| !ATTRS.contains(&k.as_str())) {
            let _ = unknown;
            return Err(bad("action", "a step has an attribute this build does not know"));
        }
        let text = |attr: &'static str, max: usize| -> Result<Option<String>, BadStep> {
            match body.get(attr) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Text(t)) if !t.is_empty() && t.chars().count() <= max => Ok(Some(t.clone())),
                Some(Value::Text(_)) => Err(bad(attr, format!("1 to {max} characters"))),
                Some(_) => Err(bad(attr, "must be text")),
            }
        };
        let action = text("action", 32)?.ok_or_else(|| bad("action", "missing"))?;
        let action = Action::from_str(&action).map_err(|e| bad("action", e))?;
        let parent = text("parent", 64)?
            .map(|p| p.parse::<Dot>().map_err(|_| bad("parent", "not a step reference")))
            .transpose()?;
        let role = text("by_role", 32)?.ok_or_else(|| bad("by_role", "missing"))?;
        let role = role.parse::<Role>().map_err(|e| bad("by_role", e))?;
        let rank = match body.get("by_rank") {
            Some(Value::Int(r)) if (1..=8).contains(r) => *r as u8,
            _ => return Err(bad("by_rank", "a whole number from 1 to 8")),
        };
        let acknowledges = match body.get("acknowledges") {
            None => Vec::new(),
            Some(Value::List(items)) if items.len() <= 64 => items
                .iter()
                .map(|v| match v {
                    Value::Text(t) => {
                        t.parse::<Dot>().map_err(|_| bad("acknowledges", "not a step reference"))
                    }
                    _ => Err(bad("acknowledges", "a list of step references")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad("acknowledges", "a list of at most 64 step references")),
        };
        Ok(Step {
            action,
            parent,
            by: StepBy { role, place: text("by_place", 32)?, unit: text("by_unit", 32)?, rank },
            to: text("to", 32)?,
            unit: text("unit", 32)?,
            letter_number: text("letter_number", 64)?,
            receipt: text("receipt", 200)?,
            note: text("note", MAX_NOTE_CHARS)?,
            acknowledges,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ActorId;

    #[test]
    fn bodies_round_trip_and_bad_ones_name_the_attribute() {
        let parent = Dot { actor: ActorId::from_bytes([3; 16]), counter: 7 };
        let mut step = Step::new(
            Action::Transfer,
            Some(parent),
            StepBy { role: Role::TownshipAdmin, place: Some("530102".into()), unit: None, rank: 3 },
        );
        step.unit = Some("U-POLICE".into());
        step.letter_number = Some("城综转〔2026〕12号".into());
        step.note = Some("涉及治安".into());
        assert_eq!(Step::from_body(&step.to_body()), Ok(step.clone()));
        let mut ack = Step::new(Action::Acknowledge, None, step.by.clone());
        ack.acknowledges = vec![parent];
        assert_eq!(Step::from_body(&ack.to_body()), Ok(ack));

        let mut body = step.to_body();
        body.insert("action".into(), "bribe".into());
        assert_eq!(Step::from_body(&body).map_err(|e| e.attr), Err("action"));
        let mut body = step.to_body();
        body.insert("by_rank".into(), Value::Int(99));
        assert_eq!(Step::from_body(&body).map_err(|e| e.attr), Err("by_rank"));
        let mut body = step.to_body();
        body.insert("parent".into(), "not-a-dot".into());
        assert_eq!(Step::from_body(&body).map_err(|e| e.attr), Err("parent"));
        let mut body = step.to_body();
        body.insert("colour".into(), "red".into());
        assert!(Step::from_body(&body).is_err());
    }
}
