//! Push ingestion against a real store: a [`Plan`] of pushes and pulls by
//! the town's devices ([`super::town`]), built from the fuzzer's bytes with
//! [`arbitrary`], run through [`Service::push`] and [`Service::pull`].
//!
//! A push's groups are made the way a handset makes them (each device keeps
//! its copy of the records and its clock, and [`make_group`] numbers and
//! stamps the changes), or are a retry of a group sent before, raw changes
//! with any dot, author and operation, or an earlier change altered under
//! its own dot. The fields, entries and texts come mostly from what the
//! record rules know, so that pushes get past the rules as often as not.
//!
//! After every push, [`check`] holds the store to the answer:
//! * a refused push (an error) left the log and every record state as they
//!   were, and was refused with a code, never a storage failure;
//! * an answered push appended exactly its accepted changes, in order, after
//!   the log as it was; every group was applied whole or not at all: a
//!   refused group left none of its changes, any other group has every
//!   change in the log, as sent; `accepted + duplicates` is the size of the
//!   groups not refused; no dot is logged twice;
//! * every record's stored state is the merge of its logged changes;
//!
//! and after the plan, the audit chain is intact.

use std::collections::{BTreeMap, HashMap, HashSet};

use arbitrary::{Arbitrary, Unstructured};
use gridsync_proto::change::log_body;
use gridsync_proto::edit::Author;
use gridsync_proto::{
    ActorId, Change, Dot, Edit, Hlc, HlcClock, Op, PullRequest, PushRequest, PushResponse, RecordId,
    RecordKind, RecordState, Value, make_group,
};

use super::town::{self, DEVICES, USERS};
use crate::audit::Verdict;
use crate::error::CoreError;
use crate::service::{Caller, Service};
use crate::storage::StorageExt;

/// Most steps of one plan, pushes per step and changes per group: enough
/// for retries and conflicts, small enough for many cases a second.
const MAX_STEPS: usize = 6;
const MAX_GROUPS: usize = 6;
const MAX_EDITS: usize = 6;

/// Field, entry and attribute names: those the record rules know, and a
/// few they do not.
const NAMES: &[&str] = &[
    "grid",
    "started_ms",
    "ended_ms",
    "route",
    "summary",
    "status",
    "category",
    "place",
    "source",
    "worker",
    "date",
    "items",
    "visited_ms",
    "person_category",
    "purpose",
    "result",
    "follow_up_due",
    "household",
    "address",
    "door_plate",
    "building",
    "residents",
    "parties",
    "risk",
    "due",
    "assignee",
    "outcome",
    "participants",
    "gps",
    "registered_at",
    "note",
    "text",
    "name",
    "checkpoint",
    "finding",
    "mediation",
    "step",
    "action",
    "to",
    "unit",
    "acknowledges",
    "record",
    "time_ms",
    "lat",
    "lon",
    "accuracy_m",
    "mock",
    "id_number",
    "phone",
    "relation",
    "birth_year",
    "unknown_field",
];

/// Texts: places, units, users, the rules' enumerations and dates.
const TEXTS: &[&str] = &[
    town::GRID_A,
    town::GRID_B,
    town::VILLAGE_A,
    town::TOWNSHIP,
    town::OTHER_TOWNSHIP,
    town::COUNTY,
    town::POLICE,
    "wang",
    "li",
    "zhou",
    "chen",
    town::REPORT_DAY,
    "2026-12-02",
    "all_safe",
    "has_items",
    "general",
    "elderly_alone",
    "routine",
    "dispute_check",
    "patrol",
    "visit",
    "walk_in",
    "hotline",
    "agreed",
    "failed",
    "household",
    "shop",
    "found",
    "accept",
    "mediate",
    "resolve",
    "escalate",
    "transfer",
    "accept_transfer",
    "return",
    "close",
    "request_closure",
    "confirm_closure",
    "assist",
    "remind",
    "acknowledge",
    "applicant",
    "respondent",
    "邻里因漏水纠纷",
    "",
];

/// What one case does, in order.
#[derive(Debug, Arbitrary)]
pub struct Plan {
    steps: Vec<Step>,
}

impl Plan {
    /// The plan the fuzzer's bytes make (`None`: they make none).
    pub fn from_bytes(data: &[u8]) -> Option<Self> {
        let mut plan = Plan::arbitrary_take_rest(Unstructured::new(data)).ok()?;
        plan.steps.truncate(MAX_STEPS);
        Some(plan)
    }
}

/// One step of a plan.
#[derive(Debug, Arbitrary)]
enum Step {
    /// A device pushes.
    Push(PushPlan),
    /// A device pulls a page (and forgets it).
    Pull { device: u8, limit: u16, cursor: u64 },
}

/// One push.
#[derive(Debug, Arbitrary)]
struct PushPlan {
    /// Which device ([`DEVICES`], by position).
    device: u8,
    /// Sent as another device than the one authenticated.
    posing_as: Option<u8>,
    /// Authenticated as another user than the device's.
    user: Option<u8>,
    /// The device clock's distance from the server's, in seconds.
    skew_s: i32,
    groups: Vec<GroupPlan>,
}

/// One write group of a push.
#[derive(Debug, Arbitrary)]
enum GroupPlan {
    /// A local write, made as a handset makes it.
    Write { record: u8, kind: u8, create: Option<bool>, edits: Vec<EditPlan> },
    /// A group sent before, sent again.
    Again { group: u16 },
    /// Changes with anything in them.
    Raw(Vec<RawChange>),
    /// A change sent before, altered but under its own dot.
    Altered { group: u16, change: u8, how: Alteration },
}

#[derive(Debug, Arbitrary)]
enum EditPlan {
    Set(Name, ValuePlan),
    Append(Name, Vec<(Name, ValuePlan)>),
}

#[derive(Debug, Arbitrary)]
enum Name {
    Known(u8),
    Any(String),
}

#[derive(Debug, Arbitrary)]
enum ValuePlan {
    Null,
    Bool(bool),
    Int(i64),
    /// A time near the server's clock, in seconds from it.
    Time(i32),
    Float(f64),
    Text(u8),
    AnyText(String),
    List(Vec<ValuePlan>),
    Map(Vec<(Name, ValuePlan)>),
}

#[derive(Debug, Arbitrary)]
struct RawChange {
    record: u8,
    kind: u8,
    actor: u8,
    counter: u32,
    author: Option<u8>,
    time_s: i32,
    logical: u32,
    op: RawOp,
}

#[derive(Debug, Arbitrary)]
enum RawOp {
    Create,
    Set { field: Name, value: ValuePlan, supersedes: Vec<(u8, u32)> },
    Append { entry: Name, body: Vec<(Name, ValuePlan)> },
}

#[derive(Debug, Arbitrary)]
enum Alteration {
    Value(ValuePlan),
    Author(u8),
    Time(i32),
    Kind(u8),
}

/// Builds values and changes from a plan, at the server's time.
struct Maker {
    now: u64,
    records: Vec<RecordId>,
}

impl Maker {
    fn name(&self, name: &Name) -> String {
        match name {
            Name::Known(i) => NAMES[usize::from(*i) % NAMES.len()].to_owned(),
            Name::Any(s) => s.clone(),
        }
    }

    fn value(&self, plan: &ValuePlan) -> Value {
        match plan {
            ValuePlan::Null => Value::Null,
            ValuePlan::Bool(b) => Value::Bool(*b),
            ValuePlan::Int(i) => Value::Int(*i),
            ValuePlan::Time(s) => Value::Int(self.time(*s) as i64),
            ValuePlan::Float(x) => Value::Float(*x),
            ValuePlan::Text(i) => Value::Text(TEXTS[usize::from(*i) % TEXTS.len()].to_owned()),
            ValuePlan::AnyText(s) => Value::Text(s.clone()),
            ValuePlan::List(items) => Value::List(items.iter().map(|v| self.value(v)).collect()),
            ValuePlan::Map(pairs) => Value::Map(self.body(pairs)),
        }
    }

    fn body(&self, pairs: &[(Name, ValuePlan)]) -> BTreeMap<String, Value> {
        pairs.iter().map(|(k, v)| (self.name(k), self.value(v))).collect()
    }

    /// The server's time moved by `seconds` (never before 1970).
    fn time(&self, seconds: i32) -> u64 {
        self.now.saturating_add_signed(i64::from(seconds) * 1000)
    }

    fn record(&self, i: u8) -> RecordId {
        self.records[usize::from(i) % self.records.len()]
    }

    fn edit(&self, plan: &EditPlan) -> Edit {
        match plan {
            EditPlan::Set(name, value) => Edit::Set(self.name(name), self.value(value)),
            EditPlan::Append(name, body) => Edit::Append(self.name(name), self.body(body)),
        }
    }
}

fn kind(i: u8) -> RecordKind {
    match i % 7 {
        0 => RecordKind::Patrol,
        1 => RecordKind::Visit,
        2 => RecordKind::Dispute,
        3 => RecordKind::DailyReport,
        4 => RecordKind::Household,
        _ => RecordKind::from(u16::from(i)),
    }
}

fn device(i: u8) -> (ActorId, &'static str) {
    DEVICES[usize::from(i) % DEVICES.len()]
}

fn user(i: u8) -> &'static str {
    USERS[usize::from(i) % USERS.len()].0
}

/// A handset's copy of the records it wrote, and its clock.
#[derive(Default)]
struct Handset {
    clock: HlcClock,
    states: HashMap<RecordId, RecordState>,
}

/// Runs a plan on a fresh copy of the town.
pub async fn run(service: Service, plan: Plan) {
    let maker = Maker { now: crate::clock::now_ms(), records: town::records() };
    let mut handsets: HashMap<ActorId, Handset> = HashMap::new();
    let mut sent: Vec<Vec<Change>> = Vec::new();
    for step in &plan.steps {
        match step {
            Step::Push(push) => {
                let (device, owner) = device(push.device);
                let handset = handsets.entry(device).or_default();
                let groups = groups(&maker, push, device, owner, handset, &sent);
                sent.extend(groups.iter().filter(|g| !g.is_empty()).cloned());
                let request = PushRequest {
                    device: push.posing_as.map_or(device, |i| self::device(i).0),
                    sent_ms: maker.time(push.skew_s),
                    groups,
                };
                let as_user = push.user.map_or(owner, user).to_owned();
                let before = Store::read(&service, &maker.records).await;
                let answer = service.push(request.clone(), as_user).await;
                let after = Store::read(&service, &maker.records).await;
                check(&request, &answer, &before, &after);
            }
            Step::Pull { device, limit, cursor } => {
                let (device, owner) = self::device(*device);
                let request =
                    PullRequest { device, cursor: *cursor, limit: u32::from(*limit), profile_version: 0 };
                match service.pull(request, owner.to_owned()).await {
                    Ok(_) | Err(CoreError::Refused(_)) => {}
                    Err(CoreError::Storage(e)) => panic!("a pull ends in a storage failure: {e}"),
                }
            }
        }
    }
    match service.verify_audit(&Caller::Operator).await {
        Ok(Verdict::Intact { .. }) => {}
        other => panic!("the audit chain is intact after the pushes: {other:?}"),
    }
}

/// The groups of one push.
fn groups(
    maker: &Maker,
    push: &PushPlan,
    device: ActorId,
    owner: &str,
    handset: &mut Handset,
    sent: &[Vec<Change>],
) -> Vec<Vec<Change>> {
    let mut out = Vec::new();
    for plan in push.groups.iter().take(MAX_GROUPS) {
        let group = match plan {
            GroupPlan::Write { record, kind: k, create, edits } => {
                let id = maker.record(*record);
                let known = handset.states.contains_key(&id);
                let mut state =
                    handset.states.get(&id).cloned().unwrap_or_else(|| RecordState::new(id, kind(*k)));
                let mut author = Author {
                    device,
                    name: owner,
                    clock: &mut handset.clock,
                    now_ms: maker.time(push.skew_s),
                };
                let edits = edits.iter().take(MAX_EDITS).map(|e| maker.edit(e));
                match make_group(&mut state, &mut author, create.unwrap_or(!known), edits) {
                    // The handset keeps its write, whatever the server says.
                    Ok(group) => {
                        handset.states.insert(id, state);
                        group
                    }
                    // A write the handset refuses is never sent.
                    Err(_) => continue,
                }
            }
            GroupPlan::Again { group } => match pick(sent, usize::from(*group)) {
                Some(group) => group.clone(),
                None => continue,
            },
            GroupPlan::Raw(changes) => changes.iter().take(MAX_EDITS).map(|c| raw_change(maker, c)).collect(),
            GroupPlan::Altered { group, change, how } => {
                let Some(group) = pick(sent, usize::from(*group)) else { continue };
                let mut group = group.clone();
                let i = usize::from(*change) % group.len().max(1);
                if let Some(change) = group.get_mut(i) {
                    alter(maker, change, how);
                }
                group
            }
        };
        out.push(group);
    }
    out
}

fn pick<T>(items: &[T], i: usize) -> Option<&T> {
    (!items.is_empty()).then(|| &items[i % items.len()])
}

fn raw_change(maker: &Maker, raw: &RawChange) -> Change {
    let op = match &raw.op {
        RawOp::Create => Op::Create,
        RawOp::Set { field, value, supersedes } => Op::Set {
            field: maker.name(field),
            value: maker.value(value),
            supersedes: supersedes
                .iter()
                .take(4)
                .map(|(a, c)| Dot { actor: device(*a).0, counter: u64::from(*c) })
                .collect(),
        },
        RawOp::Append { entry, body } => Op::Append { entry: maker.name(entry), body: maker.body(body) },
    };
    let (actor, owner) = device(raw.actor);
    Change {
        record: maker.record(raw.record),
        kind: kind(raw.kind),
        dot: Dot { actor, counter: u64::from(raw.counter) },
        author: raw.author.map_or(owner, user).to_owned(),
        time: Hlc { millis: maker.time(raw.time_s), logical: raw.logical },
        op,
    }
}

fn alter(maker: &Maker, change: &mut Change, how: &Alteration) {
    match how {
        Alteration::Value(v) => match &mut change.op {
            Op::Set { value, .. } => *value = maker.value(v),
            Op::Append { body, .. } => {
                body.insert("text".into(), maker.value(v));
            }
            Op::Create => {
                change.op = Op::Set { field: "note".into(), value: maker.value(v), supersedes: vec![] }
            }
        },
        Alteration::Author(u) => change.author = user(*u).to_owned(),
        Alteration::Time(s) => change.time.millis = maker.time(*s),
        Alteration::Kind(k) => change.kind = kind(*k),
    }
}

/// One logged change, as compared: its position, dot and body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    seq: u64,
    record: RecordId,
    actor: ActorId,
    counter: u64,
    body: Vec<u8>,
}

/// What the store holds of the cases' records: the whole log and each
/// record's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Store {
    log: Vec<Row>,
    states: Vec<(RecordId, Option<Vec<u8>>)>,
}

impl Store {
    async fn read(service: &Service, records: &[RecordId]) -> Self {
        let records = records.to_vec();
        service
            .storage()
            .read(move |tx| {
                let high = tx.high_water()?;
                let mut log = Vec::new();
                let mut bad = None;
                tx.scan(0, high, usize::MAX, None, &mut |row| {
                    match row.change() {
                        Ok(change) => log.push(Row {
                            seq: row.seq,
                            record: row.record,
                            actor: row.actor,
                            counter: change.dot.counter,
                            body: log_body::encode(&change),
                        }),
                        Err(e) => bad = Some(format!("log row {}: {e}", row.seq)),
                    }
                    true
                })?;
                if let Some(bad) = bad {
                    panic!("every logged change decodes: {bad}");
                }
                let mut states = Vec::new();
                for id in records {
                    states.push((id, tx.record_state(id)?));
                }
                Ok(Store { log, states })
            })
            .await
            .unwrap_or_else(|e| panic!("the store reads: {e}"))
    }
}

/// The invariants of one push (see the module doc).
fn check(push: &PushRequest, answer: &Result<PushResponse, CoreError>, before: &Store, after: &Store) {
    let answer = match answer {
        Err(CoreError::Refused(_)) => {
            assert_eq!(after, before, "a refused push leaves the store as it was");
            return consistent(after);
        }
        Err(CoreError::Storage(e)) => panic!("a push ends in a storage failure: {e}"),
        Ok(answer) => answer,
    };
    assert!(after.log.starts_with(&before.log), "a push only appends to the log");
    let new = &after.log[before.log.len()..];
    assert_eq!(answer.accepted as usize, new.len(), "the log grows by the accepted changes");
    if let Some(last) = after.log.last() {
        assert_eq!(answer.high_seq, last.seq, "the answer names the newest position");
    }
    let refused: HashSet<usize> = answer.refused.iter().map(|r| r.group as usize).collect();
    assert_eq!(refused.len(), answer.refused.len(), "a group is refused once");
    assert!(refused.iter().all(|&g| g < push.groups.len()), "refusals name groups of the push");
    let dot = |c: &Change| (c.record, c.dot.actor, c.dot.counter);
    let logged: HashMap<_, &Row> = after.log.iter().map(|r| ((r.record, r.actor, r.counter), r)).collect();
    assert_eq!(logged.len(), after.log.len(), "no dot is logged twice");
    let appended: HashSet<_> = new.iter().map(|r| (r.record, r.actor, r.counter)).collect();
    let kept: HashSet<_> = push
        .groups
        .iter()
        .enumerate()
        .filter(|(g, _)| !refused.contains(g))
        .flat_map(|(_, group)| group.iter().map(dot))
        .collect();
    let mut kept_changes = 0usize;
    for (g, group) in push.groups.iter().enumerate() {
        if refused.contains(&g) {
            for change in group {
                let d = dot(change);
                assert!(!appended.contains(&d) || kept.contains(&d), "group {g} was refused yet logged");
            }
            continue;
        }
        kept_changes += group.len();
        let mut new_here = 0;
        for change in group {
            let row =
                logged.get(&dot(change)).unwrap_or_else(|| panic!("group {g} was kept but is not logged"));
            assert_eq!(row.body, log_body::encode(change), "group {g} is logged as sent");
            new_here += usize::from(appended.contains(&dot(change)));
        }
        assert!(new_here == 0 || new_here == group.len(), "group {g} was applied in part");
    }
    assert_eq!(
        (answer.accepted + answer.duplicates) as usize,
        kept_changes,
        "every change of a kept group is accepted or a duplicate"
    );
    consistent(after);
}

/// Every record's stored state is the merge of its logged changes, in log
/// order; a record without changes has no state.
fn consistent(store: &Store) {
    for (id, stored) in &store.states {
        let changes: Vec<Change> = store
            .log
            .iter()
            .filter(|r| r.record == *id)
            .map(|r| log_body::decode(&r.body, r.record, r.actor).expect("a logged body decodes"))
            .collect();
        let Some(stored) = stored else {
            assert!(changes.is_empty(), "a record with logged changes has a state");
            continue;
        };
        let state = RecordState::from_bytes(stored).expect("a stored state decodes");
        let rebuilt = RecordState::from_changes(*id, state.kind(), &changes).expect("logged changes merge");
        assert_eq!(rebuilt.to_bytes(), state.to_bytes(), "a record's state is the merge of its log");
    }
}
