//! Realistic, deterministic write groups: what grid workers' handsets record.
//!
//! Every simulated device is one grid worker (网格员), enrolled as their own
//! user and assigned to their own grid ([`crate::deployment`]), doing the
//! daily routine of `/work/shared/DOMAIN.md` ("一日两巡五访",
//! "有事报信息、无事报平安"). Each local write is one write group:
//!
//! * **2 patrols** (巡查): one group on setting out (grid, `started_ms`),
//!   one on return (`ended_ms`, a summary and 4–8 `checkpoint` entries,
//!   each with a place, a time and a GPS map `{lat, lon, accuracy_m, mock,
//!   time_ms}`);
//! * **5 household visits** (走访), one group each: grid, `visited_ms`,
//!   person category (some of them special populations), purpose, address,
//!   result, sometimes `follow_up_due`, and GPS;
//! * **sometimes a dispute** (矛盾纠纷), registered at the worker's grid
//!   (`registered_at`, place, source, category, summary, risk, address,
//!   parties), then over the following days lifecycle `step` entries
//!   (accept, mediate, resolve with a note, follow_up), `mediation` entries,
//!   risk re-assessments and notes, one group each;
//! * **1 daily report** under its fixed id ([`gridsync_proto::daily_report_id`]):
//!   `all_safe`, or `has_items` with the day's visits to follow up and
//!   disputes worked on as its items.
//!
//! Changes are made as `gridsync-client-core` makes them, and every group
//! is checked with [`gridsync_proto::check_group`] for the worker and their
//! profile's directory: the generator fails rather than drift from the
//! rules ([`device::Handset::write`]).
//!
//! Everything (ids included) comes from a seeded xorshift PRNG, so a seed and
//! a last day always produce the same bytes.

mod device;
mod routine;
mod text;

use anyhow::Context;
use gridsync_proto::date::{CHINA_UTC_OFFSET_MINUTES, DAY_MS};
use gridsync_proto::{ActorId, Change, Date, PushRequest, RecordId, RecordState};

use crate::deployment::Deployment;
use routine::Worker;

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
    /// Working days per device.
    pub(crate) days: u32,
    /// The last working day (the workload ends on it).
    pub(crate) last_day: Date,
    /// PRNG seed.
    pub(crate) seed: u64,
    /// Probability that a worker finds a new dispute on a given day.
    pub(crate) dispute_rate: f64,
}

/// What the workers recorded, counted.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Stats {
    /// Records created.
    pub(crate) records: u64,
    /// Patrols.
    pub(crate) patrols: u64,
    /// Household visits.
    pub(crate) visits: u64,
    /// Visits to special populations.
    pub(crate) special_visits: u64,
    /// Daily reports saying all safe.
    pub(crate) all_safe: u64,
    /// Daily reports with items.
    pub(crate) with_items: u64,
    /// Disputes registered.
    pub(crate) disputes: u64,
    /// Lifecycle steps taken on disputes.
    pub(crate) steps: u64,
    /// Mediation sessions recorded.
    pub(crate) mediations: u64,
    /// Notes appended to disputes.
    pub(crate) notes: u64,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.records += o.records;
        self.patrols += o.patrols;
        self.visits += o.visits;
        self.special_visits += o.special_visits;
        self.all_safe += o.all_safe;
        self.with_items += o.with_items;
        self.disputes += o.disputes;
        self.steps += o.steps;
        self.mediations += o.mediations;
        self.notes += o.notes;
    }
}

/// One device's outbox: its write groups in the order it made them.
#[derive(Debug)]
pub(crate) struct DeviceLog {
    /// The device.
    pub(crate) actor: ActorId,
    /// The user it is enrolled for.
    pub(crate) user: String,
    /// Its groups, oldest first.
    pub(crate) groups: Vec<Vec<Change>>,
}

/// Every device's write groups.
#[derive(Debug)]
pub(crate) struct Workload {
    /// One log per device, in the order of the deployment's seats.
    pub(crate) devices: Vec<DeviceLog>,
    /// What was recorded.
    pub(crate) stats: Stats,
    /// Final states of every dispute and of every 50th other record, to
    /// check the server's merged states against.
    pub(crate) samples: Vec<RecordState>,
    /// The first working day.
    pub(crate) first_day: Date,
}

impl Workload {
    /// Generates the workload for `params`, one worker per seat of `deployment`.
    pub(crate) fn generate(params: &Params, deployment: &Deployment) -> anyhow::Result<Self> {
        let last = params.last_day.start_ms(CHINA_UTC_OFFSET_MINUTES);
        let first = last - i64::from(params.days.saturating_sub(1)) * DAY_MS;
        let day = |d: u32| Date::of_millis(first + i64::from(d) * DAY_MS, CHINA_UTC_OFFSET_MINUTES);
        let first_day = day(0).context("the first working day is out of range")?;
        let mut devices = Vec::with_capacity(deployment.seats.len());
        let mut stats = Stats::default();
        let mut samples = Vec::new();
        for (index, seat) in deployment.seats.iter().enumerate() {
            let seed = params.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut worker = Worker::new(Rng::new(seed), seat, deployment);
            for d in 0..params.days {
                let date = day(d).context("a working day is out of range")?;
                worker
                    .day(date, params.dispute_rate)
                    .with_context(|| format!("device {index} ({}) on {date}", seat.user))?;
            }
            worker.finish();
            stats.add(&worker.stats);
            samples.append(&mut worker.samples);
            devices.push(DeviceLog {
                actor: worker.hs.actor,
                user: seat.user.clone(),
                groups: worker.hs.groups,
            });
        }
        Ok(Self { devices, stats, samples, first_day })
    }

    /// Total changes over all devices.
    pub(crate) fn change_count(&self) -> u64 {
        self.devices.iter().flat_map(|d| &d.groups).map(|g| g.len() as u64).sum()
    }

    /// Total write groups over all devices.
    pub(crate) fn group_count(&self) -> u64 {
        self.devices.iter().map(|d| d.groups.len() as u64).sum()
    }

    /// Each device's outbox cut into pushes of whole groups, at most `batch`
    /// changes each (a larger group goes alone), oldest first, as
    /// `client-core` pages its outbox. `sent_ms` is stamped when sent.
    /// Consumes the logs (they are large).
    pub(crate) fn into_pushes(self, batch: usize) -> Vec<Vec<PushRequest>> {
        let batch = batch.max(1);
        self.devices
            .into_iter()
            .map(|d| {
                let mut pushes = Vec::new();
                let mut page: Vec<Vec<Change>> = Vec::new();
                let mut count = 0;
                for group in d.groups {
                    if count > 0 && count + group.len() > batch {
                        pushes.push(PushRequest {
                            device: d.actor,
                            sent_ms: 0,
                            groups: std::mem::take(&mut page),
                        });
                        count = 0;
                    }
                    count += group.len();
                    page.push(group);
                }
                if !page.is_empty() {
                    pushes.push(PushRequest { device: d.actor, sent_ms: 0, groups: page });
                }
                pushes
            })
            .collect()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn params(days: u32, rate: f64) -> Params {
        Params { days, last_day: "2026-11-30".parse().expect("a date"), seed: 7, dispute_rate: rate }
    }

    #[test]
    fn same_seed_same_groups_and_every_group_passes_the_rules() {
        let deployment = Deployment::new(2);
        // `generate` checks every group with the rules; a high dispute rate
        // walks every step of the lifecycle the workload uses.
        let a = Workload::generate(&params(30, 0.5), &deployment).expect("generate");
        let b = Workload::generate(&params(30, 0.5), &deployment).expect("generate");
        assert_eq!(a.devices[1].groups, b.devices[1].groups);
        assert_eq!(a.first_day.to_string(), "2026-11-01");
        assert!(a.stats.steps > 0 && a.stats.mediations > 0 && a.stats.all_safe + a.stats.with_items == 60);
        assert!(a.change_count() > 2 * 30 * 60);
        let groups = a.group_count();
        let pushes = a.into_pushes(100);
        let flat: Vec<&PushRequest> = pushes.iter().flatten().collect();
        assert_eq!(flat.iter().map(|p| p.groups.len() as u64).sum::<u64>(), groups);
        assert!(flat.iter().all(|p| !p.groups.is_empty() && p.changes().count() <= 100));
        assert!(flat.iter().all(|p| p.groups.iter().all(|g| g.iter().all(|c| c.record == g[0].record))));
    }
}
