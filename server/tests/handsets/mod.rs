//! Grid workers' handsets for the console's tests: enrolled with codes the
//! operator issued, syncing with the server on a loopback port, and a
//! dispute that two of them put in conflict offline.
#![allow(dead_code)]

use gridsync_client_core::{HttpTransport, NewDispute, Store, StoreKey};
use gridsync_proto::{RecordId, Value};

/// A grid worker's handset, enrolled with a code the operator issued.
pub(crate) struct Handset {
    pub(crate) store: Store,
    _dir: tempfile::TempDir,
}

impl Handset {
    /// Enrolls a fresh handset of `name` with `code`.
    pub(crate) fn enroll(url: &str, name: &str, code: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut store = Store::init(&dir.path().join("h.db"), url, name, &StoreKey::generate()?)?;
        store.enroll(&HttpTransport::new(url)?, code)?;
        Ok(Self { store, _dir: dir })
    }

    /// Pushes and pulls.
    pub(crate) fn sync(&mut self, url: &str) -> anyhow::Result<()> {
        self.store.sync(&HttpTransport::new(url)?)?;
        Ok(())
    }
}

/// Two workers of one grid register a dispute and then, offline, set its
/// risk differently (2 and 3): both sync, and the server holds a conflict.
pub(crate) fn conflicting_handsets(
    url: &str,
    codes: &[(String, String)],
) -> anyhow::Result<(RecordId, Vec<Handset>)> {
    let mut handsets = Vec::new();
    for (name, code) in codes {
        handsets.push(Handset::enroll(url, name, code)?);
    }
    let new = NewDispute {
        place: None,
        source: "walk_in".into(),
        source_record: None,
        category: "邻里纠纷".into(),
        summary: Some("邻里宅基地界线争执".into()),
        risk: Some(1),
        parties: vec![],
        address: None,
        due: None,
    };
    let id = handsets[0].store.register_dispute(&new)?;
    for h in &mut handsets {
        h.sync(url)?;
    }
    for (risk, h) in [2, 3].into_iter().zip(&mut handsets) {
        h.store.set(id, [("risk".to_owned(), Value::Int(risk))])?;
    }
    for h in &mut handsets {
        h.sync(url)?;
    }
    handsets[0].sync(url)?;
    assert!(handsets[0].store.get(id)?.expect("held").in_conflict("risk"));
    Ok((id, handsets))
}
