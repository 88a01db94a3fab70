//! The demo township: it fills an empty data directory through the real
//! ingest (every change passes the record rules), its disputes reach every
//! level, its daily reports have on-time, late and missing days, and it
//! refuses to touch a data directory that already has a hierarchy.

use gridsync_proto::date::CHINA_UTC_OFFSET_MINUTES;
use gridsync_proto::{Date, Lifecycle, RecordKind, Stage};
use gridsync_server::demo::{self, DemoOptions};
use gridsync_server::operator::Operator;
use gridsync_server::{Database, Inspector};
use gridsync_server_core::directory;
use gridsync_server_core::service::reports::{self, Filing};
use gridsync_server_core::storage::StorageExt;

#[test]
fn the_demo_fills_a_realistic_township() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let options = DemoOptions { days: 30, villages: 3, grids: 2, seed: 7 };
    let made = demo::fill(&data, &options)?;
    assert_eq!(made.places, 3 + 3 + 3 * 2);
    assert_eq!(made.users, 1 + 1 + 3 + 3 + 3 * 2, "admin, centre, departments, village staff, grid workers");
    assert!(made.records > 6 * 30 * 8, "patrols, visits and reports for every grid every day: {made:?}");
    assert!(made.admin.1.len() >= 16 && made.centre.1.len() >= 16);

    let inspector = Inspector::open(&Database::Embedded { data_dir: data.clone() })?;
    assert_eq!(inspector.record_count()?, made.records);
    assert_eq!(inspector.change_count()?, made.changes);
    let disputes = inspector.records_of(RecordKind::Dispute)?;
    assert_eq!(disputes.len() as u64, made.disputes.0);
    let lifecycles: Vec<Lifecycle> = disputes.iter().filter_map(Lifecycle::of).collect();
    let stages = |stage| lifecycles.iter().filter(|l| l.state.stage == stage).count();
    assert!(stages(Stage::Closed) > 0 && stages(Stage::Closed) as u64 == made.disputes.1, "{made:?}");
    assert!(lifecycles.iter().any(|l| l.state.owner == made.township), "some disputes reached the township");
    assert!(lifecycles.iter().any(|l| l.state.handler.is_some()), "some were transferred to a department");
    assert!(lifecycles.iter().any(|l| l.state.stage.is_open()), "some are still being worked on");

    // Reporting completeness over the month: mostly on time, some late, some missing.
    let today = Date::of_millis(gridsync_server_core::clock::now_ms() as i64, CHINA_UTC_OFFSET_MINUTES)
        .expect("today");
    let op = Operator::open_default(&data)?;
    let mut day = today;
    let mut counts = [0u32; 3];
    for _ in 0..options.days {
        day = day.previous().expect("a day");
        let township = made.township.clone();
        let report = op.run(op.service().storage().read(move |tx| {
            let dir = directory::load(tx)?;
            Ok(reports::daily(tx, &dir, &township, day, CHINA_UTC_OFFSET_MINUTES)?)
        }))?;
        assert_eq!(report.workers.len(), 6, "every grid worker, and only them");
        counts[0] += report.on_time;
        counts[1] += report.late;
        counts[2] += report.missing;
        assert!(report.workers.iter().any(|w| w.filing != Filing::Missing));
    }
    assert!(counts[0] > counts[1] + counts[2] && counts[1] > 0 && counts[2] > 0, "{counts:?}");
    drop(op);

    // A second run would mix demo data into a real deployment: refused.
    let again = demo::fill(&data, &options).expect_err("not on a filled directory");
    assert!(again.to_string().contains("empty"), "{again}");
    Ok(())
}
