//! Sizes for the disk figures: the server's data directory, and the
//! records as a plain JSON document store would keep them.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use gridsync_proto::{RecordId, RecordState};
use serde_json::{Map, Value as Json};

use crate::workload::Workload;

/// Bytes of the files under `dir` (their lengths, recursively).
pub(crate) fn dir_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += dir_bytes(&entry.path())?;
        } else if kind.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

/// The files directly in `dir` and their bytes, largest first.
pub(crate) fn files(dir: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            files.push((entry.file_name().to_string_lossy().into_owned(), entry.metadata()?.len()));
        }
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.1));
    Ok(files)
}

/// Checkpoints the database `db`, which no server has open: its WAL copied
/// into the database file and truncated. Returns the connection.
pub(crate) fn checkpoint(db: &Path) -> anyhow::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(db).with_context(|| format!("cannot open {}", db.display()))?;
    let (busy, _, _): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    anyhow::ensure!(busy == 0, "the server's database is still in use: cannot checkpoint it");
    Ok(conn)
}

/// Checkpoints the stopped server's database `db` ([`checkpoint`]), then
/// returns the bytes of each of its tables and indexes, largest first
/// (SQLite's `dbstat`).
pub(crate) fn checkpoint_and_tables(db: &Path) -> anyhow::Result<Vec<(String, u64)>> {
    let conn = checkpoint(db)?;
    let mut stmt = conn.prepare("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")?;
    let tables = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<Result<Vec<_>, _>>()
        .context("cannot read the database's table sizes")?;
    Ok(tables)
}

/// Records and the bytes of their JSON: every record of `work` folded to
/// its final state on the device ([`record_json`]), compact.
pub(crate) fn records_json(work: &Workload) -> anyhow::Result<(u64, u64)> {
    let mut states: HashMap<RecordId, RecordState> = HashMap::new();
    for change in work.devices.iter().flat_map(|d| &d.groups).flatten() {
        states
            .entry(change.record)
            .or_insert_with(|| RecordState::new(change.record, change.kind))
            .apply(change)
            .context("a workload change does not apply")?;
    }
    let mut bytes = 0;
    for state in states.values() {
        bytes += serde_json::to_vec(&record_json(state))?.len() as u64;
    }
    Ok((states.len() as u64, bytes))
}

/// A record as a JSON document: id, kind, each field's value, and its
/// entries (`{"entry": …, attributes…}`) in order, with no sync metadata.
pub(crate) fn record_json(state: &RecordState) -> Json {
    let mut doc = Map::new();
    doc.insert("id".to_owned(), Json::String(state.id().to_string()));
    doc.insert("kind".to_owned(), Json::String(state.kind().to_string()));
    for name in state.field_names() {
        if let Some(value) = state.value(name) {
            doc.insert(name.to_owned(), value.to_json());
        }
    }
    let entries: Vec<Json> = state
        .entries()
        .into_iter()
        .map(|e| {
            let mut body: Map<String, Json> = e.body.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
            body.insert("entry".to_owned(), Json::String(e.entry.clone()));
            Json::Object(body)
        })
        .collect();
    if !entries.is_empty() {
        doc.insert("entries".to_owned(), Json::Array(entries));
    }
    Json::Object(doc)
}
