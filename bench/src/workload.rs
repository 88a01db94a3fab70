//! Realistic, deterministic change streams: what grid workers' handsets record.
//!
//! Every simulated device is one grid worker (网格员) doing the daily routine
//! of `/work/shared/DOMAIN.md` ("一日两巡五访", "有事报信息、无事报平安"):
//!
//! * **2 patrols** (巡查): created when the worker sets out (grid, start
//!   time), completed on return (end time, route notes, a list of GPS
//!   checkpoints, each a map of place / time / lat / lon / accuracy);
//! * **5 household visits** (走访): household, person category, purpose,
//!   result, follow-up date and GPS;
//! * **sometimes a dispute** (矛盾纠纷): category, parties, place, summary,
//!   risk level and status, then over the following days status steps
//!   (mediating, maybe escalated, resolved), risk re-assessments and
//!   appended mediation notes, until it is resolved;
//! * **1 daily report**: date and status `平安` (all safe) or `has_items`
//!   with a short summary.
//!
//! Changes are made exactly as `gridsync-client-core` makes them: per-record
//! counters from 1 ([`RecordState::next_counter`]), `supersedes` = the
//! field's live dots ([`RecordState::live_dots`]), hybrid-clock times, each
//! change validated and applied to the device's own copy of the record.
//!
//! Everything (ids included) comes from a seeded xorshift PRNG, so a seed
//! always produces the same bytes.

use std::collections::BTreeMap;

use anyhow::Context;
use gridsync_proto::{
    ActorId, Change, Dot, HlcClock, Op, PushRequest, RecordId, RecordKind, RecordState, Value,
};

/// 2024-03-01 00:00 in China Standard Time (UTC+8), Unix milliseconds.
const START_MS: u64 = 1_709_222_400_000;
/// Days from 1970-01-01 to 2024-03-01.
const START_DAY: i64 = 19_783;
const MINUTE: u64 = 60_000;
const DAY: u64 = 24 * 60 * MINUTE;

/// A small xorshift64* generator: deterministic for a seed, no dependency.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator seeded through splitmix64 (so nearby seeds diverge at once).
    pub(crate) fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// A float in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice.
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    /// Simulated devices (one grid worker each).
    pub(crate) devices: usize,
    /// Working days per device.
    pub(crate) days: u32,
    /// PRNG seed.
    pub(crate) seed: u64,
    /// Probability that a worker finds a new dispute on a given day.
    pub(crate) dispute_rate: f64,
}

/// One device's outbox: its changes in the order it made them.
#[derive(Debug)]
pub(crate) struct DeviceLog {
    /// The device.
    pub(crate) actor: ActorId,
    /// Its changes, oldest first.
    pub(crate) changes: Vec<Change>,
}

/// Every device's changes.
#[derive(Debug)]
pub(crate) struct Workload {
    /// One log per device.
    pub(crate) devices: Vec<DeviceLog>,
    /// Records created, over all devices.
    pub(crate) records: u64,
    /// Disputes created, over all devices.
    pub(crate) disputes: u64,
}

impl Workload {
    /// Generates the workload for `params`.
    pub(crate) fn generate(params: &Params) -> anyhow::Result<Self> {
        let mut devices = Vec::with_capacity(params.devices);
        let (mut records, mut disputes) = (0, 0);
        for index in 0..params.devices {
            let seed = params.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut worker = Worker::new(Rng::new(seed), index);
            for day in 0..params.days {
                worker.day(day, params.dispute_rate).with_context(|| format!("device {index} day {day}"))?;
            }
            records += worker.records;
            disputes += worker.disputes;
            devices.push(DeviceLog { actor: worker.actor, changes: worker.out });
        }
        Ok(Self { devices, records, disputes })
    }

    /// Total changes over all devices.
    pub(crate) fn change_count(&self) -> u64 {
        self.devices.iter().map(|d| d.changes.len() as u64).sum()
    }

    /// Each device's outbox cut into pushes of at most `batch` changes,
    /// oldest first (as `client-core` pages its outbox with `push_batch`).
    /// Consumes the logs (they are large).
    pub(crate) fn into_pushes(self, batch: usize) -> Vec<Vec<PushRequest>> {
        let batch = batch.max(1);
        self.devices
            .into_iter()
            .map(|d| {
                let mut changes = d.changes.into_iter().peekable();
                let mut pushes = Vec::new();
                while changes.peek().is_some() {
                    let page: Vec<Change> = changes.by_ref().take(batch).collect();
                    pushes.push(PushRequest { device: d.actor, changes: page });
                }
                pushes
            })
            .collect()
    }
}

/// A dispute still being worked on, with how far it has got.
#[derive(Debug)]
struct OpenDispute {
    state: RecordState,
    stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Found,
    Mediating,
    Escalated,
    Resolved,
}

/// One grid worker and their handset.
#[derive(Debug)]
struct Worker {
    actor: ActorId,
    author: String,
    clock: HlcClock,
    rng: Rng,
    grid: String,
    village: String,
    lat: f64,
    lon: f64,
    open: Vec<OpenDispute>,
    out: Vec<Change>,
    records: u64,
    disputes: u64,
}

impl Worker {
    fn new(mut rng: Rng, index: usize) -> Self {
        let actor = actor_id(&mut rng);
        let author = person(&mut rng);
        let (district, towns, lat, lon) = *rng.pick(DISTRICTS);
        let town = *rng.pick(towns);
        let village = format!("{}{}", rng.pick(VILLAGE_STEMS), rng.pick(&["村", "社区"]));
        let grid = format!("{district}{town}{village}第{}网格", index % 12 + 1);
        let lat = lat + (rng.unit() - 0.5) * 0.2;
        let lon = lon + (rng.unit() - 0.5) * 0.2;
        Self {
            actor,
            author,
            clock: HlcClock::default(),
            rng,
            grid,
            village,
            lat,
            lon,
            open: Vec::new(),
            out: Vec::new(),
            records: 0,
            disputes: 0,
        }
    }

    /// One working day, in time order.
    fn day(&mut self, day: u32, dispute_rate: f64) -> anyhow::Result<()> {
        let start = START_MS + u64::from(day) * DAY;
        let mut items = 0usize;

        let t = self.around(start, 8, 20, 25);
        self.patrol(t)?;
        for (h, m) in [(10, 10), (11, 0)] {
            let t = self.around(start, h, m, 20);
            items += usize::from(self.visit(t)?);
        }
        // A dispute is usually found on the rounds (随发现、随调处).
        if self.rng.chance(dispute_rate) {
            let t = self.around(start, 11, 40, 30);
            self.new_dispute(t)?;
            items += 1;
        }
        let t = self.around(start, 14, 0, 20);
        items += usize::from(self.visit(t)?);
        let t = self.around(start, 14, 50, 20);
        self.patrol(t)?;
        for (h, m) in [(16, 40), (17, 20)] {
            let t = self.around(start, h, m, 15);
            items += usize::from(self.visit(t)?);
        }
        items += self.follow_up_disputes(start + (17 * 60 + 50) * MINUTE)?;
        let t = self.around(start, 18, 30, 40);
        self.daily_report(day, t, items)
    }

    /// `h:m` on the day starting at `day_start`, plus up to `jitter` random minutes.
    fn around(&mut self, day_start: u64, h: u64, m: u64, jitter: u64) -> u64 {
        day_start + (h * 60 + m + self.rng.range(0, jitter)) * MINUTE
    }

    /// Records one change to `state`, as a handset does.
    fn edit(&mut self, state: &mut RecordState, now: u64, op: Op) -> anyhow::Result<()> {
        let op = match op {
            Op::Set { field, value, .. } => {
                let supersedes = state.live_dots(&field);
                Op::Set { field, value, supersedes }
            }
            other => other,
        };
        let change = Change {
            record: state.id(),
            kind: state.kind(),
            dot: Dot { actor: self.actor, counter: state.next_counter(&self.actor) },
            author: self.author.clone(),
            time: self.clock.tick(now),
            op,
        };
        change.validate().context("generated an invalid change")?;
        state.apply(&change).context("a device's own change did not apply")?;
        self.out.push(change);
        Ok(())
    }

    fn set(&mut self, state: &mut RecordState, now: u64, field: &str, value: Value) -> anyhow::Result<()> {
        self.edit(state, now, Op::Set { field: field.to_owned(), value, supersedes: Vec::new() })
    }

    fn append(
        &mut self,
        state: &mut RecordState,
        now: u64,
        entry: &str,
        body: BTreeMap<String, Value>,
    ) -> anyhow::Result<()> {
        self.edit(state, now, Op::Append { entry: entry.to_owned(), body })
    }

    fn create(&mut self, kind: RecordKind, now: u64) -> anyhow::Result<RecordState> {
        let mut state = RecordState::new(record_id(&mut self.rng, now), kind);
        self.edit(&mut state, now, Op::Create)?;
        self.records += 1;
        Ok(state)
    }

    fn gps(&mut self, spread: f64) -> (f64, f64, f64) {
        let lat = round(self.lat + (self.rng.unit() - 0.5) * spread, 1e6);
        let lon = round(self.lon + (self.rng.unit() - 0.5) * spread, 1e6);
        let accuracy = round(3.0 + self.rng.unit() * 27.0, 10.0);
        (lat, lon, accuracy)
    }

    /// A patrol: created on setting out, completed on return.
    fn patrol(&mut self, start: u64) -> anyhow::Result<()> {
        let mut s = self.create(RecordKind::Patrol, start)?;
        let grid = self.grid.clone();
        self.set(&mut s, start, "grid", grid.into())?;
        self.set(&mut s, start, "started_at", Value::Int(start as i64))?;
        let n = self.rng.range(4, 8);
        let mut t = start;
        let mut checkpoints = Vec::new();
        for _ in 0..n {
            t += self.rng.range(6, 18) * MINUTE;
            let (lat, lon, accuracy) = self.gps(0.01);
            let place = format!("{}{}", self.village, self.rng.pick(LANDMARKS));
            checkpoints.push(Value::Map(BTreeMap::from([
                ("place".to_owned(), place.into()),
                ("time".to_owned(), Value::Int(t as i64)),
                ("lat".to_owned(), lat.into()),
                ("lon".to_owned(), lon.into()),
                ("accuracy".to_owned(), accuracy.into()),
            ])));
        }
        let end = t + self.rng.range(5, 15) * MINUTE;
        self.set(&mut s, end, "ended_at", Value::Int(end as i64))?;
        let route = sentence(&mut self.rng, ROUTE, 40, 160);
        self.set(&mut s, end, "route", route.into())?;
        self.set(&mut s, end, "checkpoints", Value::List(checkpoints))
    }

    /// A household visit; returns whether it found something to report.
    fn visit(&mut self, t: u64) -> anyhow::Result<bool> {
        let mut s = self.create(RecordKind::Visit, t)?;
        let household = format!(
            "{}{}组{}号 {}户",
            self.village,
            self.rng.range(1, 9),
            self.rng.range(1, 120),
            person(&mut self.rng)
        );
        self.set(&mut s, t, "household", household.into())?;
        let category = *self.rng.pick(PERSON_CATEGORIES);
        self.set(&mut s, t, "person_category", category.into())?;
        let purpose = *self.rng.pick(PURPOSES);
        self.set(&mut s, t, "purpose", purpose.into())?;
        let done = t + self.rng.range(10, 30) * MINUTE;
        let (lat, lon, accuracy) = self.gps(0.02);
        let gps = Value::Map(BTreeMap::from([
            ("lat".to_owned(), lat.into()),
            ("lon".to_owned(), lon.into()),
            ("accuracy".to_owned(), accuracy.into()),
        ]));
        self.set(&mut s, done, "gps", gps)?;
        let result = sentence(&mut self.rng, VISIT_RESULTS, 30, 150);
        self.set(&mut s, done, "result", result.into())?;
        let follow_up = self.rng.chance(0.3);
        let due = if follow_up {
            date((done - START_MS) / DAY + self.rng.range(3, 14)).into()
        } else {
            Value::Null
        };
        self.set(&mut s, done, "follow_up_due", due)?;
        Ok(follow_up)
    }

    /// A newly found dispute: registered with its facts and a first note.
    fn new_dispute(&mut self, t: u64) -> anyhow::Result<()> {
        let mut s = self.create(RecordKind::Dispute, t)?;
        self.disputes += 1;
        let category = *self.rng.pick(DISPUTE_CATEGORIES);
        self.set(&mut s, t, "category", category.into())?;
        let parties: Vec<Value> = (0..self.rng.range(2, 4))
            .map(|i| {
                let role = if i == 0 { "申请人" } else { "被申请人" };
                let phone = format!("1{}****{:04}", self.rng.range(30, 99), self.rng.range(0, 9999));
                Value::Map(BTreeMap::from([
                    ("name".to_owned(), person(&mut self.rng).into()),
                    ("role".to_owned(), role.into()),
                    ("phone".to_owned(), phone.into()),
                ]))
            })
            .collect();
        self.set(&mut s, t, "parties", Value::List(parties))?;
        let place = format!("{}{}", self.village, self.rng.pick(LANDMARKS));
        self.set(&mut s, t, "place", place.into())?;
        let summary = sentence(&mut self.rng, DISPUTE_FACTS, 100, 300);
        self.set(&mut s, t, "summary", summary.into())?;
        let risk = *self.rng.pick(&["low", "low", "medium", "high"]);
        self.set(&mut s, t, "risk_level", risk.into())?;
        self.set(&mut s, t, "status", "found".into())?;
        let note = self.note("登记", t, 60, 160);
        self.append(&mut s, t + MINUTE, "note", note)?;
        self.open.push(OpenDispute { state: s, stage: Stage::Found });
        Ok(())
    }

    fn note(&mut self, kind: &str, t: u64, min: usize, max: usize) -> BTreeMap<String, Value> {
        BTreeMap::from([
            ("kind".to_owned(), kind.into()),
            ("text".to_owned(), sentence(&mut self.rng, MEDIATION, min, max).into()),
            ("at".to_owned(), Value::Int(t as i64)),
        ])
    }

    /// Moves open disputes on by one step; returns how many moved.
    fn follow_up_disputes(&mut self, t: u64) -> anyhow::Result<usize> {
        let mut open = std::mem::take(&mut self.open);
        let mut moved = 0;
        let mut t = t;
        for d in &mut open {
            if !self.rng.chance(0.6) {
                continue;
            }
            moved += 1;
            t += self.rng.range(5, 20) * MINUTE;
            let s = &mut d.state;
            match d.stage {
                Stage::Found => {
                    self.set(s, t, "status", "mediating".into())?;
                    let note = self.note("调解", t, 100, 400);
                    self.append(s, t, "note", note)?;
                    d.stage = Stage::Mediating;
                }
                Stage::Resolved => {}
                Stage::Mediating | Stage::Escalated => {
                    if self.rng.chance(0.3) {
                        let risk = *self.rng.pick(&["low", "medium", "high"]);
                        self.set(s, t, "risk_level", risk.into())?;
                    }
                    let note = self.note("调解", t, 100, 400);
                    self.append(s, t, "note", note)?;
                    // "小事不出村、大事不出乡": a few go up to the township.
                    if d.stage == Stage::Mediating && self.rng.chance(0.1) {
                        self.set(s, t, "status", "escalated_township".into())?;
                        d.stage = Stage::Escalated;
                    } else if self.rng.chance(0.7) {
                        self.set(s, t, "status", "resolved".into())?;
                        let outcome = sentence(&mut self.rng, MEDIATION, 40, 120);
                        self.set(s, t, "outcome", outcome.into())?;
                        self.set(s, t, "resolved_at", Value::Int(t as i64))?;
                        d.stage = Stage::Resolved;
                    }
                }
            }
        }
        open.retain(|d| d.stage != Stage::Resolved);
        self.open = open;
        Ok(moved)
    }

    /// "有事报信息、无事报平安".
    fn daily_report(&mut self, day: u32, t: u64, items: usize) -> anyhow::Result<()> {
        let mut s = self.create(RecordKind::DailyReport, t)?;
        self.set(&mut s, t, "date", date(u64::from(day)).into())?;
        if items == 0 {
            self.set(&mut s, t, "status", "平安".into())
        } else {
            self.set(&mut s, t, "status", "has_items".into())?;
            let summary = sentence(&mut self.rng, REPORT_ITEMS, 30, 100);
            self.set(&mut s, t, "summary", summary.into())
        }
    }
}

fn round(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

/// A version-4 actor id from the PRNG.
fn actor_id(rng: &mut Rng) -> ActorId {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
    b[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    ActorId::from_bytes(b)
}

/// A version-7 (time-ordered) record id from the PRNG, as
/// [`RecordId::generate`] makes them.
fn record_id(rng: &mut Rng, unix_ms: u64) -> RecordId {
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
    b[6..8].copy_from_slice(&rng.next_u64().to_be_bytes()[..2]);
    b[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;
    RecordId::from_bytes(b)
}

/// `YYYY-MM-DD` of the `day`-th day after 2024-03-01 (civil calendar, H. Hinnant's algorithm).
fn date(day: u64) -> String {
    let z = START_DAY + day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A Chinese personal name.
fn person(rng: &mut Rng) -> String {
    let surname = *rng.pick(SURNAMES);
    let given: String = (0..rng.range(1, 2)).map(|_| *rng.pick(GIVEN)).collect();
    format!("{surname}{given}")
}

/// Phrases from `pool`, in random order and none twice before the pool is
/// used up, joined with `，` until the text has between `min` and about
/// `max` characters, ending with `。`.
fn sentence(rng: &mut Rng, pool: &[&str], min: usize, max: usize) -> String {
    let target = rng.range(min as u64, max as u64) as usize;
    let mut order: Vec<&str> = pool.to_vec();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.range(0, i as u64) as usize);
    }
    let mut out = String::new();
    let mut chars = 0;
    let mut next = order.iter().cycle();
    while chars < target {
        if !out.is_empty() {
            out.push('，');
            chars += 1;
        }
        let Some(&phrase) = next.next() else { break };
        out.push_str(phrase);
        chars += phrase.chars().count();
    }
    out.push('。');
    out
}

const DISTRICTS: &[(&str, &[&str], f64, f64)] = &[
    ("平凉市崆峒区", &["崆峒镇", "白水镇", "草峰镇", "安国镇", "东关街道"], 35.54, 106.68),
    ("昆明市盘龙区", &["拓东街道", "鼓楼街道", "茨坝街道", "双龙街道"], 25.04, 102.71),
    ("文山州西畴县", &["西洒镇", "兴街镇", "蚌谷乡", "法斗乡"], 23.44, 104.67),
    ("丽江市古城区", &["大研街道", "束河街道", "金山白族乡", "七河镇"], 26.87, 100.23),
];

const VILLAGE_STEMS: &[&str] =
    &["大寨", "柳湖", "金碧", "新民", "红旗", "团结", "上庄", "下河", "东坡", "太平", "石门", "龙潭"];

const LANDMARKS: &[&str] = &[
    "村委会",
    "文化广场",
    "卫生室",
    "小学门口",
    "二组路口",
    "水库大坝",
    "农贸市场",
    "老年活动中心",
    "便民服务站",
    "三组晒场",
    "桥头",
    "加油站旁",
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭", "何",
    "罗", "高", "林",
];

const GIVEN: &[&str] = &[
    "建国", "丽", "华", "秀英", "桂英", "伟", "芳", "军", "强", "敏", "静", "磊", "燕", "勇", "艳", "杰",
    "涛", "明", "超", "霞", "平", "刚", "玉兰", "志强",
];

const PERSON_CATEGORIES: &[&str] = &[
    "一般住户",
    "一般住户",
    "独居老人",
    "留守儿童",
    "低保户",
    "残疾人家庭",
    "刑满释放人员",
    "社区矫正对象",
    "严重精神障碍患者",
    "流动人口",
    "出租屋",
];

const PURPOSES: &[&str] = &[
    "例行走访",
    "政策宣传",
    "信息采集更新",
    "矛盾纠纷排查",
    "安全隐患排查",
    "关爱帮扶",
    "回访",
    "防诈骗宣传",
];

const ROUTE: &[&str] = &[
    "沿村主干道步行巡查",
    "重点查看老旧房屋和危房情况",
    "检查沿街商铺燃气使用情况",
    "查看在建工地围挡及扬尘措施",
    "到小区门岗了解近期人员进出情况",
    "巡查河道沿岸护栏是否完好",
    "查看背街小巷垃圾清运情况",
    "发现一处井盖松动已拍照上报",
    "提醒商户规范停放电动车",
    "查看独居老人住所周边环境",
    "对村道两侧违规堆放柴草进行劝导",
    "检查村委会活动室消防器材",
    "查看水库周边警示标志",
    "巡查学校周边交通秩序",
    "未发现明显安全隐患",
    "与村民小组长交流近期情况",
    "了解外出务工人员返乡情况",
    "查看农贸市场秩序",
    "劝导占道经营摊贩",
    "核对出租屋登记信息",
];

const VISIT_RESULTS: &[&str] = &[
    "户主在家",
    "家中无人，已电话联系",
    "老人身体状况良好",
    "反映自来水压力不足",
    "已告知医保缴费时间",
    "家庭关系和睦",
    "子女在外务工，每月回家一次",
    "近期服药情况稳定",
    "提醒注意用电用火安全",
    "反映邻居装修噪音扰民",
    "已更新家庭成员信息",
    "门牌号码已核实",
    "需协调村委会解决道路照明问题",
    "宣传防范电信网络诈骗知识",
    "孩子按时上学，学习情况正常",
    "生活困难，建议申请临时救助",
    "无新增情况",
];

const DISPUTE_CATEGORIES: &[&str] = &["邻里纠纷", "土地纠纷", "婚姻家庭", "邻里纠纷", "土地纠纷"];

const DISPUTE_FACTS: &[&str] = &[
    "双方因宅基地边界问题发生争执",
    "一方在交界处砌墙，另一方认为占用其土地",
    "争执中有推搡行为，未造成人员受伤",
    "双方各执一词，情绪较为激动",
    "涉及承包地流转费用未按约定支付",
    "因排水沟堵塞导致雨水流入邻居院内",
    "夫妻因赡养老人问题长期不和",
    "一方提出离婚，另一方不同意",
    "子女对老人财产分配存在分歧",
    "双方曾于去年经村委会调解，现再次发生矛盾",
    "邻居饲养家禽气味影响生活",
    "因树木遮挡采光产生矛盾",
    "现场已初步劝解，双方暂时平息",
    "需进一步核实土地确权登记资料",
    "当事人要求村委会出面协调",
];

const MEDIATION: &[&str] = &[
    "组织双方当事人在村委会调解室面对面沟通",
    "邀请村民小组长和老党员参与调解",
    "向双方讲解民法典相邻关系相关规定",
    "查阅了土地确权登记档案",
    "现场测量了争议地块的边界",
    "双方同意各让一步",
    "申请人情绪已趋于平稳",
    "被申请人表示愿意赔偿部分损失",
    "双方签订了人民调解协议书",
    "约定下周再次回访",
    "建议当事人通过法律途径解决",
    "已将情况上报乡镇综治中心",
    "司法所工作人员到场指导",
    "双方对调解结果表示满意",
    "当事人提出新的诉求，需进一步核实",
    "已对双方进行普法教育",
];

const REPORT_ITEMS: &[&str] = &[
    "发现矛盾纠纷一起已现场调处",
    "走访中发现一户需跟进帮扶",
    "上报安全隐患一处",
    "一户需要回访",
    "调解进展已录入",
    "协助派出所核查流动人口信息",
    "其余情况正常",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_changes() {
        let p = Params { devices: 2, days: 3, seed: 7, dispute_rate: 0.5 };
        let a = Workload::generate(&p).expect("generate");
        let b = Workload::generate(&p).expect("generate");
        assert_eq!(a.devices[1].changes, b.devices[1].changes);
        assert!(a.change_count() > 2 * 3 * 40);
        let pushes = a.into_pushes(10);
        assert!(pushes.iter().flatten().all(|p| p.changes.len() <= 10 && !p.changes.is_empty()));
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(date(0), "2024-03-01");
        assert_eq!(date(31), "2024-04-01");
        assert_eq!(date(306), "2025-01-01");
    }
}
