//! One dispute as the ledgers see it: when and where it was registered, and
//! the applied stage-changing steps of its lifecycle with their times.
//!
//! The lifecycle is the fold of all the dispute's steps
//! ([`Lifecycle::of`]). Its applied stage-changing steps form one chain,
//! each made by someone who had seen the one before (that is what "applied"
//! means in the fold), so they are in causal order. The dispute's state at
//! a moment `t` is the registered state with the longest run of that chain
//! dated before `t` applied: a step is dated by its hybrid logical clock
//! time (the device's clock, never earlier than anything the device had
//! seen). A state read this way never goes backwards as `t` moves on:
//! once closed or resolved at some moment, a dispute is so at every later
//! one, so a month's figures add up with the next month's.

use gridsync_proto::dispute::{LifeState, REGISTERED_AT, StepStatus};
use gridsync_proto::{Action, Lifecycle, RecordId, RecordKind, RecordState, Stage, Value};

use super::period::Period;

/// A category name for disputes that have none.
pub(crate) const NO_CATEGORY: &str = "未分类";

/// Where a dispute stands, as far as the ledgers care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) stage: Stage,
    pub(crate) owner: String,
    pub(crate) handler: Option<String>,
}

impl Snapshot {
    fn of(state: &LifeState) -> Self {
        Self { stage: state.stage, owner: state.owner.clone(), handler: state.handler.clone() }
    }
}

/// One applied stage-changing step.
#[derive(Debug, Clone)]
pub(crate) struct Move {
    pub(crate) action: Action,
    /// Its time (the step's hybrid clock, ms).
    pub(crate) ms: i64,
    /// The owner when it was taken.
    pub(crate) owner_before: String,
    /// Where it left the dispute.
    pub(crate) after: Snapshot,
    /// Escalation: the new owner; transfer: the department.
    pub(crate) target: Option<String>,
}

/// Any step, for the ledger's history column.
#[derive(Debug, Clone)]
pub(crate) struct StepLine {
    pub(crate) ms: i64,
    pub(crate) action: Action,
    pub(crate) status: StepStatus,
    pub(crate) author: String,
    pub(crate) to: Option<String>,
    pub(crate) unit: Option<String>,
}

/// A dispute read for the ledgers: everything they use of its record, owned,
/// so that it can be kept between reads ([`crate::service`]'s ledger index).
#[derive(Debug, Clone)]
pub(crate) struct Dispute {
    pub(crate) id: RecordId,
    /// The place where it was registered (its first owner).
    pub(crate) registered_at: String,
    /// Its state as registered: found, owned by that place.
    pub(crate) registered: Snapshot,
    /// When it was registered: its creation's hybrid clock time (ms).
    pub(crate) registered_ms: i64,
    pub(crate) category: String,
    pub(crate) moves: Vec<Move>,
    /// Applied assistance letters: time and department.
    pub(crate) assists: Vec<(i64, String)>,
    /// Mediation sessions (entries), by time.
    pub(crate) mediations: Vec<i64>,
    /// Attached files (photos, agreements), by the time they were attached.
    pub(crate) attachments: Vec<i64>,
    /// Every step in fold order, then the waiting ones.
    pub(crate) steps: Vec<StepLine>,
    /// The register's columns read straight from the record.
    pub(crate) fields: RegisterFields,
}

/// The fields of a dispute's record the register shows as they are.
#[derive(Debug, Clone, Default)]
pub(crate) struct RegisterFields {
    /// 来源, when given.
    pub(crate) source: Option<String>,
    /// 当事人, as recorded (masked when the register is written).
    pub(crate) parties: Option<Value>,
    /// 简要情况, when given.
    pub(crate) summary: Option<String>,
    /// 风险等级.
    pub(crate) risk: Option<i64>,
}

impl RegisterFields {
    fn of(record: &RecordState) -> Self {
        let text = |field: &str| match record.value(field) {
            Some(Value::Text(t)) if !t.trim().is_empty() => Some(t.clone()),
            _ => None,
        };
        Self {
            source: text("source"),
            parties: record.value("parties").cloned(),
            summary: text("summary"),
            risk: match record.value("risk") {
                Some(Value::Int(r)) => Some(*r),
                _ => None,
            },
        }
    }
}

/// Where a dispute record was registered, read without folding its
/// lifecycle; `None` for other kinds or before its creation arrived.
pub(crate) fn registered_at(record: &RecordState) -> Option<&str> {
    match (record.kind(), record.value(REGISTERED_AT)) {
        (RecordKind::Dispute, Some(Value::Text(place))) => Some(place),
        _ => None,
    }
}

/// Hybrid clock milliseconds as a signed time.
pub(crate) fn ms(millis: u64) -> i64 {
    i64::try_from(millis).unwrap_or(i64::MAX)
}

impl Dispute {
    /// Reads a dispute record; `None` for other kinds and for a dispute
    /// whose creation (with its registration place) has not arrived.
    pub(crate) fn of(record: &RecordState) -> Option<Self> {
        if record.kind() != RecordKind::Dispute {
            return None;
        }
        let registered_ms = ms(record.created()?.time.millis);
        let lifecycle = Lifecycle::of(record)?;
        let registered_at = match record.value(REGISTERED_AT) {
            Some(Value::Text(place)) => place.clone(),
            _ => return None,
        };
        let category = match record.value("category") {
            Some(Value::Text(c)) if !c.trim().is_empty() => c.trim().to_owned(),
            _ => NO_CATEGORY.to_owned(),
        };
        let mut moves = Vec::new();
        let mut assists = Vec::new();
        let mut steps = Vec::with_capacity(lifecycle.steps.len());
        for s in &lifecycle.steps {
            let at = ms(s.time.millis);
            steps.push(StepLine {
                ms: at,
                action: s.step.action,
                status: s.status,
                author: s.author.clone(),
                to: s.step.to.clone(),
                unit: s.step.unit.clone(),
            });
            if s.status != StepStatus::Applied {
                continue;
            }
            let Some(before) = &s.before else { continue };
            if s.step.action == Action::Assist {
                if let Some(unit) = &s.step.unit {
                    assists.push((at, unit.clone()));
                }
                continue;
            }
            if !s.step.action.changes_stage() {
                continue;
            }
            // The fold applied it, so the stage machine allows it.
            let Ok(after) = before.after(&s.step) else { continue };
            let target = match s.step.action {
                Action::Escalate => s.step.to.clone(),
                Action::Transfer => s.step.unit.clone(),
                _ => None,
            };
            moves.push(Move {
                action: s.step.action,
                ms: at,
                owner_before: before.owner.clone(),
                after: Snapshot::of(&after),
                target,
            });
        }
        let mut mediations: Vec<i64> = record
            .entries()
            .into_iter()
            .filter(|e| e.entry == "mediation")
            .map(|e| ms(e.stamp.time.millis))
            .collect();
        mediations.sort_unstable();
        let mut attachments: Vec<i64> = record
            .entries()
            .into_iter()
            .filter(|e| e.entry == gridsync_proto::attachment::ENTRY)
            .map(|e| ms(e.stamp.time.millis))
            .collect();
        attachments.sort_unstable();
        Some(Self {
            id: record.id(),
            registered: Snapshot { stage: Stage::Found, owner: registered_at.clone(), handler: None },
            registered_at,
            registered_ms,
            category,
            moves,
            assists,
            mediations,
            attachments,
            steps,
            fields: RegisterFields::of(record),
        })
    }

    /// How many moves lie before `t`: the longest run of the chain dated
    /// before it.
    pub(crate) fn cut(&self, t: i64) -> usize {
        self.moves.iter().take_while(|m| m.ms < t).count()
    }

    /// The state after the first `k` moves.
    pub(crate) fn state(&self, k: usize) -> &Snapshot {
        match k.checked_sub(1).and_then(|i| self.moves.get(i)) {
            Some(m) => &m.after,
            None => &self.registered,
        }
    }

    /// The departments cooperating before `t`.
    pub(crate) fn cooperating(&self, t: i64) -> Vec<&str> {
        let mut out: Vec<&str> =
            self.assists.iter().filter(|(at, _)| *at < t).map(|(_, u)| u.as_str()).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The first move (within the first `k`) that left the dispute resolved.
    pub(crate) fn resolving_move(&self, k: usize) -> Option<&Move> {
        self.moves.iter().take(k).find(|m| m.after.stage.is_resolved())
    }

    /// What happened to the dispute in `period`; `None` if it was
    /// registered after the period.
    pub(crate) fn within(&self, period: Period) -> Option<InPeriod<'_>> {
        if self.registered_ms >= period.end_ms {
            return None;
        }
        let before = self.registered_ms < period.start_ms;
        let ks = if before { self.cut(period.start_ms) } else { 0 };
        let ke = self.cut(period.end_ms).max(ks);
        let start = before.then(|| self.state(ks));
        let end = self.state(ke);
        let found = !before;
        let carried = start.is_some_and(|s| s.stage != Stage::Closed);
        let on_books = found || carried;
        let pending = found || start.is_some_and(|s| !s.stage.is_resolved());
        let resolved = pending && end.stage.is_resolved();
        let events = &self.moves[ks..ke];
        let any = |a: Action| events.iter().any(|m| m.action == a);
        let escalated_to =
            events.iter().rev().find(|m| m.action == Action::Escalate).and_then(|m| m.target.as_deref());
        let mut transfers: Vec<&str> = events
            .iter()
            .filter(|m| m.action == Action::Transfer)
            .filter_map(|m| m.target.as_deref())
            .collect();
        transfers.sort_unstable();
        transfers.dedup();
        let sessions =
            if on_books { self.mediations.iter().filter(|t| period.contains(**t)).count() } else { 0 };
        Some(InPeriod {
            found,
            carried,
            pending,
            resolved,
            resolved_by: if resolved {
                self.resolving_move(ke).map(|m| m.owner_before.as_str())
            } else {
                None
            },
            accepted: any(Action::Accept),
            mediated: any(Action::Mediate),
            escalated_to,
            escalated: any(Action::Escalate),
            transfers,
            closed: on_books && end.stage == Stage::Closed,
            open_at_end: on_books && end.stage != Stage::Closed,
            unresolved_at_end: !end.stage.is_resolved(),
            sessions: u64::try_from(sessions).unwrap_or(u64::MAX),
            start,
            end,
            end_cut: ke,
        })
    }
}

/// What happened to one dispute in one period.
#[derive(Debug, Clone)]
pub(crate) struct InPeriod<'d> {
    /// Registered in the period.
    pub(crate) found: bool,
    /// Registered before the period and not closed at its start.
    pub(crate) carried: bool,
    /// In the resolution rate's denominator: registered in the period, or
    /// before it and not resolved at its start.
    pub(crate) pending: bool,
    /// In the numerator: pending, and resolved at the period's end.
    pub(crate) resolved: bool,
    /// For a resolved one: the owner when it became resolved.
    pub(crate) resolved_by: Option<&'d str>,
    /// An accept step in the period.
    pub(crate) accepted: bool,
    /// A mediate step in the period.
    pub(crate) mediated: bool,
    /// An escalation in the period.
    pub(crate) escalated: bool,
    /// The place the last escalation in the period went to.
    pub(crate) escalated_to: Option<&'d str>,
    /// The departments it was transferred to in the period, by code.
    pub(crate) transfers: Vec<&'d str>,
    /// On the books and closed at the period's end.
    pub(crate) closed: bool,
    /// On the books and not closed at the period's end.
    pub(crate) open_at_end: bool,
    /// Not resolved at the period's end.
    pub(crate) unresolved_at_end: bool,
    /// Mediation sessions in the period (for disputes on the books).
    pub(crate) sessions: u64,
    /// Its state at the period's start, if registered before it.
    pub(crate) start: Option<&'d Snapshot>,
    /// Its state at the period's end.
    pub(crate) end: &'d Snapshot,
    /// How many moves lie before the period's end.
    pub(crate) end_cut: usize,
}

impl InPeriod<'_> {
    /// Whether the dispute was open at some point of the period: registered
    /// in it, or carried into it.
    pub(crate) fn on_books(&self) -> bool {
        self.found || self.carried
    }
}
