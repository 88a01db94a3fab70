//! The generator of the ledger tests: a county's months made through the
//! real proto API, the way handsets make them ([`make_group`], checked with
//! [`check_group`] for the acting user), with the generator's own model of
//! each dispute kept beside the records (see `ledger_figures.rs`).

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use gridsync_proto::date::DAY_MS;
use gridsync_proto::dispute::{STEP_ENTRY, StepBy};
use gridsync_proto::edit::Author;
use gridsync_proto::{
    Action, Actor, ActorId, Date, Directory, Dot, Edit, Hierarchy, HlcClock, Level, Lifecycle, Place,
    RecordId, RecordKind, RecordState, Role, Stage, Step, Unit, Value, check_group, make_group,
};
use gridsync_server_core::service::reports::{Completeness, Filing, WorkerLine};

pub const OFFSET: i32 = 480;
pub const CITY: &str = "620800";
pub const COUNTY: &str = "620802";
pub const TOWNSHIPS: [&str; 3] = ["620802100", "620802101", "620802102"];
pub const JUSTICE: &str = "SFJ-620802";
pub const HOUSING: &str = "ZJJ-620802";
/// Cooperates by assistance letters, never receives a transfer: no rate.
pub const HEALTH: &str = "WJW-620802";
pub const CATEGORIES: [&str; 4] = ["邻里纠纷", "土地承包纠纷", "婚姻家庭纠纷", "劳资纠纷"];
pub const NAMES: [&str; 8] = ["张三", "李四", "王五丰", "赵六", "欧阳娜娜", "孙", "周七", "吴八"];
pub const HOUR: i64 = 3_600_000;

pub fn police(township: &str) -> String {
    format!("PS-{township}")
}

pub fn start_of(y: i32, m: u8, d: u8) -> i64 {
    Date::from_ymd(y, m, d).expect("date").start_ms(OFFSET)
}

/// Month starts from 2026-08 to 2027-03, local midnight.
pub fn boundaries() -> Vec<i64> {
    let mut out = Vec::new();
    for (y, m) in [(2026, 8), (2026, 9), (2026, 10), (2026, 11), (2026, 12), (2027, 1), (2027, 2), (2027, 3)]
    {
        out.push(start_of(y, m, 1));
    }
    out
}

/// The county: a city above it; three townships of two villages of two grids.
pub fn directory() -> Directory {
    let place = |code: &str, name: String, level, parent: Option<&str>| Place {
        code: code.into(),
        name,
        level,
        parent: parent.map(Into::into),
    };
    let mut places = vec![
        place(CITY, "平凉市".into(), Level::City, None),
        place(COUNTY, "崆峒区".into(), Level::County, Some(CITY)),
    ];
    let mut units = vec![
        Unit {
            code: JUSTICE.into(),
            name: "崆峒区司法局".into(),
            kind: "justice".into(),
            place: COUNTY.into(),
        },
        Unit {
            code: HOUSING.into(),
            name: "崆峒区住建局".into(),
            kind: "housing".into(),
            place: COUNTY.into(),
        },
        Unit {
            code: HEALTH.into(),
            name: "崆峒区卫健局".into(),
            kind: "health".into(),
            place: COUNTY.into(),
        },
    ];
    for (t, township) in TOWNSHIPS.iter().enumerate() {
        places.push(place(township, format!("第{}镇", t + 1), Level::Township, Some(COUNTY)));
        units.push(Unit {
            code: police(township),
            name: format!("第{}镇派出所", t + 1),
            kind: "police".into(),
            place: (*township).into(),
        });
        for v in 1..=2 {
            let village = format!("{township}20{v}");
            places.push(place(&village, format!("第{}镇{v}村", t + 1), Level::Village, Some(township)));
            for g in 1..=2 {
                let grid = format!("{village}-0{g}");
                places.push(place(&grid, format!("第{}镇{v}村{g}网格", t + 1), Level::Grid, Some(&village)));
            }
        }
    }
    let dir = Directory::new(places, units);
    assert_eq!(dir.check(), Ok(()));
    dir
}

pub fn grids(dir: &Directory) -> Vec<String> {
    dir.places().filter(|p| p.level == Level::Grid).map(|p| p.code.clone()).collect()
}

pub fn device(user: &str) -> ActorId {
    let mut bytes = [0xa5u8; 16];
    for (i, b) in user.bytes().enumerate() {
        bytes[i % 16] = bytes[i % 16].wrapping_mul(31).wrapping_add(b);
    }
    ActorId::from_bytes(bytes)
}

/// The field user who works at `place`.
pub fn local(dir: &Directory, place: &str) -> Actor {
    let role = match dir.level(place) {
        Some(Level::Grid | Level::Village) => Role::Worker,
        Some(Level::Township) => Role::TownshipAdmin,
        _ => Role::CountyAdmin,
    };
    Actor { user: format!("u-{place}"), role, place: Some(place.into()), unit: None }
}

pub fn township_of<'a>(dir: &'a Directory, code: &str) -> Option<&'a str> {
    dir.chain(code).into_iter().find(|p| p.level == Level::Township).map(|p| p.code.as_str())
}

/// The centre (township or above) that acts for a dispute owned by `owner`.
pub fn centre(dir: &Directory, owner: &str) -> Actor {
    match dir.level(owner) {
        Some(Level::Grid | Level::Village) => local(dir, township_of(dir, owner).expect("a township above")),
        _ => local(dir, owner),
    }
}

pub fn department(dir: &Directory, unit: &str) -> Actor {
    let place = dir.unit(unit).expect("unit").place.clone();
    Actor { user: format!("d-{unit}"), role: Role::Department, place: Some(place), unit: Some(unit.into()) }
}

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }
}

// ---------------------------------------------------------------------------
// The generator's own model of a dispute.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub stage: Stage,
    pub owner: String,
    pub handler: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ModelMove {
    pub ms: i64,
    pub action: Action,
    pub owner_before: String,
    pub after: State,
    pub target: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub id: RecordId,
    pub registered_at: String,
    pub registered_ms: i64,
    pub category: String,
    pub parties: Vec<(String, &'static str)>,
    pub summary: String,
    pub moves: Vec<ModelMove>,
    pub mediations: Vec<i64>,
    pub assists: Vec<(i64, String)>,
    /// Every step's time, with whether the lifecycle overrides it.
    pub steps: Vec<(i64, bool)>,
}

pub fn resolved(stage: Stage) -> bool {
    matches!(stage, Stage::Resolved | Stage::FollowedUp | Stage::Closed)
}

impl Model {
    /// The state after the moves dated before `t` (they are made in time order).
    pub fn at(&self, t: i64) -> State {
        self.moves.iter().rev().find(|m| m.ms < t).map_or_else(
            || State { stage: Stage::Found, owner: self.registered_at.clone(), handler: None },
            |m| m.after.clone(),
        )
    }
    pub fn moves_in(&self, from: i64, to: i64) -> impl Iterator<Item = &ModelMove> {
        self.moves.iter().filter(move |m| from <= m.ms && m.ms < to)
    }
}

pub struct World {
    pub dir: Directory,
    pub rng: Rng,
    pub seed: u64,
    pub records: Vec<RecordState>,
    pub disputes: Vec<Model>,
    pub patrols: Vec<(String, i64)>,
    pub visits: Vec<(String, i64)>,
    pub filings: BTreeMap<Date, Vec<(String, Filing)>>,
}

impl World {
    pub fn write(
        &self,
        actor: &Actor,
        before: Option<&RecordState>,
        new: (RecordId, RecordKind),
        edits: Vec<Edit>,
        at: i64,
    ) -> RecordState {
        let mut state = before.cloned().unwrap_or_else(|| RecordState::new(new.0, new.1));
        let mut clock = HlcClock::default();
        let mut author =
            Author { device: device(&actor.user), name: &actor.user, clock: &mut clock, now_ms: at as u64 };
        let changes =
            make_group(&mut state, &mut author, before.is_none(), edits).expect("edits become changes");
        check_group(before, &state, &changes, actor, &self.dir)
            .unwrap_or_else(|e| panic!("seed {}: {} refused: {e:?}", self.seed, actor.user));
        state
    }

    pub fn step(
        &self,
        state: &RecordState,
        actor: &Actor,
        action: Action,
        parent: Option<Dot>,
        at: i64,
        edit: impl FnOnce(&mut Step),
    ) -> RecordState {
        let mut step = Step::new(action, parent, StepBy::of(actor, &self.dir));
        edit(&mut step);
        let edits = vec![Edit::Append(STEP_ENTRY.into(), step.to_body())];
        self.write(actor, Some(state), (state.id(), RecordKind::Dispute), edits, at)
    }

    pub fn next_time(&mut self, t: i64) -> i64 {
        let r = self.rng.below(100);
        if r < 10 {
            // Exactly at the next month's first millisecond.
            boundaries().into_iter().find(|b| *b > t).unwrap_or(t + HOUR)
        } else if r < 70 {
            t + self.rng.range(HOUR, 3 * DAY_MS)
        } else {
            t + self.rng.range(3 * DAY_MS, 25 * DAY_MS)
        }
    }

    pub fn dispute(&mut self, n: usize) {
        let dir = self.dir.clone();
        let all_grids = grids(&dir);
        let window = (start_of(2026, 8, 15), start_of(2027, 1, 1));
        let registered_ms = match self.rng.below(100) {
            0..4 => start_of(2026, 11, 1),
            4..8 => start_of(2026, 12, 1),
            8..10 => start_of(2026, 12, 1) - 1,
            _ => self.rng.range(window.0, window.1),
        };
        let grid = all_grids[self.rng.below(all_grids.len() as u64) as usize].clone();
        let registered_at = match self.rng.below(100) {
            0..60 => grid,
            60..80 => dir.parent(&grid).expect("village").to_owned(),
            80..95 => township_of(&dir, &grid).expect("township").to_owned(),
            _ => COUNTY.to_owned(),
        };
        let category = CATEGORIES[self.rng.below(4) as usize].to_owned();
        let parties: Vec<(String, &'static str)> = vec![
            (NAMES[self.rng.below(8) as usize].to_owned(), "applicant"),
            (NAMES[self.rng.below(8) as usize].to_owned(), "respondent"),
        ];
        let summary = format!("{}与{}因排水沟发生争执", parties[0].0, parties[1].0);
        let party_values = parties
            .iter()
            .enumerate()
            .map(|(i, (name, role))| {
                Value::Map(BTreeMap::from([
                    ("name".to_owned(), Value::from(name.as_str())),
                    ("role".to_owned(), Value::from(*role)),
                    ("id_number".to_owned(), Value::from(format!("62080219900101{n:03}{i}").as_str())),
                    ("phone".to_owned(), Value::from(format!("1390000{n:03}{i}").as_str())),
                ]))
            })
            .collect();
        let id = RecordId::derived(&["ledger-figures", &self.seed.to_string(), &n.to_string()]);
        let registrar = local(&dir, &registered_at);
        let set = |f: &str, v: Value| Edit::Set(f.into(), v);
        let edits = vec![
            set("registered_at", Value::from(registered_at.as_str())),
            set("place", Value::from(registered_at.as_str())),
            set("source", Value::from(["patrol", "visit", "walk_in", "hotline"][self.rng.below(4) as usize])),
            set("category", Value::from(category.as_str())),
            set("summary", Value::from(summary.as_str())),
            set("risk", Value::Int(1 + self.rng.below(4) as i64)),
            set("parties", Value::List(party_values)),
        ];
        let mut state = self.write(&registrar, None, (id, RecordKind::Dispute), edits, registered_ms);
        let mut model = Model {
            id,
            registered_at: registered_at.clone(),
            registered_ms,
            category,
            parties,
            summary,
            moves: Vec::new(),
            mediations: Vec::new(),
            assists: Vec::new(),
            steps: Vec::new(),
        };
        let mut now = State { stage: Stage::Found, owner: registered_at, handler: None };
        let horizon = start_of(2027, 1, 20);
        let mut t = registered_ms;
        for _ in 0..14 {
            if self.rng.chance(8) || now.stage == Stage::Closed {
                break;
            }
            let next = self.next_time(t);
            if next >= horizon {
                break;
            }
            // A mediation session, an assistance letter or a reminder between steps.
            let between = t + (next - t) / 2;
            if matches!(now.stage, Stage::Found | Stage::Accepted | Stage::Mediating) && self.rng.chance(30) {
                let entry = BTreeMap::from([
                    ("time_ms".to_owned(), Value::Int(between)),
                    ("outcome".to_owned(), Value::from("failed")),
                ]);
                let who = local(&dir, &now.owner);
                state = self.write(
                    &who,
                    Some(&state),
                    (id, RecordKind::Dispute),
                    vec![Edit::Append("mediation".into(), entry)],
                    between,
                );
                model.mediations.push(between);
            } else if now.stage != Stage::Closed && self.rng.chance(8) {
                let head = Lifecycle::of(&state).expect("registered").head;
                state = self.step(&state, &local(&dir, &now.owner), Action::Assist, head, between, |s| {
                    s.unit = Some(HEALTH.into());
                    s.letter_number = Some("协〔2026〕1号".into());
                });
                model.assists.push((between, HEALTH.into()));
                model.steps.push((between, false));
            } else if now.stage == Stage::Handling && self.rng.chance(20) {
                let handler = now.handler.clone().expect("a handler");
                let head = Lifecycle::of(&state).expect("registered").head;
                state = self.step(&state, &department(&dir, &handler), Action::Remind, head, between, |s| {
                    s.unit = Some(handler.clone());
                });
                model.steps.push((between, false));
            }
            t = next;
            let Some((action, actor, target)) = self.choose(&now) else { break };
            let head = Lifecycle::of(&state).expect("registered").head;
            let clash = dir.level(&now.owner) == Some(Level::Grid)
                && matches!(action, Action::Accept | Action::Mediate | Action::Resolve | Action::Escalate)
                && self.rng.chance(30);
            let actor = if clash { centre(&dir, &now.owner) } else { actor };
            let target2 = target.clone();
            state = self.step(&state, &actor, action, head, t, |s| {
                match action {
                    Action::Escalate => s.to = target2,
                    Action::Transfer => {
                        s.unit = target2;
                        s.letter_number = Some("转〔2026〕7号".into());
                    }
                    Action::AcceptTransfer => s.receipt = Some("回执".into()),
                    _ => {}
                }
                if matches!(action, Action::Resolve | Action::RequestClosure) {
                    s.note = Some("双方达成协议".into());
                }
            });
            let before = now.clone();
            now = match action {
                Action::Accept => State { stage: Stage::Accepted, ..before.clone() },
                Action::Mediate => State { stage: Stage::Mediating, ..before.clone() },
                Action::Resolve => State { stage: Stage::Resolved, ..before.clone() },
                Action::FollowUp => State { stage: Stage::FollowedUp, ..before.clone() },
                Action::Close | Action::ConfirmClosure => State { stage: Stage::Closed, ..before.clone() },
                Action::Escalate => State {
                    stage: Stage::Accepted,
                    owner: target.clone().expect("the place above"),
                    handler: None,
                },
                Action::Transfer => {
                    State { stage: Stage::Transferred, handler: target.clone(), ..before.clone() }
                }
                Action::AcceptTransfer => State { stage: Stage::Handling, ..before.clone() },
                Action::Return if before.stage == Stage::Transferred => {
                    State { stage: Stage::Accepted, handler: None, ..before.clone() }
                }
                Action::Return => State { stage: Stage::Handling, ..before.clone() },
                Action::RequestClosure => State { stage: Stage::ClosureRequested, ..before.clone() },
                other => panic!("the generator never takes {other}"),
            };
            model.moves.push(ModelMove {
                ms: t,
                action,
                owner_before: before.owner.clone(),
                after: now.clone(),
                target,
            });
            model.steps.push((t, false));
            if clash {
                // The grid worker resolves it at the same time from the same
                // state, not having seen the township's step: overridden.
                let stale = t + 60_000;
                state = self.step(&state, &local(&dir, &before.owner), Action::Resolve, head, stale, |s| {
                    s.note = Some("当场调解".into());
                });
                model.steps.push((stale, true));
            }
            let folded = Lifecycle::of(&state).expect("registered").state;
            assert_eq!(
                (folded.stage, &folded.owner, &folded.handler),
                (now.stage, &now.owner, &now.handler),
                "seed {}: the generator's model follows the lifecycle",
                self.seed
            );
        }
        self.records.push(state);
        self.disputes.push(model);
    }

    /// The next step for a dispute in `now`: the action, who takes it and
    /// its target (escalation: the place above; transfer: the department).
    pub fn choose(&mut self, now: &State) -> Option<(Action, Actor, Option<String>)> {
        let dir = &self.dir;
        let owner = &now.owner;
        let above = dir.parent(owner).filter(|p| dir.level(p) != Some(Level::City) || self.rng.chance(30));
        let units: Vec<String> = match township_of(dir, owner) {
            Some(t) => vec![police(t), JUSTICE.into(), HOUSING.into()],
            None => vec![JUSTICE.into(), HOUSING.into()],
        };
        let unit = units[self.rng.below(units.len() as u64) as usize].clone();
        let r = self.rng.below(100);
        let own = local(dir, owner);
        let pick = match now.stage {
            Stage::Found => match r {
                0..50 => (Action::Accept, own, None),
                50..70 => (Action::Mediate, own, None),
                70..85 => (Action::Resolve, own, None),
                _ => match above {
                    Some(p) => (Action::Escalate, own, Some(p.to_owned())),
                    None => (Action::Accept, own, None),
                },
            },
            Stage::Accepted | Stage::Mediating => match r {
                0..35 if now.stage == Stage::Accepted => (Action::Mediate, own, None),
                0..60 => (Action::Resolve, own, None),
                60..80 => match above {
                    Some(p) => (Action::Escalate, own, Some(p.to_owned())),
                    None => (Action::Resolve, own, None),
                },
                _ => (Action::Transfer, centre(dir, owner), Some(unit)),
            },
            Stage::Resolved | Stage::FollowedUp => match r {
                0..35 => (Action::FollowUp, own, None),
                _ => (Action::Close, centre(dir, owner), None),
            },
            Stage::Transferred => {
                let dept = department(dir, now.handler.as_deref().expect("a handler"));
                if r < 75 { (Action::AcceptTransfer, dept, None) } else { (Action::Return, dept, None) }
            }
            Stage::Handling => {
                (Action::RequestClosure, department(dir, now.handler.as_deref().expect("a handler")), None)
            }
            Stage::ClosureRequested => {
                if r < 80 {
                    (Action::ConfirmClosure, centre(dir, owner), None)
                } else {
                    (Action::Return, centre(dir, owner), None)
                }
            }
            Stage::Closed => return None,
        };
        Some(pick)
    }

    pub fn field_work(&mut self) {
        let dir = self.dir.clone();
        let mut day = Date::from_ymd(2026, 10, 25).expect("date");
        let last = Date::from_ymd(2027, 1, 5).expect("date");
        let nov = start_of(2026, 11, 1);
        let dec = start_of(2026, 12, 1);
        while day <= last {
            let start = day.start_ms(OFFSET);
            for grid in grids(&dir) {
                let worker = local(&dir, &grid);
                let mut times: Vec<(bool, i64)> = Vec::new();
                for _ in 0..self.rng.below(4) {
                    times.push((true, start + self.rng.range(6 * HOUR, 20 * HOUR)));
                }
                for _ in 0..self.rng.below(7) {
                    times.push((false, start + self.rng.range(8 * HOUR, 19 * HOUR)));
                }
                // A patrol on each side of the month's boundaries.
                if start == dec || start == nov {
                    times.push((true, start));
                    times.push((true, start - 1));
                }
                for (k, (patrol, at)) in times.into_iter().enumerate() {
                    let id = RecordId::derived(&[
                        "work",
                        &self.seed.to_string(),
                        &grid,
                        &day.to_string(),
                        &k.to_string(),
                    ]);
                    let set = |f: &str, v: Value| Edit::Set(f.into(), v);
                    let record = if patrol {
                        let edits =
                            vec![set("grid", Value::from(grid.as_str())), set("started_ms", Value::Int(at))];
                        self.patrols.push((grid.clone(), at));
                        self.write(&worker, None, (id, RecordKind::Patrol), edits, at)
                    } else {
                        let edits = vec![
                            set("grid", Value::from(grid.as_str())),
                            set("visited_ms", Value::Int(at)),
                            set("person_category", Value::from("general")),
                            set("purpose", Value::from("routine")),
                            set("address", Value::from("村东头")),
                        ];
                        self.visits.push((grid.clone(), at));
                        self.write(&worker, None, (id, RecordKind::Visit), edits, at)
                    };
                    self.records.push(record);
                }
                let filing = match self.rng.below(100) {
                    0..80 => Filing::OnTime,
                    80..90 => Filing::Late,
                    _ => Filing::Missing,
                };
                self.filings.entry(day).or_default().push((grid, filing));
            }
            day = day.next().expect("a next day");
        }
    }

    pub fn new(seed: u64, disputes: usize) -> World {
        let mut world = World {
            dir: directory(),
            rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            seed,
            records: Vec::new(),
            disputes: Vec::new(),
            patrols: Vec::new(),
            visits: Vec::new(),
            filings: BTreeMap::new(),
        };
        for n in 0..disputes {
            world.dispute(n);
        }
        world.field_work();
        world
    }

    /// A day's completeness for `place`, as `service::reports::daily` gives it.
    pub fn completeness(&self, place: &str, date: Date) -> Completeness {
        let mut c = Completeness {
            date,
            place: place.into(),
            deadline_ms: (date.start_ms(OFFSET) + DAY_MS) as u64,
            on_time: 0,
            late: 0,
            missing: 0,
            workers: Vec::new(),
        };
        for (grid, filing) in self.filings.get(&date).into_iter().flatten() {
            if !self.dir.is_within(grid, Some(place)) {
                continue;
            }
            match filing {
                Filing::OnTime => c.on_time += 1,
                Filing::Late => c.late += 1,
                Filing::Missing => c.missing += 1,
            }
            let filed = (*filing != Filing::Missing).then_some(c.deadline_ms - 1000);
            c.workers.push(WorkerLine {
                worker: local(&self.dir, grid).user,
                place: grid.clone(),
                filing: *filing,
                status: filed.map(|_| "all_safe".to_owned()),
                filed_ms: filed,
                received_ms: filed,
            });
        }
        c
    }
}
