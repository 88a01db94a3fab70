//! `GridStore.set_server` end to end: a handset enrolled with a township
//! server keeps its identity and its unsent changes when the server moves
//! to another address, and its next sync goes there. Real servers on
//! loopback ports over one data directory.

mod common;

use std::net::{SocketAddr, TcpListener};

use common::DAY_MS;
use gridsync_ffi::{GridError, GridStore};
use gridsync_server::operator::Operator;
use gridsync_server::{Running, Settings};

fn serve(data: &std::path::Path) -> anyhow::Result<Running> {
    let mut settings = Settings::new(data, "127.0.0.1:0".parse()?);
    settings.workers = 1;
    Running::start(settings)
}

#[test]
fn set_server_moves_the_handset_with_its_unsent_changes() -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let data = work.path().join("server");
    let op = Operator::open_default(&data)?;
    common::township_with_a_worker(&op)?;
    let first = serve(&data)?;
    let old_url = first.url();
    let code = op.issue_code("li", DAY_MS, &old_url)?.code;
    drop(op);

    let path = work.path().join("li.db").display().to_string();
    let store = GridStore::create(path, old_url.clone(), vec![9; 32], None)?;
    let device = store.device_id();
    store.enroll(code)?;
    store.file_all_safe(None)?;
    store.sync(None)?;

    // Offline work, then the server moves to another port.
    let patrol = store.start_patrol(1_796_090_400_000)?;
    store.add_note(patrol.clone(), "路灯损坏".into())?;
    let pending = store.pending_changes()?;
    assert_eq!(pending, 4, "a patrol's create, grid and start; a note");
    let old: SocketAddr = old_url.trim_start_matches("http://").parse()?;
    first.stop();
    // Held while the new server picks its port, so that it picks another.
    let held = TcpListener::bind(old)?;
    let second = serve(&data)?;
    drop(held);
    assert_ne!(second.url(), old_url);
    assert!(matches!(store.sync(None), Err(GridError::Network { .. })));

    // Bad addresses are refused by name and change nothing.
    for bad in ["10.1.2.3:8080", "ftp://10.1.2.3", "http://user:pw@10.1.2.3"] {
        let refused = store.set_server(bad.into(), None).expect_err(bad);
        assert!(
            matches!(&refused, GridError::Validation { code, field: Some(f), .. }
                if code == "invalid_request" && f == "server_url"),
            "{bad}: {refused:?}"
        );
    }
    let refused = store.set_server(second.url(), Some(b"-----BEGIN CERTIFICATE-----".to_vec()));
    assert!(matches!(refused, Err(GridError::Validation { .. })), "{refused:?}");
    assert_eq!(store.server_url()?, old_url);

    store.set_server(second.url(), None)?;
    assert_eq!((store.server_url()?, store.device_id()), (second.url(), device.clone()));
    assert_eq!(store.pending_changes()?, pending);
    let summary = store.sync(None)?;
    assert_eq!((summary.pushed, summary.refused, summary.pending), (pending, 0, 0), "{summary:?}");
    let view: serde_json::Value =
        serde_json::from_str(&store.get_record(patrol.clone())?.expect("the patrol"))?;
    assert!(view["created"]["received_ms"].is_u64(), "{view}");
    assert_eq!(view["entries"][0]["body"]["text"], "路灯损坏");

    // Durable: a reopened store syncs with the new address.
    drop(store);
    let store = GridStore::open(work.path().join("li.db").display().to_string(), vec![9; 32], None)?;
    assert_eq!(store.server_url()?, second.url());
    store.sync(None)?;
    second.stop();
    Ok(())
}
