//! What the cases share: a small township set up through the service's
//! operator calls, handsets that make valid write groups with
//! [`gridsync_proto::make_group`] and push and pull them, and raw changes
//! for the cases that talk to the storage directly.

use std::collections::HashMap;
use std::sync::Arc;

use gridsync_proto::auth::b64;
use gridsync_proto::date::CHINA_UTC_OFFSET_MINUTES;
use gridsync_proto::edit::Author;
use gridsync_proto::{
    ActorId, Change, Date, Dot, Edit, EnrollRequest, Hlc, HlcClock, Level, LoggedChange, Op, Place,
    PullRequest, PullResponse, PushRequest, PushResponse, RecordId, RecordKind, RecordState, Role, Value,
    daily_report_id, make_group,
};

use crate::error::CoreResult;
use crate::error::StorageError;
use crate::service::people::AddUser;
use crate::service::sync::pull::Whole;
use crate::service::{Caller, Service, ServiceSettings};
use crate::storage::{NewChange, ReadTx, Storage, StorageExt};

/// A time safely in the past for rows written directly (2026-05-28).
pub(super) const T0: u64 = 1_780_000_000_000;

pub(super) const COUNTY: &str = "620802";
pub(super) const TOWNSHIP: &str = "620802100";
pub(super) const OTHER_TOWNSHIP: &str = "620802101";
pub(super) const VILLAGE_A: &str = "620802100201";
pub(super) const VILLAGE_B: &str = "620802100202";
pub(super) const VILLAGE_C: &str = "620802101201";
pub(super) const GRID_A: &str = "620802100201-01";
pub(super) const GRID_B: &str = "620802100202-01";

/// The places every town starts with, parents first: a county, two
/// townships, three villages (two in the first township, one in the other)
/// and a grid in each of the first township's villages.
pub(super) fn places() -> Vec<Place> {
    [
        (COUNTY, "崆峒区", Level::County, None),
        (TOWNSHIP, "崆峒镇", Level::Township, Some(COUNTY)),
        (OTHER_TOWNSHIP, "白水镇", Level::Township, Some(COUNTY)),
        (VILLAGE_A, "崆峒村", Level::Village, Some(TOWNSHIP)),
        (VILLAGE_B, "太统村", Level::Village, Some(TOWNSHIP)),
        (VILLAGE_C, "白水村", Level::Village, Some(OTHER_TOWNSHIP)),
        (GRID_A, "崆峒村第一网格", Level::Grid, Some(VILLAGE_A)),
        (GRID_B, "太统村第一网格", Level::Grid, Some(VILLAGE_B)),
    ]
    .into_iter()
    .map(|(code, name, level, parent)| place(code, name, level, parent))
    .collect()
}

/// A place.
pub(super) fn place(code: &str, name: &str, level: Level, parent: Option<&str>) -> Place {
    Place { code: code.into(), name: name.into(), level, parent: parent.map(Into::into) }
}

/// The server's clock, as the service reads it.
pub(super) fn now_ms() -> u64 {
    crate::clock::now_ms()
}

/// A service over a storage, with the default settings.
pub(super) fn service(storage: &Arc<dyn Storage>) -> Service {
    Service::new(storage.clone(), ServiceSettings::default())
}

/// A township set up through the service, as the operator would.
#[derive(Debug, Clone)]
pub(super) struct Town {
    pub(super) service: Service,
    pub(super) storage: Arc<dyn Storage>,
}

impl Town {
    /// Adds [`places`] to an empty storage.
    pub(super) async fn new(storage: Arc<dyn Storage>) -> Self {
        let town = Self { service: service(&storage), storage };
        for place in places() {
            let code = place.code.clone();
            town.service
                .add_place(&Caller::Operator, place)
                .await
                .unwrap_or_else(|e| panic!("the operator adds place {code}: {e}"));
        }
        town
    }

    /// Adds a user with `role` at `place`, with no password.
    pub(super) async fn user(&self, name: &str, role: Role, place: &str) {
        let new = AddUser { name: name.into(), role, scope: Some(place.into()), unit: None, password: None };
        self.service
            .add_user(&Caller::Operator, new)
            .await
            .unwrap_or_else(|e| panic!("the operator adds user {name}: {e}"));
    }

    /// Enrolls a new device for `user` with a one-time code.
    pub(super) async fn device(&self, user: &str) -> Handset {
        let code = self
            .service
            .issue_enrollment(&Caller::Operator, user, 60 * 60 * 1000)
            .await
            .unwrap_or_else(|e| panic!("the operator issues a code for {user}: {e}"));
        let device = ActorId::random();
        let enrolled = self
            .service
            .enroll(EnrollRequest { code: code.code, device, public_key: b64(&[7; 32]) })
            .await
            .unwrap_or_else(|e| panic!("a device of {user} enrolls: {e}"));
        assert_eq!(
            enrolled.user.name, user,
            "an enrollment code enrolls a device for the user it was issued for"
        );
        Handset::new(device, user)
    }

    /// Adds a grid worker at `grid` and enrolls one device for them.
    pub(super) async fn worker(&self, name: &str, grid: &str) -> Handset {
        self.user(name, Role::Worker, grid).await;
        self.device(name).await
    }

    /// How many changes the log holds.
    pub(super) async fn change_count(&self) -> u64 {
        change_count(&self.storage).await
    }
}

/// How many changes the log holds.
pub(super) async fn change_count(storage: &Arc<dyn Storage>) -> u64 {
    storage.read(|tx| Ok(tx.change_count()?)).await.expect("the change count reads")
}

/// The directory version.
pub(super) async fn directory_version(storage: &Arc<dyn Storage>) -> u64 {
    storage.read(|tx| Ok(tx.directory_version()?)).await.expect("the directory version reads")
}

/// A handset as the suite drives it: a device of one user, its clock, its
/// copy of the records it wrote, and the cursor of the last page it pulled.
#[derive(Debug, Clone)]
pub(super) struct Handset {
    pub(super) device: ActorId,
    pub(super) user: String,
    clock: HlcClock,
    states: HashMap<RecordId, RecordState>,
    pub(super) cursor: u64,
    profile_version: u64,
    /// Whether it takes records sent whole as snapshots (protocol 3) rather
    /// than as their history (protocol 2, what the older cases check).
    pub(super) snapshots: bool,
}

impl Handset {
    pub(super) fn new(device: ActorId, user: &str) -> Self {
        Self {
            device,
            user: user.into(),
            clock: HlcClock::default(),
            states: HashMap::new(),
            cursor: 0,
            profile_version: 0,
            snapshots: false,
        }
    }

    /// One local write: `edits` to `record` (created first when new) as a
    /// write group, applied to the handset's copy.
    pub(super) fn write(
        &mut self,
        record: RecordId,
        kind: RecordKind,
        edits: Vec<Edit>,
        now: u64,
    ) -> Vec<Change> {
        let create = !self.states.contains_key(&record);
        let state = self.states.entry(record).or_insert_with(|| RecordState::new(record, kind));
        let mut author =
            Author { device: self.device, name: &self.user, clock: &mut self.clock, now_ms: now };
        make_group(state, &mut author, create, edits).expect("the suite makes valid changes")
    }

    /// A new patrol in `grid`, started now: one write group of three changes.
    pub(super) fn patrol(&mut self, grid: &str) -> (RecordId, Vec<Change>) {
        let now = now_ms();
        let id = RecordId::generate(now);
        let edits = vec![set("grid", Value::Text(grid.into())), set("started_ms", Value::Int(now as i64))];
        (id, self.write(id, RecordKind::Patrol, edits, now))
    }

    /// Ends a patrol this handset started: one write group of two changes.
    pub(super) fn end_patrol(&mut self, id: RecordId, summary: &str) -> Vec<Change> {
        let now = now_ms();
        let edits =
            vec![set("ended_ms", Value::Int(now as i64 + 1)), set("summary", Value::Text(summary.into()))];
        self.write(id, RecordKind::Patrol, edits, now)
    }

    /// The user's daily report for `date` in `grid`, filed at `now`.
    pub(super) fn daily_report(&mut self, grid: &str, date: Date, status: &str, now: u64) -> Vec<Change> {
        let id = daily_report_id(&self.user, date);
        let mut edits = vec![set("status", Value::Text(status.into()))];
        if !self.states.contains_key(&id) {
            edits.splice(
                0..0,
                [
                    set("grid", Value::Text(grid.into())),
                    set("worker", Value::Text(self.user.clone())),
                    set("date", Value::Text(date.to_string())),
                ],
            );
        }
        self.write(id, RecordKind::DailyReport, edits, now)
    }

    /// The push of `groups`, as the device sends it.
    pub(super) fn push_request(&self, groups: Vec<Vec<Change>>) -> PushRequest {
        PushRequest { device: self.device, sent_ms: now_ms(), groups }
    }

    /// Pushes `groups` through `service` as this device's user.
    pub(super) async fn push(&self, service: &Service, groups: Vec<Vec<Change>>) -> CoreResult<PushResponse> {
        service.push(self.push_request(groups), self.user.clone()).await
    }

    /// Pushes `groups` and expects every change accepted.
    pub(super) async fn push_ok(&self, service: &Service, groups: Vec<Vec<Change>>) -> PushResponse {
        let n: usize = groups.iter().map(Vec::len).sum();
        let response = self
            .push(service, groups)
            .await
            .unwrap_or_else(|e| panic!("a push of {} is accepted: {e}", self.user));
        assert_eq!(response.refused, [], "no group of this push is refused");
        assert_eq!(response.accepted as usize, n, "every change of the push is accepted");
        assert_eq!(response.duplicates, 0, "no change of the push was known");
        response
    }

    /// Pulls one page with at most `limit` changes, presenting the
    /// handset's cursor, and keeps the page's cursor (the page is applied).
    pub(super) async fn pull(&mut self, service: &Service, limit: u32) -> PullResponse {
        let request = PullRequest {
            device: self.device,
            cursor: self.cursor,
            limit,
            profile_version: self.profile_version,
        };
        let whole = if self.snapshots { Whole::Snapshots } else { Whole::History };
        let page = service
            .pull_as(request, self.user.clone(), whole)
            .await
            .unwrap_or_else(|e| panic!("a pull by {} is answered: {e}", self.user));
        assert!(
            page.cursor >= self.cursor,
            "a pull cursor never goes backwards: {} presented, {} issued",
            self.cursor,
            page.cursor
        );
        self.cursor = page.cursor;
        if let Some(profile) = &page.profile {
            self.profile_version = profile.version;
        }
        page
    }

    /// Pulls pages until one says nothing more waits; returns every page.
    pub(super) async fn pull_all(&mut self, service: &Service, limit: u32) -> Vec<PullResponse> {
        let mut pages = Vec::new();
        for _ in 0..1_000 {
            let page = self.pull(service, limit).await;
            let more = page.more;
            pages.push(page);
            if !more {
                return pages;
            }
        }
        panic!("a pull by {} still had more after 1,000 pages", self.user)
    }
}

/// A field set.
pub(super) fn set(field: &str, value: Value) -> Edit {
    Edit::Set(field.into(), value)
}

/// What names a change: its record and its dot (counters count per record).
pub(super) type ChangeId = (RecordId, Dot);

/// The ids of logged changes, in the order they came.
pub(super) fn ids_of<'a>(changes: impl IntoIterator<Item = &'a LoggedChange>) -> Vec<ChangeId> {
    changes.into_iter().map(|c| (c.change.record, c.change.dot)).collect()
}

/// The ids of changes, in their order.
pub(super) fn ids_of_changes<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Vec<ChangeId> {
    changes.into_iter().map(|c| (c.record, c.dot)).collect()
}

/// Today, in China.
pub(super) fn today(now: u64) -> Date {
    Date::of_millis(now as i64, CHINA_UTC_OFFSET_MINUTES).expect("the clock gives a date")
}

/// A change made directly for the storage: a record's creation by `actor`.
pub(super) fn raw_change(record: RecordId, actor: ActorId, counter: u64) -> Change {
    Change {
        record,
        kind: RecordKind::Patrol,
        dot: Dot { actor, counter },
        author: "conformance".into(),
        time: Hlc::from_millis(T0),
        op: if counter == 1 {
            Op::Create
        } else {
            Op::Set {
                field: "summary".into(),
                value: Value::Text(format!("#{counter}")),
                supersedes: Vec::new(),
            }
        },
    }
}

/// The encoded body of a change, as the log stores it.
pub(super) fn body(change: &Change) -> Vec<u8> {
    gridsync_proto::change::log_body::encode(change)
}

/// Appends `change` to the log in `tx`, received at `now`; returns its position.
pub(super) fn append(
    tx: &mut dyn crate::storage::WriteTx,
    change: &Change,
    now: u64,
) -> crate::storage::StorageResult<u64> {
    let body = body(change);
    tx.append_change(&NewChange {
        record: change.record,
        township: GHOST_HOME,
        actor: change.dot.actor,
        counter: change.dot.counter,
        received_ms: now,
        body: &body,
        clock_suspect: false,
        clock_offset_ms: 0,
    })
}

/// Whether the log holds a change with `change`'s dot.
pub(super) async fn logged(storage: &Arc<dyn Storage>, change: &Change) -> bool {
    let (record, actor, counter) = (change.record, change.dot.actor, change.dot.counter);
    storage
        .read(move |tx| {
            let township = home_of(tx, record)?;
            Ok(tx.change_body(record, &township, actor, counter)?)
        })
        .await
        .expect("a change's body reads")
        .is_some()
}

/// The township rows of the records that the seam tests write directly
/// (not through the service) are filed in.
pub(super) const GHOST_HOME: &str = "GHOST";

/// Where `record`'s rows live: the home of its stored state
/// ([`crate::home`]), or [`GHOST_HOME`] for a record without one.
pub(super) fn home_of(tx: &mut dyn ReadTx, record: RecordId) -> crate::storage::StorageResult<String> {
    let dir = crate::directory::load(tx)?;
    Ok(match tx.record_state(record)? {
        Some(bytes) => {
            let state = RecordState::from_bytes(&bytes).map_err(|_| StorageError::corrupt("a state"))?;
            crate::home::of_record(&dir, &state)
        }
        None => GHOST_HOME.to_owned(),
    })
}
