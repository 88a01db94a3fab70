//! A month of the township's work, day by day: each grid worker's rounds,
//! visits and daily report, and the disputes they find as they move through
//! the village, the township and the departments.
//!
//! The simulated devices make their changes as handsets do
//! ([`gridsync_proto::make_group`]), check them with the record rules as
//! handsets do, and push them in the order they were made, so every step's
//! parent has reached the server before the step.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, bail};
use gridsync_proto::date::{CHINA_UTC_OFFSET_MINUTES, DAY_MS};
use gridsync_proto::dispute::{STEP_ENTRY, Step, StepBy};
use gridsync_proto::edit::Author;
use gridsync_proto::{
    Action, Change, Date, Directory, Edit, Hierarchy, HlcClock, Lifecycle, PushRequest, RecordId, RecordKind,
    RecordState, Role, Stage, Value, check_group, daily_report_id, make_group,
};

use super::town::{self, DISPUTES, PATROL_NOTES, VISIT_RESULTS};
use super::{DemoOptions, Person};
use gridsync_server_core::Service;
use gridsync_server_core::clock::now_ms;

const HOUR: u64 = 3_600_000;
const DAY: u64 = DAY_MS as u64;

/// What the month made.
#[derive(Debug, Default)]
pub(super) struct Made {
    pub(super) records: u64,
    pub(super) changes: u64,
    pub(super) disputes: u64,
    pub(super) closed: u64,
}

/// A dispute on its way, and what happens to it next.
struct Open {
    id: RecordId,
    /// Where it is heading: 0 settled in the grid, 1 settled in the village,
    /// 2 settled in the township, 3 transferred to a department, 4 left open.
    fate: u8,
    /// The day of its next step.
    next_day: u32,
    department: &'static str,
}

/// The simulated township.
pub(super) struct World<'a> {
    people: &'a [Person],
    dir: Directory,
    options: &'a DemoOptions,
    service: &'a Service,
    rng: u64,
    clocks: Vec<HlcClock>,
    states: HashMap<RecordId, RecordState>,
    /// Groups waiting to be pushed, in the order they were made.
    queue: Vec<(usize, Vec<Change>)>,
    disputes: Vec<Open>,
    households: HashMap<String, Vec<RecordId>>,
    made: Made,
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn int(n: u64) -> Value {
    Value::Int(n as i64)
}

fn set(field: &str, value: Value) -> Edit {
    Edit::Set(field.to_owned(), value)
}

impl<'a> World<'a> {
    pub(super) fn new(
        people: &'a [Person],
        dir: Directory,
        options: &'a DemoOptions,
        service: &'a Service,
    ) -> Self {
        Self {
            people,
            dir,
            options,
            service,
            rng: options.seed | 1,
            clocks: vec![HlcClock::default(); people.len()],
            states: HashMap::new(),
            queue: Vec::new(),
            disputes: Vec::new(),
            households: HashMap::new(),
            made: Made::default(),
        }
    }

    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }

    fn who(&self, role: Role, place: &str) -> usize {
        self.people
            .iter()
            .position(|p| {
                p.actor.role == role && p.actor.place.as_deref() == Some(place) && p.actor.unit.is_none()
            })
            .unwrap_or(0)
    }

    fn department(&self, unit: &str) -> usize {
        self.people.iter().position(|p| p.actor.unit.as_deref() == Some(unit)).unwrap_or(0)
    }

    /// One local write by `person` at `at_ms`, checked as a handset checks it.
    fn write(
        &mut self,
        person: usize,
        id: RecordId,
        kind: Option<RecordKind>,
        edits: Vec<Edit>,
        at_ms: u64,
    ) -> anyhow::Result<()> {
        let before = self.states.get(&id).cloned();
        let mut state = match (&before, kind) {
            (Some(state), _) => state.clone(),
            (None, Some(kind)) => RecordState::new(id, kind),
            (None, None) => bail!("the demo edited a record it never made"),
        };
        let p = &self.people[person];
        let mut author =
            Author { device: p.device, name: &p.actor.user, clock: &mut self.clocks[person], now_ms: at_ms };
        let changes = make_group(&mut state, &mut author, before.is_none(), edits)?;
        check_group(before.as_ref(), &state, &changes, &p.actor, &self.dir)
            .with_context(|| format!("the demo broke a rule of a {}", state.kind()))?;
        if before.is_none() {
            self.made.records += 1;
        }
        self.made.changes += changes.len() as u64;
        self.states.insert(id, state);
        self.queue.push((person, changes));
        Ok(())
    }

    /// A step on a dispute after the last one, by `person`.
    fn step(
        &mut self,
        person: usize,
        id: RecordId,
        action: Action,
        note: Option<&str>,
        unit: Option<&str>,
        at_ms: u64,
    ) -> anyhow::Result<()> {
        let state = self.states.get(&id).context("a dispute the demo never made")?;
        let lifecycle = Lifecycle::of(state).context("an unregistered dispute")?;
        let actor = &self.people[person].actor;
        let mut step = Step::new(action, lifecycle.head, StepBy::of(actor, &self.dir));
        step.note = note.map(str::to_owned);
        step.unit = unit.map(str::to_owned);
        if action == Action::Escalate {
            step.to = self.dir.parent(&lifecycle.state.owner).map(str::to_owned);
        }
        if matches!(action, Action::Transfer | Action::Assist) {
            step.letter_number = Some(format!(
                "城综{}〔2026〕{}号",
                if action == Action::Transfer { "转" } else { "协" },
                self.next() % 200 + 1
            ));
        }
        if action == Action::AcceptTransfer {
            step.receipt = Some(format!("回执 {}", self.next() % 9000 + 1000));
        }
        self.write(person, id, None, vec![Edit::Append(STEP_ENTRY.into(), step.to_body())], at_ms)
    }

    /// Pushes the queued groups, one push per run of the same device.
    async fn flush(&mut self) -> anyhow::Result<()> {
        let queue = std::mem::take(&mut self.queue);
        let mut runs: Vec<(usize, Vec<Vec<Change>>)> = Vec::new();
        for (person, group) in queue {
            match runs.last_mut() {
                Some((p, groups)) if *p == person && groups.len() < 100 => groups.push(group),
                _ => runs.push((person, vec![group])),
            }
        }
        for (person, groups) in runs {
            let p = &self.people[person];
            let push = PushRequest { device: p.device, sent_ms: now_ms(), groups };
            let answer =
                self.service.push(push, p.actor.user.clone()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            if let Some(refused) = answer.refused.first() {
                bail!(
                    "the server refused a demo change: {} {:?}: {}",
                    refused.code,
                    refused.field,
                    refused.message
                );
            }
        }
        Ok(())
    }

    /// The whole month.
    pub(super) async fn run(&mut self) -> anyhow::Result<Made> {
        // The month ends yesterday: everything it records lies in the past,
        // and today's reports are still to come.
        let today = Date::of_millis(now_ms() as i64, CHINA_UTC_OFFSET_MINUTES).context("the clock")?;
        let mut day = today;
        for _ in 0..self.options.days {
            day = day.previous().context("a day before")?;
        }
        for n in 0..self.options.days {
            let start = day.start_ms(CHINA_UTC_OFFSET_MINUTES).max(0) as u64;
            for v in 0..self.options.villages {
                for g in 0..self.options.grids {
                    self.grid_day(v, g, day, start, n)?;
                }
            }
            self.dispute_day(n, start)?;
            self.flush().await?;
            day = day.next().context("a day after")?;
        }
        self.made.disputes = self.disputes.len() as u64;
        self.made.closed = self
            .disputes
            .iter()
            .filter(|d| {
                self.states.get(&d.id).and_then(Lifecycle::of).is_some_and(|l| l.state.stage == Stage::Closed)
            })
            .count() as u64;
        Ok(std::mem::take(&mut self.made))
    }

    /// One grid worker's day.
    fn grid_day(&mut self, v: usize, g: usize, date: Date, start: u64, n: u32) -> anyhow::Result<()> {
        let grid = town::grid(v, g);
        let worker = self.who(Role::Worker, &grid);
        if n == 0 {
            for h in 0..6u64 {
                let id = RecordId::generate(start + 7 * HOUR + h);
                let special = h == 0;
                let name = town::person(self.next(), self.next());
                let mut resident =
                    BTreeMap::from([("name".to_owned(), text(&name)), ("relation".to_owned(), text("户主"))]);
                resident.insert(
                    "category".into(),
                    text(if special { "severe_mental_illness" } else { "general" }),
                );
                let edits = vec![
                    set("grid", text(&grid)),
                    set("category", text("household")),
                    set("door_plate", text(&format!("{}{}号", town::village_name(v), 10 + h))),
                    set("population", int(2 + self.next() % 4)),
                    set("residents", Value::List(vec![Value::Map(resident)])),
                ];
                self.write(worker, id, Some(RecordKind::Household), edits, start + 7 * HOUR + h * 60_000)?;
                self.households.entry(grid.clone()).or_default().push(id);
            }
        }
        let mut items = Vec::new();
        for round in 0..2u64 {
            let at = start
                + if round == 0 { 8 * HOUR + 30 * 60_000 } else { 15 * HOUR }
                + self.next() % (30 * 60_000);
            let patrol = RecordId::generate(at);
            self.write(
                worker,
                patrol,
                Some(RecordKind::Patrol),
                vec![set("grid", text(&grid)), set("started_ms", int(at))],
                at,
            )?;
            let mut checkpoints = Vec::new();
            for c in 0..(4 + self.next() % 5) {
                let mut gps = BTreeMap::from([
                    ("lat".to_owned(), Value::Float(35.54 + (self.next() % 1000) as f64 / 100_000.0)),
                    ("lon".to_owned(), Value::Float(106.66 + (self.next() % 1000) as f64 / 100_000.0)),
                    ("accuracy_m".to_owned(), Value::Float(5.0 + (self.next() % 30) as f64)),
                ]);
                gps.insert("mock".into(), Value::Bool(self.chance(1)));
                checkpoints.push(Edit::Append(
                    "checkpoint".into(),
                    BTreeMap::from([
                        ("place".to_owned(), text(&format!("{}第{}巡查点", town::village_name(v), c + 1))),
                        ("time_ms".to_owned(), int(at + c * 10 * 60_000)),
                        ("gps".to_owned(), Value::Map(gps)),
                    ]),
                ));
            }
            let end = at + HOUR + self.next() % HOUR;
            let note = self.pick(&PATROL_NOTES);
            checkpoints.push(set("ended_ms", int(end)));
            checkpoints.push(set("summary", text(note)));
            self.write(worker, patrol, None, checkpoints, end)?;
            items.push(patrol);
            if self.chance(8) {
                let dispute = self.register(worker, &grid, at + 20 * 60_000, n)?;
                self.write(
                    worker,
                    patrol,
                    None,
                    vec![Edit::Append(
                        "finding".into(),
                        BTreeMap::from([("record".to_owned(), text(&dispute.to_string()))]),
                    )],
                    end + 60_000,
                )?;
                items.push(dispute);
            }
        }
        for k in 0..5u64 {
            let at = start + 10 * HOUR + k * 70 * 60_000 + self.next() % (20 * 60_000);
            let household = self.households.get(&grid).and_then(|h| h.get((k as usize) % h.len())).copied();
            let special = k == 0 && n.is_multiple_of(7);
            let edits = vec![
                set("grid", text(&grid)),
                set("visited_ms", int(at)),
                set(
                    "person_category",
                    text(if special {
                        "severe_mental_illness"
                    } else {
                        self.pick(&["general", "elderly_alone", "left_behind_child", "low_income"])
                    }),
                ),
                set("purpose", text(if special { "special_population" } else { "routine" })),
                set("household", household.map_or(Value::Null, |h| text(&h.to_string()))),
                set("result", text(self.pick(&VISIT_RESULTS))),
            ];
            let visit = RecordId::generate(at);
            self.write(worker, visit, Some(RecordKind::Visit), edits, at)?;
            if k == 0 {
                items.push(visit);
            }
        }
        // The daily report: mostly that evening, sometimes the next morning, sometimes never.
        let fate = self.next() % 100;
        if fate < 5 {
            return Ok(());
        }
        let filed = if fate < 10 {
            // The next morning, but never later than now.
            (start + DAY + 8 * HOUR + self.next() % HOUR).min(now_ms() - 10 * 60_000)
        } else {
            start + 18 * HOUR + self.next() % (3 * HOUR)
        };
        let worker_name = self.people[worker].actor.user.clone();
        let quiet = items.len() == 2 && self.chance(70);
        let mut edits = vec![
            set("grid", text(&grid)),
            set("worker", text(&worker_name)),
            set("date", text(&date.to_string())),
        ];
        if quiet {
            edits.push(set("status", text("all_safe")));
        } else {
            edits.push(set("status", text("has_items")));
            edits.push(set("items", Value::List(items.iter().map(|i| text(&i.to_string())).collect())));
        }
        self.write(worker, daily_report_id(&worker_name, date), Some(RecordKind::DailyReport), edits, filed)
    }

    /// A dispute found on a round: registered and accepted by the grid worker.
    fn register(&mut self, worker: usize, grid: &str, at: u64, day: u32) -> anyhow::Result<RecordId> {
        let (category, summary, department) = self.pick(&DISPUTES);
        let id = RecordId::generate(at);
        let parties: Vec<Value> = ["applicant", "respondent"]
            .iter()
            .map(|role| {
                let name = town::person(self.next(), self.next());
                Value::Map(BTreeMap::from([
                    ("name".to_owned(), text(&name)),
                    ("role".to_owned(), text(role)),
                ]))
            })
            .collect();
        let edits = vec![
            set(gridsync_proto::dispute::REGISTERED_AT, text(grid)),
            set("place", text(grid)),
            set("source", text("patrol")),
            set("category", text(category)),
            set("summary", text(summary)),
            set("risk", int(1 + self.next() % 3)),
            set("parties", Value::List(parties)),
        ];
        self.write(worker, id, Some(RecordKind::Dispute), edits, at)?;
        self.step(worker, id, Action::Accept, None, None, at + 5 * 60_000)?;
        let roll = self.next() % 100;
        let fate = match roll {
            0..50 => 0,
            50..68 => 1,
            68..80 => 2,
            80..94 => 3,
            _ => 4,
        };
        self.disputes.push(Open { id, fate, next_day: day + 1, department });
        Ok(id)
    }

    /// The disputes' next steps on day `n`.
    fn dispute_day(&mut self, n: u32, start: u64) -> anyhow::Result<()> {
        let centre = self.who(Role::TownshipAdmin, town::TOWNSHIP);
        let due: Vec<usize> = (0..self.disputes.len()).filter(|&i| self.disputes[i].next_day == n).collect();
        for i in due {
            let Open { id, fate, department, .. } = self.disputes[i];
            let Some(lifecycle) = self.states.get(&id).and_then(Lifecycle::of) else { continue };
            let at = start + 11 * HOUR + self.next() % (4 * HOUR);
            let owner = lifecycle.state.owner.clone();
            let level = self.dir.level(&owner);
            let owner_person = if level == Some(gridsync_proto::Level::Township) {
                centre
            } else {
                self.who(Role::Worker, &owner)
            };
            let escalate_here = match level {
                Some(gridsync_proto::Level::Grid) => fate >= 1,
                Some(gridsync_proto::Level::Village) => fate >= 2,
                _ => false,
            };
            let mut next = Some(n + 1 + (self.next() % 3) as u32);
            match lifecycle.state.stage {
                Stage::Accepted | Stage::Found => {
                    self.step(owner_person, id, Action::Mediate, None, None, at)?
                }
                Stage::Mediating => {
                    let session = BTreeMap::from([
                        ("time_ms".to_owned(), int(at)),
                        (
                            "outcome".to_owned(),
                            text(if escalate_here || fate >= 3 { "failed" } else { "agreed" }),
                        ),
                        ("place".to_owned(), text("村委会调解室")),
                    ]);
                    self.write(owner_person, id, None, vec![Edit::Append("mediation".into(), session)], at)?;
                    if escalate_here {
                        self.step(
                            owner_person,
                            id,
                            Action::Escalate,
                            Some("调解未果，上报上级"),
                            None,
                            at + HOUR,
                        )?;
                    } else if level == Some(gridsync_proto::Level::Township) && fate == 3 {
                        self.step(
                            centre,
                            id,
                            Action::Transfer,
                            Some("依职责转办"),
                            Some(department),
                            at + HOUR,
                        )?;
                    } else if fate == 4 {
                        next = None; // carried forward, still being mediated
                    } else {
                        self.step(
                            owner_person,
                            id,
                            Action::Resolve,
                            Some("经调解双方达成一致"),
                            None,
                            at + HOUR,
                        )?;
                    }
                }
                Stage::Resolved => {
                    self.step(owner_person, id, Action::FollowUp, Some("回访当事人，协议履行良好"), None, at)?
                }
                Stage::FollowedUp => {
                    self.step(centre, id, Action::Close, Some("核实无误，销号"), None, at)?;
                    next = None;
                }
                Stage::Transferred => {
                    let dept = self.department(department);
                    self.step(dept, id, Action::AcceptTransfer, None, None, at)?;
                }
                Stage::Handling => {
                    let dept = self.department(department);
                    self.step(dept, id, Action::RequestClosure, Some("已依法处理完毕"), None, at)?;
                }
                Stage::ClosureRequested => {
                    self.step(centre, id, Action::ConfirmClosure, Some("同意销号"), None, at)?;
                    next = None;
                }
                Stage::Closed => next = None,
            }
            match next {
                Some(day) => self.disputes[i].next_day = day,
                None => self.disputes[i].next_day = u32::MAX,
            }
        }
        Ok(())
    }
}
