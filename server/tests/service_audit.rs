//! The audit chain on the real SQLite backend: an untouched chain verifies
//! through the service, the database refuses `UPDATE` and `DELETE` of its
//! rows, and whoever drops those triggers with the file in hand (as an
//! attacker would, with `rusqlite`) is caught at the first row they edited,
//! deleted or forged. (The unit tests of the old `audit` module, ported.)

mod common;

use common::{Fixture, run, sqlite};
use gridsync_server_core::audit::{Event, Verdict};
use gridsync_server_core::service::Caller;
use gridsync_server_core::storage::StorageExt;

/// Appends `n` events, at 1000, 1001, … ms.
fn fill(f: &Fixture, n: u64) {
    run(
        &f.op,
        f.op.service().storage().write(move |tx, _| {
            for i in 0..n {
                tx.append_audit(1_000 + i, &Event::new("cli", "user.add", format!("u{i}"), "ok"))?;
            }
            Ok(())
        }),
    )
    .expect("append");
}

fn verify(f: &Fixture) -> Verdict {
    run(&f.op, f.op.service().verify_audit(&Caller::Operator)).expect("verify")
}

#[test]
fn an_untouched_chain_verifies() {
    let f = Fixture::new();
    assert_eq!(verify(&f), Verdict::Intact { rows: 0, head: "0".repeat(64) });
    fill(&f, 5);
    assert!(matches!(verify(&f), Verdict::Intact { rows: 5, .. }));
}

#[test]
fn updates_and_deletes_are_refused() {
    let f = Fixture::new();
    fill(&f, 2);
    let conn = sqlite(&f.data);
    assert!(conn.execute("UPDATE audit SET target = 'x' WHERE seq = 1", []).is_err());
    assert!(conn.execute("DELETE FROM audit WHERE seq = 1", []).is_err());
    assert!(matches!(verify(&f), Verdict::Intact { rows: 2, .. }));
}

#[test]
fn an_edited_row_is_named() {
    let f = Fixture::new();
    fill(&f, 5);
    sqlite(&f.data)
        .execute_batch("DROP TRIGGER audit_no_update; UPDATE audit SET outcome = 'refused' WHERE seq = 3;")
        .expect("tamper");
    assert_eq!(verify(&f), Verdict::Broken { seq: 3, reason: "its content was changed" });
}

#[test]
fn a_deleted_or_forged_row_is_named() {
    let f = Fixture::new();
    fill(&f, 5);
    let conn = sqlite(&f.data);
    conn.execute_batch("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 2;").expect("tamper");
    assert!(matches!(verify(&f), Verdict::Broken { seq: 3, .. }));
    // Re-inserting a forged row 2 does not mend the chain.
    conn.execute(
        "INSERT INTO audit VALUES (2, 1001, 'cli', 'user.add', 'u1', 'ok', '', zeroblob(32), zeroblob(32))",
        [],
    )
    .expect("forge");
    assert!(matches!(verify(&f), Verdict::Broken { seq: 2, .. }));
}
