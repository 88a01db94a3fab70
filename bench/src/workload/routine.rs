//! A grid worker's day, "一日两巡五访" and "有事报信息、无事报平安", as the
//! write groups their handset makes.

use std::collections::BTreeMap;

use anyhow::Context;
use gridsync_proto::date::{CHINA_UTC_OFFSET_MINUTES, DAY_MS};
use gridsync_proto::dispute::{Action, Lifecycle, STEP_ENTRY, Stage, Step, StepBy};
use gridsync_proto::{Date, Dot, Op, RecordId, RecordKind, RecordState, Value, daily_report_id};

use super::device::{Handset, append, set};
use super::text::{self, sentence};
use super::{Rng, Stats};
use crate::deployment::{Deployment, Seat};

const MINUTE: u64 = 60_000;
/// Every this many records, the final state is kept to verify the server's.
const SAMPLE_EVERY: u64 = 50;
/// Share of visits to special populations.
const SPECIAL_SHARE: f64 = 0.35;

/// One grid worker, their handset and the disputes they are working on.
#[derive(Debug)]
pub(super) struct Worker {
    /// The handset and its outbox.
    pub(super) hs: Handset,
    rng: Rng,
    seat: Seat,
    lat: f64,
    lon: f64,
    open: Vec<RecordState>,
    /// What was recorded.
    pub(super) stats: Stats,
    /// Final states of some records (every dispute among them).
    pub(super) samples: Vec<RecordState>,
}

fn ms(t: u64) -> Value {
    Value::Int(t as i64)
}

impl Worker {
    /// The worker of `seat`, with a device id and a home position from `rng`.
    pub(super) fn new(mut rng: Rng, seat: &Seat, deployment: &Deployment) -> Self {
        let actor = super::actor_id(&mut rng);
        let hs = Handset::new(actor, Deployment::actor(seat), deployment.device_directory(seat));
        let lat = 35.54 + (rng.unit() - 0.5) * 0.2;
        let lon = 106.68 + (rng.unit() - 0.5) * 0.2;
        Self {
            hs,
            rng,
            seat: seat.clone(),
            lat,
            lon,
            open: Vec::new(),
            stats: Stats::default(),
            samples: Vec::new(),
        }
    }

    /// One working day, in time order.
    pub(super) fn day(&mut self, date: Date, dispute_rate: f64) -> anyhow::Result<()> {
        let start = date.start_ms(CHINA_UTC_OFFSET_MINUTES) as u64;
        let mut items = Vec::new();

        let t = self.around(start, 8, 20, 25);
        let morning_patrol = self.patrol(t)?;
        let mut last_visit = None;
        for (h, m) in [(10, 10), (11, 0)] {
            let t = self.around(start, h, m, 20);
            last_visit = Some(self.visit(date, t, &mut items)?);
        }
        // A dispute is usually found on the rounds (随发现、随调处).
        if self.rng.chance(dispute_rate) {
            let t = self.around(start, 11, 40, 30);
            items.push(self.new_dispute(t, morning_patrol, last_visit)?);
        }
        let t = self.around(start, 14, 0, 20);
        self.visit(date, t, &mut items)?;
        let t = self.around(start, 14, 50, 20);
        self.patrol(t)?;
        for (h, m) in [(16, 40), (17, 20)] {
            let t = self.around(start, h, m, 15);
            self.visit(date, t, &mut items)?;
        }
        items.extend(self.follow_up_disputes(start + (17 * 60 + 50) * MINUTE)?);
        let t = self.around(start, 18, 30, 40);
        self.daily_report(date, t, &items)
    }

    /// Keeps the states of the disputes still open for verification.
    pub(super) fn finish(&mut self) {
        self.samples.append(&mut self.open);
    }

    /// `h:m` on the day starting at `day_start`, plus up to `jitter` random minutes.
    fn around(&mut self, day_start: u64, h: u64, m: u64, jitter: u64) -> u64 {
        day_start + (h * 60 + m + self.rng.range(0, jitter)) * MINUTE
    }

    fn new_record(&mut self, kind: RecordKind, t: u64) -> RecordState {
        RecordState::new(super::record_id(&mut self.rng, t), kind)
    }

    /// A record written for the last time.
    fn done(&mut self, state: RecordState) {
        self.stats.records += 1;
        if self.stats.records.is_multiple_of(SAMPLE_EVERY) {
            self.samples.push(state);
        }
    }

    /// A position near the worker's home, as the handset's location service gives it.
    fn gps(&mut self, t: u64, spread: f64) -> Value {
        let round = |x: f64, scale: f64| (x * scale).round() / scale;
        let lat = round(self.lat + (self.rng.unit() - 0.5) * spread, 1e6);
        let lon = round(self.lon + (self.rng.unit() - 0.5) * spread, 1e6);
        Value::Map(BTreeMap::from([
            ("lat".to_owned(), lat.into()),
            ("lon".to_owned(), lon.into()),
            ("accuracy_m".to_owned(), round(3.0 + self.rng.unit() * 27.0, 10.0).into()),
            ("mock".to_owned(), self.rng.chance(0.005).into()),
            ("time_ms".to_owned(), ms(t)),
        ]))
    }

    /// A patrol (巡查): created on setting out (grid, start), completed on
    /// return in one write (end, summary and the checkpoints passed).
    fn patrol(&mut self, start: u64) -> anyhow::Result<RecordId> {
        let mut s = self.new_record(RecordKind::Patrol, start);
        let grid = self.seat.grid.clone();
        self.hs.write(&mut s, true, start, vec![set("grid", grid), set("started_ms", ms(start))])?;
        let mut t = start;
        let mut checkpoints = Vec::new();
        for _ in 0..self.rng.range(4, 8) {
            t += self.rng.range(6, 18) * MINUTE;
            let mut body = BTreeMap::from([
                ("place".to_owned(), text::landmark(&mut self.rng, self.seat.village).into()),
                ("time_ms".to_owned(), ms(t)),
                ("gps".to_owned(), self.gps(t, 0.01)),
            ]);
            if self.rng.chance(0.2) {
                body.insert("note".to_owned(), (*self.rng.pick(text::ROUTE)).into());
            }
            checkpoints.push(append("checkpoint", body));
        }
        let end = t + self.rng.range(5, 15) * MINUTE;
        let summary = sentence(&mut self.rng, text::ROUTE, 40, 160);
        let mut ops = vec![set("ended_ms", ms(end)), set("summary", summary)];
        ops.extend(checkpoints);
        self.hs.write(&mut s, false, end, ops)?;
        self.stats.patrols += 1;
        let id = s.id();
        self.done(s);
        Ok(id)
    }

    /// A household visit (走访), recorded in one write when it ends. A visit
    /// that needs following up goes into the day's report.
    fn visit(&mut self, date: Date, t: u64, items: &mut Vec<RecordId>) -> anyhow::Result<RecordId> {
        let mut s = self.new_record(RecordKind::Visit, t);
        // Most visits are to ordinary households; about a third to the
        // special populations a worker must follow up (重点人群).
        let special = self.rng.chance(SPECIAL_SHARE);
        let category = if special { *self.rng.pick(text::SPECIAL_POPULATIONS) } else { "general" };
        let purpose = if special && self.rng.chance(0.7) {
            "special_population"
        } else {
            *self.rng.pick(text::PURPOSES)
        };
        let done = t + self.rng.range(10, 30) * MINUTE;
        let mut ops = vec![
            set("grid", self.seat.grid.clone()),
            set("visited_ms", ms(t)),
            set("person_category", category),
            set("purpose", purpose),
            set("address", text::address(&mut self.rng, self.seat.village)),
            set("result", sentence(&mut self.rng, text::VISIT_RESULTS, 30, 150)),
        ];
        let follow_up = self.rng.chance(if special { 0.3 } else { 0.05 });
        if follow_up {
            let later = date.start_ms(CHINA_UTC_OFFSET_MINUTES) + self.rng.range(3, 14) as i64 * DAY_MS;
            let due = Date::of_millis(later, CHINA_UTC_OFFSET_MINUTES).context("a follow-up date")?;
            ops.push(set("follow_up_due", due.to_string()));
        }
        ops.push(set("gps", self.gps(done, 0.02)));
        self.hs.write(&mut s, true, done, ops)?;
        self.stats.visits += 1;
        self.stats.special_visits += u64::from(special);
        let id = s.id();
        if follow_up {
            items.push(id);
        }
        self.done(s);
        Ok(id)
    }

    /// A newly found dispute (矛盾纠纷), registered at the worker's grid.
    /// Some are settled on the spot; others get a first note.
    fn new_dispute(&mut self, t: u64, patrol: RecordId, visit: Option<RecordId>) -> anyhow::Result<RecordId> {
        let mut s = self.new_record(RecordKind::Dispute, t);
        let grid = self.seat.grid.clone();
        let source = *self.rng.pick(text::DISPUTE_SOURCES);
        let mut ops = vec![
            set(gridsync_proto::dispute::REGISTERED_AT, grid.clone()),
            set("place", grid),
            set("source", source),
            set("category", *self.rng.pick(text::DISPUTE_CATEGORIES)),
        ];
        let found_on = match source {
            "visit" => visit,
            "patrol" => Some(patrol),
            _ => None,
        };
        if let Some(record) = found_on {
            ops.push(set("source_record", record.to_string()));
        }
        ops.push(set("summary", sentence(&mut self.rng, text::DISPUTE_FACTS, 100, 300)));
        ops.push(set("risk", Value::Int(*self.rng.pick(&[1, 1, 1, 2, 2, 3]))));
        ops.push(set("address", text::address(&mut self.rng, self.seat.village)));
        let parties: Vec<Value> = (0..self.rng.range(2, 4))
            .map(|i| {
                Value::Map(BTreeMap::from([
                    ("name".to_owned(), text::person(&mut self.rng).into()),
                    ("role".to_owned(), (if i == 0 { "applicant" } else { "respondent" }).into()),
                    ("phone".to_owned(), text::phone(&mut self.rng).into()),
                ]))
            })
            .collect();
        ops.push(set("parties", Value::List(parties)));
        self.hs.write(&mut s, true, t, ops)?;
        self.stats.disputes += 1;
        self.stats.records += 1;
        if self.rng.chance(0.3) {
            let note = sentence(&mut self.rng, text::MEDIATION, 40, 120);
            let settled = t + self.rng.range(20, 40) * MINUTE;
            self.step(&mut s, Action::Resolve, Some(note), settled)?;
        } else if self.rng.chance(0.5) {
            let note = sentence(&mut self.rng, text::DISPUTE_FACTS, 40, 160);
            self.note(&mut s, t + 5 * MINUTE, note)?;
        }
        let id = s.id();
        self.open.push(s);
        Ok(id)
    }

    /// One lifecycle step after the last one the device has seen.
    fn step(
        &mut self,
        s: &mut RecordState,
        action: Action,
        note: Option<String>,
        t: u64,
    ) -> anyhow::Result<Dot> {
        let head = Lifecycle::of(s).context("a registered dispute has a lifecycle")?.head;
        let mut step = Step::new(action, head, StepBy::of(&self.hs.who, self.hs.directory()));
        step.note = note;
        self.stats.steps += 1;
        let dots = self.hs.write(s, false, t, vec![append(STEP_ENTRY, step.to_body())])?;
        dots.first().copied().context("a step made no change")
    }

    fn note(&mut self, s: &mut RecordState, t: u64, text: String) -> anyhow::Result<()> {
        self.stats.notes += 1;
        let body = BTreeMap::from([("text".to_owned(), text.into())]);
        self.hs.write(s, false, t, vec![append("note", body)]).map(drop)
    }

    /// A mediation session (调解); returns whether the parties agreed.
    fn mediation(&mut self, s: &mut RecordState, t: u64) -> anyhow::Result<bool> {
        let outcome = *self.rng.pick(text::SESSION_OUTCOMES);
        let participants = format!(
            "村调委会主任{}、当事人{}、{}",
            text::person(&mut self.rng),
            text::person(&mut self.rng),
            text::person(&mut self.rng)
        );
        let body = BTreeMap::from([
            ("time_ms".to_owned(), ms(t)),
            ("outcome".to_owned(), outcome.into()),
            ("place".to_owned(), text::landmark(&mut self.rng, self.seat.village).into()),
            ("participants".to_owned(), participants.into()),
            ("note".to_owned(), sentence(&mut self.rng, text::MEDIATION, 100, 400).into()),
        ]);
        self.stats.mediations += 1;
        self.hs.write(s, false, t, vec![append("mediation", body)])?;
        Ok(outcome == "agreed")
    }

    /// Moves open disputes on by a step or two; returns those that moved.
    /// A dispute followed up after settling leaves the worker's list (a
    /// township centre closes it, which this workload does not model).
    fn follow_up_disputes(&mut self, t: u64) -> anyhow::Result<Vec<RecordId>> {
        let mut open = std::mem::take(&mut self.open);
        let mut moved = Vec::new();
        let mut t = t;
        let mut still_open = Vec::with_capacity(open.len());
        for mut s in open.drain(..) {
            if !self.rng.chance(0.6) {
                still_open.push(s);
                continue;
            }
            moved.push(s.id());
            t += self.rng.range(5, 20) * MINUTE;
            let stage = Lifecycle::of(&s).context("a registered dispute has a lifecycle")?.state.stage;
            match stage {
                Stage::Found => {
                    self.step(&mut s, Action::Accept, None, t)?;
                    if self.rng.chance(0.3) {
                        let note = sentence(&mut self.rng, text::DISPUTE_FACTS, 40, 160);
                        self.note(&mut s, t + MINUTE, note)?;
                    }
                }
                Stage::Accepted | Stage::Mediating => {
                    if stage == Stage::Accepted {
                        self.step(&mut s, Action::Mediate, None, t)?;
                    } else if self.rng.chance(0.3) {
                        // A re-assessed risk (风险研判).
                        let risk = Value::Int(*self.rng.pick(&[1, 2, 2, 3]));
                        self.hs.write(&mut s, false, t, vec![set("risk", risk)])?;
                    }
                    let session = t + self.rng.range(10, 60) * MINUTE;
                    if self.mediation(&mut s, session)? {
                        let note = sentence(&mut self.rng, text::MEDIATION, 40, 120);
                        self.step(&mut s, Action::Resolve, Some(note), session + 10 * MINUTE)?;
                    } else if self.rng.chance(0.5) {
                        let note = sentence(&mut self.rng, text::MEDIATION, 60, 200);
                        self.note(&mut s, session + 10 * MINUTE, note)?;
                    }
                }
                Stage::Resolved => {
                    let note = sentence(&mut self.rng, text::FOLLOW_UPS, 20, 80);
                    self.step(&mut s, Action::FollowUp, Some(note), t)?;
                    self.samples.push(s);
                    continue;
                }
                _ => {}
            }
            still_open.push(s);
        }
        self.open = still_open;
        Ok(moved)
    }

    /// The daily report under its fixed id: all safe (平安), or the day's
    /// records that need attention as its items.
    fn daily_report(&mut self, date: Date, t: u64, items: &[RecordId]) -> anyhow::Result<()> {
        let user = self.hs.who.user.clone();
        let mut s = RecordState::new(daily_report_id(&user, date), RecordKind::DailyReport);
        let mut ops: Vec<Op> =
            vec![set("grid", self.seat.grid.clone()), set("worker", user), set("date", date.to_string())];
        if items.is_empty() {
            ops.push(set("status", "all_safe"));
            self.stats.all_safe += 1;
        } else {
            ops.push(set("status", "has_items"));
            ops.push(set("items", Value::List(items.iter().map(|i| i.to_string().into()).collect())));
            ops.push(set("note", sentence(&mut self.rng, text::REPORT_ITEMS, 30, 100)));
            self.stats.with_items += 1;
        }
        self.hs.write(&mut s, true, t, ops)?;
        self.done(s);
        Ok(())
    }
}
