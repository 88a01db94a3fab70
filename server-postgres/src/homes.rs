//! Filling in the townships of rows written without one: a database
//! upgraded from schema version 1 (`sql/v2.sql` adds the column with ''
//! everywhere), or copied from a data directory (`migrate-data`): each record's home,
//! each device's and each locked month's place's, computed the way the service computes them
//! ([`gridsync_server_core::home`]), written in batches of one statement
//! per table. Runs inside the caller's transaction, so an upgrade or a
//! copy is all or nothing.

use std::str::FromStr;

use gridsync_proto::{Actor, Directory, Level, Place, RecordState, Role, Unit};
use gridsync_server_core::home;
use tokio_postgres::Transaction;

/// Records read and re-filed per round.
const BATCH: i64 = 2_000;

/// The tables whose rows follow a record's home, and the column naming it.
const RECORD_TABLES: &[(&str, &str)] =
    &[("records", "id"), ("changes", "record"), ("record_access", "record"), ("daily_reports", "record")];

/// The tables whose rows follow a device's home.
const DEVICE_TABLES: &[&str] = &["replicas", "pull_tokens"];

/// Why filling in townships stopped.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// PostgreSQL refused a statement.
    #[error("filling in townships: {0}")]
    Sql(#[from] tokio_postgres::Error),
    /// A stored row does not decode.
    #[error("filling in townships: {0}")]
    Corrupt(String),
}

/// Sets the township of every record's and every device's rows, in `tx`.
pub async fn backfill(tx: &Transaction<'_>) -> Result<(), BackfillError> {
    let dir = directory(tx).await?;
    let mut after: Vec<u8> = Vec::new();
    loop {
        let rows = tx
            .query("SELECT id, state FROM records WHERE id > $1 ORDER BY id LIMIT $2", &[&after, &BATCH])
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get(0)?;
        let (mut ids, mut townships): (Vec<Vec<u8>>, Vec<String>) = (Vec::new(), Vec::new());
        for row in &rows {
            let id: Vec<u8> = row.try_get(0)?;
            let state = RecordState::from_bytes(row.try_get(1)?)
                .map_err(|_| BackfillError::Corrupt("a record's state does not decode".into()))?;
            ids.push(id);
            townships.push(home::of_record(&dir, &state));
        }
        for (table, column) in RECORD_TABLES {
            let sql = format!(
                "UPDATE {table} SET township = h.township
                 FROM unnest($1::bytea[], $2::text[]) AS h(id, township) WHERE {table}.{column} = h.id"
            );
            tx.execute(&sql, &[&ids, &townships]).await?;
        }
    }

    let rows = tx
        .query(
            "SELECT d.id, u.name, u.role, u.scope, u.unit FROM devices d JOIN users u ON u.name = d.\"user\"",
            &[],
        )
        .await?;
    let (mut devices, mut townships): (Vec<Vec<u8>>, Vec<String>) = (Vec::new(), Vec::new());
    for row in &rows {
        let role: &str = row.try_get(2)?;
        let scope: String = row.try_get(3)?;
        let actor = Actor {
            user: row.try_get(1)?,
            role: Role::from_str(role).map_err(|_| BackfillError::Corrupt("a user's role".into()))?,
            place: (!scope.is_empty()).then_some(scope),
            unit: row.try_get(4)?,
        };
        devices.push(row.try_get(0)?);
        townships.push(home::of_actor(&dir, &actor));
    }
    for table in DEVICE_TABLES {
        let sql = format!(
            "UPDATE {table} SET township = h.township
             FROM unnest($1::bytea[], $2::text[]) AS h(device, township) WHERE {table}.device = h.device"
        );
        tx.execute(&sql, &[&devices, &townships]).await?;
    }

    // Locked months (schema version 3 on): the township of their place.
    let locks: Option<String> =
        tx.query_one("SELECT to_regclass('month_locks')::text", &[]).await?.try_get(0)?;
    if locks.is_some() {
        let places: Vec<String> = tx
            .query("SELECT DISTINCT place FROM month_locks WHERE township = ''", &[])
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        let townships: Vec<String> = places.iter().map(|p| home::bucket(&dir, p)).collect();
        tx.execute(
            "UPDATE month_locks SET township = h.township
             FROM unnest($1::text[], $2::text[]) AS h(place, township) WHERE month_locks.place = h.place",
            &[&places, &townships],
        )
        .await?;
    }
    Ok(())
}

/// The directory as the database holds it.
async fn directory(tx: &Transaction<'_>) -> Result<Directory, BackfillError> {
    let mut places = Vec::new();
    for row in tx.query("SELECT code, name, level, parent FROM places", &[]).await? {
        let level: &str = row.try_get(2)?;
        places.push(Place {
            code: row.try_get(0)?,
            name: row.try_get(1)?,
            level: Level::from_str(level).map_err(|_| BackfillError::Corrupt("a place's level".into()))?,
            parent: row.try_get(3)?,
        });
    }
    let mut units = Vec::new();
    for row in tx.query("SELECT code, name, kind, place FROM units", &[]).await? {
        units.push(Unit {
            code: row.try_get(0)?,
            name: row.try_get(1)?,
            kind: row.try_get(2)?,
            place: row.try_get(3)?,
        });
    }
    Ok(Directory::new(places, units))
}
