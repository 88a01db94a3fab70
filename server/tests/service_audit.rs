//! The audit chain on the real SQLite backend: an untouched chain verifies
//! through the service, the database refuses `UPDATE` and `DELETE` of its
//! rows, and whoever drops those triggers with the file in hand (as an
//! attacker would, with `rusqlite`) is caught at the first row they edited,
//! deleted or forged (the unit tests of the old `audit` module, ported);
//! the check since the last (the console's) finds an edit after its
//! verified prefix, and needs a check from the first row for one inside it.

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

/// The console's check: the rows appended since the last check, on a real
/// database whose file someone edits behind the server's back.
#[test]
fn a_check_since_the_last_reads_only_new_rows_and_finds_an_edit_after_its_prefix() {
    let f = Fixture::new();
    let check = |from_first: bool| {
        run(&f.op, f.op.service().audit_chain(&Caller::Operator, from_first)).expect("the chain is checked")
    };
    fill(&f, 5);
    let first = check(false);
    assert!(matches!(first.verdict, Verdict::Intact { rows: 5, .. }) && first.checked == 5, "{first:?}");
    fill(&f, 3);
    let next = check(false);
    assert!(matches!(next.verdict, Verdict::Intact { rows: 8, .. }) && next.checked == 3, "{next:?}");

    fill(&f, 3);
    sqlite(&f.data)
        .execute_batch("DROP TRIGGER audit_no_update; UPDATE audit SET outcome = 'refused' WHERE seq = 10;")
        .expect("tamper");
    let broken = Verdict::Broken { seq: 10, reason: "its content was changed" };
    let found = check(false);
    assert_eq!((&found.verdict, found.remembered), (&broken, false), "an edit after the verified prefix");
    fill(&f, 1);
    let later = check(false);
    assert_eq!((&later.verdict, later.remembered, later.checked), (&broken, true, 0), "and remembered");
    assert_eq!(check(true).verdict, broken, "a check from the first row finds it too");
}

/// An edit inside the verified prefix that leaves the hashes alone is what
/// a check since the last cannot see: a check from the first row, and the
/// whole walk, find it.
#[test]
fn an_edit_inside_the_verified_prefix_needs_a_check_from_the_first_row() {
    let f = Fixture::new();
    let check = |from_first: bool| {
        run(&f.op, f.op.service().audit_chain(&Caller::Operator, from_first)).expect("the chain is checked")
    };
    fill(&f, 5);
    check(false);
    sqlite(&f.data)
        .execute_batch("DROP TRIGGER audit_no_update; UPDATE audit SET outcome = 'refused' WHERE seq = 2;")
        .expect("tamper");
    fill(&f, 1);
    assert!(matches!(check(false).verdict, Verdict::Intact { rows: 6, .. }), "not read again");
    let broken = Verdict::Broken { seq: 2, reason: "its content was changed" };
    assert_eq!(check(true).verdict, broken);
    assert_eq!(verify(&f), broken);
}
