//! The lifecycle fold: a dispute's stage, owner and departments, computed
//! from its step entries alone.
//!
//! Steps form a tree: each names the last step its author had seen (its
//! `parent`). The fold visits steps in a topological order of that tree,
//! choosing among steps that are ready by rank (the higher level first),
//! then device time, then dot, and applies each in turn:
//!
//! * a stage-changing step applies if the last stage change its author had
//!   seen (its nearest stage-changing ancestor) is the current one and the
//!   stage machine allows it; otherwise it was made without seeing a
//!   concurrent change and is **overridden**: kept in the history, flagged
//!   for the owner until a later `acknowledge` step names it;
//! * an annotation (assist, remind, acknowledge) applies whenever the stage
//!   allows it: annotations never clash. It becomes the head (the parent of
//!   the next step) only if its author had seen the current stage change,
//!   so that the next step follows the current stage;
//! * a step whose parent has not arrived **waits**.
//!
//! The fold reads nothing but the record, so every replica that holds the
//! same steps computes the same lifecycle, whatever happened to the
//! hierarchy since. Who may take which step is checked when a step is made
//! and when the server receives it ([`super::permit`]), not here.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use serde::Serialize;

use super::step::{Action, STEP_ENTRY, Stage, Step};
use crate::change::Dot;
use crate::hlc::Hlc;
use crate::record::RecordState;
use crate::value::Value;

/// The field holding the place where a dispute was registered: its first owner.
pub const REGISTERED_AT: &str = "registered_at";

/// Where a dispute stands after some steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifeState {
    /// Its stage.
    pub stage: Stage,
    /// The place that owns it: exactly one at a time.
    pub owner: String,
    /// The department handling it after a transfer.
    pub handler: Option<String>,
    /// Departments cooperating on it (assistance letters), by code.
    pub cooperating: BTreeSet<String>,
    /// The last stage-changing step applied.
    #[serde(skip)]
    pub stage_head: Option<Dot>,
}

impl LifeState {
    /// A newly registered dispute owned by `owner`.
    pub fn registered(owner: impl Into<String>) -> Self {
        Self {
            stage: Stage::Found,
            owner: owner.into(),
            handler: None,
            cooperating: BTreeSet::new(),
            stage_head: None,
        }
    }

    /// Whether the stage machine allows `action` at the current stage
    /// (whatever the step's details and whoever takes it).
    pub fn allows(&self, action: Action) -> bool {
        use Stage::*;
        let allowed: &[Stage] = match action {
            Action::Accept => &[Found],
            Action::Mediate => &[Found, Accepted],
            Action::Resolve => &[Found, Accepted, Mediating],
            Action::FollowUp => &[Resolved, FollowedUp],
            Action::Close => &[Resolved, FollowedUp],
            Action::Escalate => &[Found, Accepted, Mediating],
            Action::Transfer => &[Accepted, Mediating],
            Action::AcceptTransfer => &[Transferred],
            Action::Return => &[Transferred, ClosureRequested],
            Action::RequestClosure => &[Handling],
            Action::ConfirmClosure => &[ClosureRequested],
            Action::Assist | Action::Remind => {
                &[Found, Accepted, Mediating, Resolved, FollowedUp, Transferred, Handling, ClosureRequested]
            }
            Action::Acknowledge => &Stage::ALL,
        };
        allowed.contains(&self.stage)
    }

    /// The state after `step`, if the stage machine allows it. Pure: no
    /// hierarchy, no permissions.
    pub fn after(&self, step: &Step) -> Result<LifeState, &'static str> {
        use Stage::*;
        let mut next = self.clone();
        if !self.allows(step.action) {
            return Err("the dispute's stage does not allow this step");
        }
        match step.action {
            Action::Accept => next.stage = Accepted,
            Action::Mediate => next.stage = Mediating,
            Action::Resolve => next.stage = Resolved,
            Action::FollowUp => next.stage = FollowedUp,
            Action::Close | Action::ConfirmClosure => next.stage = Closed,
            Action::Escalate => {
                let to = step.to.as_ref().ok_or("an escalation names the place above the owner")?;
                if *to == self.owner {
                    return Err("an escalation moves ownership to another place");
                }
                next.owner = to.clone();
                next.handler = None;
                next.stage = Accepted;
            }
            Action::Transfer => {
                next.handler = Some(step.unit.clone().ok_or("a transfer names the department")?);
                next.stage = Transferred;
            }
            Action::AcceptTransfer => next.stage = Handling,
            Action::Return if self.stage == Transferred => {
                next.handler = None;
                next.stage = Accepted;
            }
            Action::Return => next.stage = Handling,
            Action::RequestClosure => next.stage = ClosureRequested,
            Action::Assist => {
                next.cooperating
                    .insert(step.unit.clone().ok_or("an assistance letter names the department")?);
            }
            Action::Remind | Action::Acknowledge => {}
        }
        Ok(next)
    }
}

/// What became of a step in the fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// It took effect.
    Applied,
    /// A concurrent step took precedence, or the stage no longer allowed
    /// it: kept in the history and flagged.
    Overridden,
    /// Its parent step has not arrived on this replica.
    Waiting,
}

/// One step in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    /// The entry's dot (its device is `dot.actor`).
    pub dot: Dot,
    /// The step.
    pub step: Step,
    /// Its author, as the device knew them.
    pub author: String,
    /// The device's time.
    pub time: Hlc,
    /// What became of it.
    pub status: StepStatus,
    /// The state the fold judged it against (none while it waits).
    pub before: Option<LifeState>,
}

/// A dispute's lifecycle: where it stands and how it got there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    /// Where it stands now.
    pub state: LifeState,
    /// The last applied step that follows the current stage change (an
    /// annotation made on a branch that a clash overrode applies, but is
    /// not the head): the parent of the next one.
    pub head: Option<Dot>,
    /// Every step in fold order, then the waiting ones by dot.
    pub steps: Vec<StepRecord>,
    /// Overridden steps no `acknowledge` has named yet: while any remain,
    /// the dispute is flagged for its owner.
    pub unacknowledged: Vec<Dot>,
}

impl Lifecycle {
    /// The lifecycle of a dispute record; `None` if it has no
    /// [`REGISTERED_AT`] place yet (its creation has not arrived).
    pub fn of(record: &RecordState) -> Option<Lifecycle> {
        let owner = match record.value(REGISTERED_AT) {
            Some(Value::Text(place)) => place.clone(),
            _ => return None,
        };
        let steps = record
            .entries()
            .into_iter()
            .filter(|e| e.entry == STEP_ENTRY)
            .filter_map(|e| {
                Step::from_body(&e.body).ok().map(|s| (e.stamp.dot, s, e.stamp.author.clone(), e.stamp.time))
            })
            .collect();
        Some(Self::fold(LifeState::registered(owner), steps))
    }

    /// Folds steps (in any order) over an initial state.
    pub fn fold(initial: LifeState, steps: Vec<(Dot, Step, String, Hlc)>) -> Lifecycle {
        let by_dot: HashMap<Dot, &(Dot, Step, String, Hlc)> = steps.iter().map(|s| (s.0, s)).collect();
        let mut children: HashMap<Option<Dot>, Vec<Dot>> = HashMap::new();
        for (dot, step, _, _) in &steps {
            children.entry(step.parent).or_default().push(*dot);
        }
        let key = |dot: &Dot| {
            let (_, step, _, time) = by_dot[dot];
            Reverse((u8::MAX - step.by.rank, *time, *dot))
        };
        let mut ready: BinaryHeap<Reverse<(u8, Hlc, Dot)>> = BinaryHeap::new();
        ready.extend(children.get(&None).into_iter().flatten().map(key));

        let mut state = initial;
        let mut out = Vec::with_capacity(steps.len());
        let mut head = None;
        let mut acknowledged = BTreeSet::new();
        let mut overridden = Vec::new();
        while let Some(Reverse((_, _, dot))) = ready.pop() {
            let (_, step, author, time) = by_dot[&dot];
            let before = state.clone();
            // Whether its author had seen the current stage change.
            let in_line = nearest_stage_change(&by_dot, step.parent) == state.stage_head;
            let status = if step.action.changes_stage() && !in_line {
                StepStatus::Overridden
            } else {
                match state.after(step) {
                    Ok(mut next) => {
                        if step.action.changes_stage() {
                            next.stage_head = Some(dot);
                        }
                        if step.action == Action::Acknowledge {
                            acknowledged.extend(step.acknowledges.iter().copied());
                        }
                        state = next;
                        // An annotation made without seeing the current
                        // stage change applies, but a step following it
                        // would not follow the current stage: it is no head.
                        if in_line {
                            head = Some(dot);
                        }
                        StepStatus::Applied
                    }
                    Err(_) => StepStatus::Overridden,
                }
            };
            if status == StepStatus::Overridden {
                overridden.push(dot);
            }
            out.push(StepRecord {
                dot,
                step: step.clone(),
                author: author.clone(),
                time: *time,
                status,
                before: Some(before),
            });
            ready.extend(children.get(&Some(dot)).into_iter().flatten().map(key));
        }
        let seen: BTreeSet<Dot> = out.iter().map(|s| s.dot).collect();
        let mut waiting: Vec<&(Dot, Step, String, Hlc)> =
            steps.iter().filter(|s| !seen.contains(&s.0)).collect();
        waiting.sort_by_key(|s| s.0);
        out.extend(waiting.into_iter().map(|(dot, step, author, time)| StepRecord {
            dot: *dot,
            step: step.clone(),
            author: author.clone(),
            time: *time,
            status: StepStatus::Waiting,
            before: None,
        }));
        let unacknowledged = overridden.into_iter().filter(|d| !acknowledged.contains(d)).collect();
        Lifecycle { state, head, steps: out, unacknowledged }
    }

    /// The step with this dot.
    pub fn step(&self, dot: Dot) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.dot == dot)
    }

    /// The state the author of `dot` saw: the initial state with the steps
    /// of its parent chain applied in order (whatever the fold made of
    /// them). `None` if the step or one of its ancestors is missing.
    pub fn seen_by(&self, initial: &LifeState, dot: Dot) -> Option<LifeState> {
        let mut chain = Vec::new();
        let mut parent = self.step(dot)?.step.parent;
        while let Some(p) = parent {
            if chain.len() > self.steps.len() {
                return None; // a cycle of forged parents
            }
            let record = self.step(p)?;
            chain.push(&record.step);
            parent = record.step.parent;
        }
        let mut state = initial.clone();
        for step in chain.into_iter().rev() {
            if let Ok(next) = state.after(step) {
                state = next;
            }
        }
        Some(state)
    }

    /// Whether the dispute is flagged for its owner: a clash overrode a
    /// step that nobody has acknowledged yet.
    pub fn flagged(&self) -> bool {
        !self.unacknowledged.is_empty()
    }
}

/// The nearest stage-changing step at or above `from` in the parent chain.
fn nearest_stage_change(by_dot: &HashMap<Dot, &(Dot, Step, String, Hlc)>, from: Option<Dot>) -> Option<Dot> {
    let mut current = from;
    let mut hops = 0;
    while let Some(dot) = current {
        let Some((_, step, _, _)) = by_dot.get(&dot) else { return Some(dot) };
        if step.action.changes_stage() {
            return Some(dot);
        }
        hops += 1;
        if hops > by_dot.len() {
            return None;
        }
        current = step.parent;
    }
    None
}
