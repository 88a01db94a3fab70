//! What the lifecycle tests share: a county with its townships, villages,
//! grids and departments, the people who act in it, and disputes as records
//! built and checked change by change.

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::collections::BTreeSet;

use gridsync_proto::access::{AccessKey, access};
use gridsync_proto::dispute::{LifeState, StepBy, StepStatus, permit};
use gridsync_proto::{
    Action, Actor, ActorId, Change, Directory, Dot, ErrorCode, Hlc, Level, Lifecycle, Op, Place, RecordId,
    RecordKind, RecordState, Role, RuleError, Stage, Step, Unit, Value, check_group,
};

pub const T0: u64 = 1_780_000_000_000;

pub const CITY: &str = "620800";
pub const COUNTY: &str = "620802";
pub const TOWNSHIP: &str = "620802100";
pub const OTHER_TOWNSHIP: &str = "620802101";
pub const VILLAGE: &str = "620802100201";
pub const GRID: &str = "620802100201-01";
pub const POLICE: &str = "PS-620802100";
pub const JUSTICE: &str = "SFJ-620802";
pub const HOUSING: &str = "ZJJ-620802";

pub fn place(code: &str, name: &str, level: Level, parent: Option<&str>) -> Place {
    Place { code: code.into(), name: name.into(), level, parent: parent.map(Into::into) }
}

pub fn unit(code: &str, name: &str, kind: &str, at: &str) -> Unit {
    Unit { code: code.into(), name: name.into(), kind: kind.into(), place: at.into() }
}

/// City → county → two townships → villages → grids; a police station at
/// the township, a justice bureau and a housing bureau at the county.
pub fn directory() -> Directory {
    let dir = Directory::new(
        [
            place(CITY, "平凉市", Level::City, None),
            place(COUNTY, "崆峒区", Level::County, Some(CITY)),
            place(TOWNSHIP, "崆峒镇", Level::Township, Some(COUNTY)),
            place(OTHER_TOWNSHIP, "白水镇", Level::Township, Some(COUNTY)),
            place(VILLAGE, "崆峒村", Level::Village, Some(TOWNSHIP)),
            place("620802100202", "太统村", Level::Village, Some(TOWNSHIP)),
            place("620802101201", "白水村", Level::Village, Some(OTHER_TOWNSHIP)),
            place(GRID, "崆峒村第一网格", Level::Grid, Some(VILLAGE)),
            place("620802100202-01", "太统村第一网格", Level::Grid, Some("620802100202")),
            place("620802101201-01", "白水村第一网格", Level::Grid, Some("620802101201")),
        ],
        [
            unit(POLICE, "崆峒派出所", "police", TOWNSHIP),
            unit(JUSTICE, "崆峒区司法局", "justice", COUNTY),
            unit(HOUSING, "崆峒区住建局", "housing", COUNTY),
        ],
    );
    assert_eq!(dir.check(), Ok(()), "the test directory is consistent");
    dir
}

pub fn actor(user: &str, role: Role, place: Option<&str>, unit: Option<&str>) -> Actor {
    Actor { user: user.into(), role, place: place.map(Into::into), unit: unit.map(Into::into) }
}

/// A village cadre: a field worker assigned to the whole village.
pub fn cadre() -> Actor {
    actor("cun-ganbu", Role::Worker, Some(VILLAGE), None)
}

pub fn grid_worker() -> Actor {
    actor("wang", Role::Worker, Some(GRID), None)
}

pub fn township() -> Actor {
    actor("zhen-zhuren", Role::TownshipAdmin, Some(TOWNSHIP), None)
}

/// A worker stationed at the township centre itself.
pub fn township_worker() -> Actor {
    actor("zhen-ganshi", Role::Worker, Some(TOWNSHIP), None)
}

pub fn other_township() -> Actor {
    actor("baishui-zhuren", Role::TownshipAdmin, Some(OTHER_TOWNSHIP), None)
}

pub fn county() -> Actor {
    actor("qu-zhongxin", Role::CountyAdmin, Some(COUNTY), None)
}

pub fn administrator() -> Actor {
    actor("root", Role::Administrator, None, None)
}

pub fn auditor() -> Actor {
    actor("shenji", Role::Auditor, Some(COUNTY), None)
}

pub fn police() -> Actor {
    actor("paichusuo", Role::Department, Some(TOWNSHIP), Some(POLICE))
}

pub fn justice() -> Actor {
    actor("sifaju", Role::Department, Some(COUNTY), Some(JUSTICE))
}

pub fn housing() -> Actor {
    actor("zhujianju", Role::Department, Some(COUNTY), Some(HOUSING))
}

pub fn some_dot() -> Dot {
    Dot { actor: ActorId::from_bytes([0x33; 16]), counter: 1 }
}

// ---------------------------------------------------------------------------
// Helpers for disputes as records.

/// A stable device id per user.
pub fn device(user: &str) -> ActorId {
    let mut bytes = [0xa5u8; 16];
    for (i, b) in user.bytes().enumerate() {
        bytes[i % 16] = bytes[i % 16].wrapping_mul(31).wrapping_add(b);
    }
    ActorId::from_bytes(bytes)
}

pub const DISPUTE: RecordId = RecordId::from_bytes([0x64; 16]);

pub fn change(state: &RecordState, device: ActorId, author: &str, time_ms: u64, op: Op) -> Change {
    Change {
        record: DISPUTE,
        kind: RecordKind::Dispute,
        dot: Dot { actor: device, counter: state.next_counter(&device) },
        author: author.into(),
        time: Hlc::from_millis(time_ms),
        op,
    }
}

/// Checks one group as the server does and applies it if accepted.
pub fn submit(state: &mut RecordState, changes: &[Change], who: &Actor) -> Result<(), RuleError> {
    let mut after = state.clone();
    for c in changes {
        after.apply(c).expect("the change merges");
    }
    let before = state.created().is_some().then_some(&*state);
    check_group(before, &after, changes, who, &directory())?;
    *state = after;
    Ok(())
}

/// A dispute registered by the village cadre at the village.
pub fn registered() -> RecordState {
    let who = cadre();
    let dev = device(&who.user);
    let mut state = RecordState::new(DISPUTE, RecordKind::Dispute);
    let fields: [(&str, Value); 5] = [
        ("registered_at", VILLAGE.into()),
        ("place", GRID.into()),
        ("source", "patrol".into()),
        ("category", "土地承包纠纷".into()),
        ("summary", "两户因地界发生争执".into()),
    ];
    let mut changes = Vec::new();
    let mut local = state.clone();
    let ops = std::iter::once(Op::Create).chain(fields.into_iter().map(|(f, v)| Op::Set {
        field: f.into(),
        value: v,
        supersedes: vec![],
    }));
    for op in ops {
        let c = change(&local, dev, &who.user, T0, op);
        local.apply(&c).expect("merge");
        changes.push(c);
    }
    submit(&mut state, &changes, &who).expect("the village registers its dispute");
    state
}

/// A step change by `who` following `parent`, at `minute` after T0.
pub fn step_change(
    state: &RecordState,
    who: &Actor,
    action: Action,
    parent: Option<Dot>,
    minute: u64,
    edit: impl FnOnce(&mut Step),
) -> Change {
    let mut step = Step::new(action, parent, StepBy::of(who, &directory()));
    edit(&mut step);
    let op = Op::Append { entry: "step".into(), body: step.to_body() };
    change(state, device(&who.user), &who.user, T0 + minute * 60_000, op)
}

pub fn lifecycle(state: &RecordState) -> Lifecycle {
    Lifecycle::of(state).expect("a registered dispute")
}

/// Tries a step by `who` following the current head, without keeping it.
pub fn attempt(
    state: &RecordState,
    who: &Actor,
    action: Action,
    edit: impl FnOnce(&mut Step),
) -> Result<(), RuleError> {
    let head = lifecycle(state).head;
    let minute = state.entries().len() as u64 + 1;
    let c = step_change(state, who, action, head, minute, edit);
    submit(&mut state.clone(), &[c], who)
}

/// Takes a step by `who` following the current head; it must be accepted
/// and applied.
pub fn take(state: &mut RecordState, who: &Actor, action: Action, edit: impl FnOnce(&mut Step)) -> Dot {
    let head = lifecycle(state).head;
    let minute = state.entries().len() as u64 + 1;
    let c = step_change(state, who, action, head, minute, edit);
    submit(state, std::slice::from_ref(&c), who).unwrap_or_else(|e| panic!("{action} by {}: {e}", who.user));
    let after = lifecycle(state);
    assert_eq!(after.step(c.dot).map(|s| s.status), Some(StepStatus::Applied), "{action} applies");
    assert_eq!(after.head, Some(c.dot), "{action} is the new head");
    c.dot
}

pub fn keys(state: &RecordState) -> BTreeSet<AccessKey> {
    access(state).keys
}

pub fn place_key(code: &str) -> AccessKey {
    AccessKey::Place(code.into())
}

pub fn unit_key(code: &str) -> AccessKey {
    AccessKey::Unit(code.into())
}

pub fn code(result: Result<(), RuleError>) -> Option<ErrorCode> {
    result.err().map(|e| e.code)
}

pub fn code_field(result: Result<(), RuleError>) -> Option<(ErrorCode, Option<String>)> {
    result.err().map(|e| (e.code, e.field))
}
