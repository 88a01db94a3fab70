//! The handset store: records, the outbox and the device identity in one
//! SQLite file.
//!
//! Every write is one transaction that updates the record's merged state,
//! queues the change in the outbox and advances the clock; it returns only
//! after the commit, with `synchronous = FULL`, so an acknowledged edit
//! survives a crash or a flat battery.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use gridsync_proto::{
    ActorId, Change, Dot, FieldValue, Hlc, HlcClock, Op, RecordId, RecordKind, RecordState, Value,
};
use gridsync_sql_support::Schema;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::error::{Error, Result};
use crate::sync::{self, SyncOptions, SyncReport};
use crate::transport::Transport;

/// The handset store schema, one step per version.
pub static SCHEMA: Schema = Schema {
    name: "handset store",
    application_id: 0x4753_4443, // "GSDC"
    steps: &[include_str!("../sql/v1.sql")],
};

/// One edit to a record, before it becomes a [`Change`].
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Set a field (replacing every value of it this device has seen).
    Set(String, Value),
    /// Append an entry of the given kind.
    Append(String, BTreeMap<String, Value>),
}

/// Which records [`Store::list`] returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordFilter {
    /// Only this kind.
    pub kind: Option<RecordKind>,
    /// Only records with a conflict.
    pub conflicted: bool,
    /// Only records whose field (by displayed value) equals this value.
    pub field_equals: Option<(String, Value)>,
}

/// One field in conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The record.
    pub record: RecordId,
    /// Its kind.
    pub kind: RecordKind,
    /// The field.
    pub field: String,
    /// Every competing value, with device, author and time.
    pub values: Vec<FieldValue>,
}

/// Who this device is.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub(crate) actor: ActorId,
    pub(crate) server_url: String,
    pub(crate) author: String,
    pub(crate) clock: HlcClock,
    pub(crate) cursor: u64,
}

/// The store on one handset.
#[derive(Debug)]
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) device: Device,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Store {
    /// Creates the store at `path` with a new device identity.
    pub fn init(path: &Path, server_url: &str, author: &str) -> Result<Store> {
        let mut conn = gridsync_sql_support::open(path, &SCHEMA)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if load_device(&tx)?.is_some() {
            return Err(Error::AlreadyInitialized);
        }
        let actor = ActorId::random();
        tx.execute(
            "INSERT INTO device (id, actor, server_url, author, hlc_millis, hlc_logical, cursor)
             VALUES (1, ?1, ?2, ?3, 0, 0, 0)",
            params![actor.as_bytes(), server_url, author],
        )?;
        tx.commit()?;
        Self::open(path)
    }

    /// Opens an initialised store. A missing file is [`Error::NotInitialized`];
    /// nothing is created.
    pub fn open(path: &Path) -> Result<Store> {
        if !path.exists() {
            return Err(Error::NotInitialized);
        }
        let conn = gridsync_sql_support::open(path, &SCHEMA)?;
        let device = load_device(&conn)?.ok_or(Error::NotInitialized)?;
        Ok(Store { conn, device })
    }

    /// This installation's actor id.
    pub fn device_id(&self) -> ActorId {
        self.device.actor
    }

    /// The author name this device writes into its changes.
    pub fn author(&self) -> &str {
        &self.device.author
    }

    /// The server this store syncs with.
    pub fn server_url(&self) -> &str {
        &self.device.server_url
    }

    /// The last server sequence number applied here.
    pub fn cursor(&self) -> u64 {
        self.device.cursor
    }

    /// Creates a record with initial field values; returns its new id.
    pub fn create(
        &mut self,
        kind: RecordKind,
        fields: impl IntoIterator<Item = (String, Value)>,
    ) -> Result<RecordId> {
        let id = RecordId::generate(now_ms());
        let edits = fields.into_iter().map(|(k, v)| Edit::Set(k, v));
        self.write(id, Some(kind), edits)?;
        Ok(id)
    }

    /// Applies edits to an existing record, atomically.
    pub fn edit(&mut self, id: RecordId, edits: impl IntoIterator<Item = Edit>) -> Result<()> {
        self.write(id, None, edits)
    }

    /// Sets fields of a record.
    pub fn set(&mut self, id: RecordId, fields: impl IntoIterator<Item = (String, Value)>) -> Result<()> {
        self.edit(id, fields.into_iter().map(|(k, v)| Edit::Set(k, v)))
    }

    /// Appends a `note` entry with a `text` attribute.
    pub fn note(&mut self, id: RecordId, text: &str) -> Result<()> {
        let body = BTreeMap::from([("text".to_owned(), Value::from(text))]);
        self.edit(id, [Edit::Append("note".to_owned(), body)])
    }

    /// Resolves a conflict: `value` replaces every competing value of `field`.
    pub fn resolve(&mut self, id: RecordId, field: &str, value: Value) -> Result<()> {
        let state = self.get(id)?.ok_or(Error::NotFound(id))?;
        if state.values(field).len() < 2 {
            return Err(Error::NoConflict { record: id, field: field.to_owned() });
        }
        self.edit(id, [Edit::Set(field.to_owned(), value)])
    }

    /// One record, if this device holds it.
    pub fn get(&self, id: RecordId) -> Result<Option<RecordState>> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT state FROM records WHERE id = ?1")?
            .query_row([id.as_bytes()], |r| r.get(0))
            .optional()?;
        bytes.map(|b| decode_state(&b)).transpose()
    }

    /// Records matching `filter`, oldest first.
    pub fn list(&self, filter: &RecordFilter) -> Result<Vec<RecordState>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT state FROM records
             WHERE (?1 IS NULL OR kind = ?1) AND (?2 = 0 OR conflicted = 1)
             ORDER BY id",
        )?;
        let kind = filter.kind.map(RecordKind::code);
        let rows = stmt.query_map(params![kind, filter.conflicted], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for bytes in rows {
            let state = decode_state(&bytes?)?;
            let keep = match &filter.field_equals {
                Some((field, value)) => state.value(field) == Some(value),
                None => true,
            };
            if keep {
                out.push(state);
            }
        }
        Ok(out)
    }

    /// Every field in conflict on this device.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        let filter = RecordFilter { conflicted: true, ..RecordFilter::default() };
        let mut out = Vec::new();
        for state in self.list(&filter)? {
            for (field, values) in state.conflicts() {
                out.push(Conflict {
                    record: state.id(),
                    kind: state.kind(),
                    field: field.to_owned(),
                    values: values.to_vec(),
                });
            }
        }
        Ok(out)
    }

    /// Changes made here that the server has not acknowledged yet.
    pub fn pending(&self) -> Result<u64> {
        Ok(self.conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// Runs one sync with the server: push the outbox, then pull.
    pub fn sync(&mut self, transport: &dyn Transport) -> Result<SyncReport> {
        sync::run(self, transport, &SyncOptions::default())
    }

    /// Runs one sync with explicit page sizes.
    pub fn sync_with(&mut self, transport: &dyn Transport, options: &SyncOptions) -> Result<SyncReport> {
        sync::run(self, transport, options)
    }

    /// Makes changes from edits and commits them with the record's new state.
    fn write(
        &mut self,
        id: RecordId,
        create: Option<RecordKind>,
        edits: impl IntoIterator<Item = Edit>,
    ) -> Result<()> {
        let actor = self.device.actor;
        let author = self.device.author.clone();
        let mut clock = self.device.clock.clone();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut state = match (load_state(&tx, id)?, create) {
            (Some(state), None) => state,
            (None, Some(kind)) => RecordState::new(id, kind),
            (Some(_), Some(_)) => return Err(Error::Corrupt("a new record id is already taken")),
            (None, None) => return Err(Error::NotFound(id)),
        };
        let now = now_ms();
        let mut queue = tx.prepare_cached("INSERT INTO outbox (change) VALUES (?1)")?;
        let ops = create.map(|_| Op::Create).into_iter().chain(edits.into_iter().map(|edit| match edit {
            // `supersedes` is filled in just before the change is made.
            Edit::Set(field, value) => Op::Set { field, value, supersedes: Vec::new() },
            Edit::Append(entry, body) => Op::Append { entry, body },
        }));
        for mut op in ops {
            if let Op::Set { field, supersedes, .. } = &mut op {
                *supersedes = state.live_dots(field);
            }
            let change = Change {
                record: id,
                kind: state.kind(),
                dot: Dot { actor, counter: state.next_counter(&actor) },
                author: author.clone(),
                time: clock.tick(now),
                op,
            };
            change.validate()?;
            state.apply(&change)?;
            queue.execute([postcard::to_allocvec(&change).expect("encoding into a Vec cannot fail")])?;
        }
        drop(queue);
        save_state(&tx, &state)?;
        save_clock(&tx, clock.last())?;
        tx.commit()?;
        self.device.clock = clock;
        Ok(())
    }
}

fn load_device(conn: &Connection) -> Result<Option<Device>> {
    let row = conn
        .query_row(
            "SELECT actor, server_url, author, hlc_millis, hlc_logical, cursor FROM device WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((actor, server_url, author, millis, logical, cursor)) = row else {
        return Ok(None);
    };
    let actor = ActorId::from_slice(&actor).ok_or(Error::Corrupt("device id"))?;
    let last = Hlc { millis: millis as u64, logical: logical as u32 };
    Ok(Some(Device { actor, server_url, author, clock: HlcClock::resume(last), cursor: cursor as u64 }))
}

pub(crate) fn load_state(conn: &Connection, id: RecordId) -> Result<Option<RecordState>> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT state FROM records WHERE id = ?1")?
        .query_row([id.as_bytes()], |r| r.get(0))
        .optional()?;
    bytes.map(|b| decode_state(&b)).transpose()
}

pub(crate) fn save_state(tx: &Transaction<'_>, state: &RecordState) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO records (id, kind, state, conflicted) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, conflicted = excluded.conflicted",
    )?
    .execute(params![
        state.id().as_bytes(),
        state.kind().code(),
        state.to_bytes(),
        state.has_conflicts()
    ])?;
    Ok(())
}

pub(crate) fn save_clock(tx: &Transaction<'_>, last: Hlc) -> Result<()> {
    tx.prepare_cached("UPDATE device SET hlc_millis = ?1, hlc_logical = ?2 WHERE id = 1")?
        .execute(params![last.millis as i64, last.logical])?;
    Ok(())
}

fn decode_state(bytes: &[u8]) -> Result<RecordState> {
    RecordState::from_bytes(bytes).map_err(|_| Error::Corrupt("record state"))
}
