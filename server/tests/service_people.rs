//! People through the service layer, on the real SQLite backend: one-time
//! enrollment codes, deactivation and revocation, assignments to places and
//! units, admin sessions. (The unit tests of the old `identity` and `staff`
//! modules, ported.)

mod common;

use common::{Fixture, add_place, add_user, code_of, place, refusal, request, run, user, version};
use gridsync_proto::{ErrorCode, Level, Role, Unit};
use gridsync_server_core::audit::Verdict;
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::service::Caller;
use gridsync_server_core::service::people::{SESSION_MS, code_digest};
use gridsync_server_core::storage::{NewEnrollment, NewSession, StorageExt};

const OP: &Caller = &Caller::Operator;

#[test]
fn a_code_enrolls_once_and_expires() {
    let f = Fixture::new();
    let (op, svc) = (&f.op, f.op.service());
    add_place(op, place("530102.003", Level::Village, None)).expect("place");
    add_user(op, "li", Role::Worker, Some("530102.003"), None, None).expect("user");
    let code = run(op, svc.issue_enrollment(OP, "li", 60_000)).expect("code").code;
    assert_eq!(code.len(), 23);
    let first = request(&code.to_lowercase().replace('-', " "));
    let enrolled = run(op, svc.enroll(first.clone())).expect("enroll");
    assert_eq!((enrolled.user.name.as_str(), enrolled.user.role), ("li", Role::Worker));
    let device = first.device;
    let key = run(op, svc.storage().read(move |tx| Ok(tx.device_key(device)?))).expect("key");
    assert!(key.is_some());
    assert_eq!(code_of(run(op, svc.enroll(request(&code)))), ErrorCode::EnrollmentUsed, "reused");

    // A code issued 69 seconds ago for a minute (stored as the service
    // stores codes, at a time of the test's choosing).
    const LATE: &str = "LATE-CODE";
    run(
        op,
        svc.storage().write(|tx, now| {
            let issued = now - 69_000;
            let enrollment = NewEnrollment {
                code_hash: &code_digest(LATE),
                user: "li",
                created_ms: issued,
                expires_ms: issued + 60_000,
            };
            Ok(tx.insert_enrollment(&enrollment)?)
        }),
    )
    .expect("a late code");
    assert_eq!(code_of(run(op, svc.enroll(request(LATE)))), ErrorCode::EnrollmentExpired, "late");
    assert_eq!(code_of(run(op, svc.enroll(request("NOPE")))), ErrorCode::EnrollmentInvalid, "unknown");
}

#[test]
fn deactivating_a_user_revokes_their_devices() {
    let f = Fixture::new();
    let (op, svc) = (&f.op, f.op.service());
    add_place(op, place("x", Level::Grid, None)).expect("place");
    add_user(op, "wang", Role::Worker, Some("x"), None, None).expect("user");
    let code = run(op, svc.issue_enrollment(OP, "wang", 60_000)).expect("code").code;
    let req = request(&code);
    run(op, svc.enroll(req.clone())).expect("enroll");
    assert_eq!(run(op, svc.deactivate_user(OP, "wang")).expect("deactivate"), 1);
    let device = req.device;
    let key =
        || run(op, svc.storage().read(move |tx| Ok(tx.device_key(device)?))).expect("query").expect("known");
    let revoked = key();
    assert!(revoked.revoked && !revoked.wipe);
    run(op, svc.revoke_device(OP, device, true)).expect("wipe");
    assert!(key().wipe);
    assert_eq!(
        code_of(run(op, svc.issue_enrollment(OP, "wang", 60_000))),
        ErrorCode::UserInactive,
        "inactive"
    );
    assert_eq!(
        code_of(run(op, svc.issue_enrollment(OP, "wang", 999))),
        ErrorCode::InvalidRequest,
        "a code lives at least a second"
    );
    // place, user, code, enrollment, deactivation, wipe: the refusal left no trace.
    assert!(matches!(run(op, svc.verify_audit(OP)).expect("verify"), Verdict::Intact { rows: 6, .. }));
    assert_eq!(
        code_of(run(op, svc.assign_user(OP, "wang", Some("x".into()), None))),
        ErrorCode::UserInactive,
        "inactive"
    );
}

#[test]
fn scopes_are_known_places_and_departments_belong_to_units() {
    let f = Fixture::new();
    let (op, svc) = (&f.op, f.op.service());
    add_place(op, place("5301", Level::County, None)).expect("place");
    add_place(op, place("530102", Level::Township, Some("5301"))).expect("place");
    add_place(op, place("530103", Level::Township, Some("5301"))).expect("place");
    let unknown = add_user(op, "li", Role::Worker, Some("5301.02"), None, None);
    assert_eq!(code_of(unknown), ErrorCode::UnknownPlace);
    add_user(op, "root", Role::Administrator, Some(""), None, None).expect("whole deployment");
    assert_eq!(
        code_of(add_user(op, "mca", Role::Department, Some("530102"), None, None)),
        ErrorCode::MissingField,
        "no unit"
    );
    assert_eq!(
        code_of(add_user(op, "mca", Role::Department, None, Some("U-NONE"), None)),
        ErrorCode::UnknownPlace,
        "unknown unit"
    );
    let unit = |code: &str, place: &str| {
        let unit =
            Unit { code: code.into(), name: "派出所".into(), kind: "police".into(), place: place.into() };
        run(op, svc.add_unit(OP, unit)).expect("unit");
    };
    unit("U-POLICE", "530102");
    let dept = add_user(op, "mca", Role::Department, None, Some("U-POLICE"), None).expect("department user");
    assert_eq!((dept.scope.as_str(), dept.unit.as_deref()), ("530102", Some("U-POLICE")));
    assert_eq!(user(op, "mca").expect("stored"), dept);
    assert_eq!(
        code_of(add_user(op, "zhao", Role::Worker, Some("530102"), Some("U-POLICE"), None)),
        ErrorCode::InvalidRequest,
        "unit"
    );

    // A worker works at a grid or a village, never at a township.
    assert_eq!(
        code_of(add_user(op, "li", Role::Worker, Some("530102"), None, None)),
        ErrorCode::InvalidRequest
    );

    // Assignment moves the user and the directory version.
    add_user(op, "li", Role::TownshipAdmin, Some("530102"), None, None).expect("township admin");
    let before = version(op);
    let moved = run(op, svc.assign_user(OP, "li", Some("530103".into()), None)).expect("assign");
    assert_eq!(moved.scope, "530103");
    assert!(version(op) > before);
    assert_eq!(
        code_of(run(op, svc.assign_user(OP, "li", Some("nowhere".into()), None))),
        ErrorCode::UnknownPlace,
        "unknown"
    );
    unit("U-JUSTICE", "530103");
    let dept =
        run(op, svc.assign_user(OP, "mca", Some(String::new()), Some("U-JUSTICE".into()))).expect("new unit");
    assert_eq!((dept.scope.as_str(), dept.unit.as_deref()), ("530103", Some("U-JUSTICE")));
    let actor = run(op, svc.storage().read(|tx| Ok(gridsync_server_core::directory::actor(tx, "mca")?)))
        .expect("read")
        .expect("actor");
    assert_eq!(actor.unit.as_deref(), Some("U-JUSTICE"));
}

fn sha256(text: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref().to_vec()
}

#[test]
fn sessions_open_expire_and_close() {
    let f = Fixture::new();
    let (op, svc) = (&f.op, f.op.service());
    add_place(op, place("5301", Level::County, None)).expect("place");
    add_user(op, "wang", Role::TownshipAdmin, Some("5301"), None, Some("a long enough password"))
        .expect("user");
    assert_eq!(code_of(run(op, svc.login("wang", "wrong password!!"))), ErrorCode::BadCredentials);
    assert_eq!(code_of(run(op, svc.login("nobody", "a long enough password"))), ErrorCode::BadCredentials);
    let before = now_ms();
    let session = run(op, svc.login("wang", "a long enough password")).expect("login");
    let after = now_ms();
    assert!(
        (before + SESSION_MS..=after + SESSION_MS).contains(&session.expires_ms),
        "a session lasts SESSION_MS from the login"
    );
    // The password was set for wang: the session is restricted to changing it.
    assert!(session.user.must_change_password);
    assert_eq!(code_of(run(op, svc.session_user(&session.token))), ErrorCode::PasswordChangeRequired);
    assert_eq!(run(op, svc.restricted_session_user(&session.token)).expect("live").name, "wang");
    let wang = Caller::Staff(session.user.clone());
    let change = |new: &str| {
        run(op, svc.change_own_password(&wang, "a long enough password", new, Some(&session.token)))
    };
    assert_eq!(code_of(change("a long enough password")), ErrorCode::InvalidRequest, "not the same again");
    assert_eq!(change("wang's own password").expect("changed"), 0);
    assert_eq!(run(op, svc.session_user(&session.token)).expect("live").name, "wang");
    assert!(!run(op, svc.session_user(&session.token)).expect("live").must_change_password);
    assert_eq!(code_of(run(op, svc.login("wang", "a long enough password"))), ErrorCode::BadCredentials);

    // Live until its expiry, not at it (the storage is asked at those times).
    let (digest, expires) = (sha256(&session.token), session.expires_ms);
    let at = |time: u64| {
        let digest = digest.clone();
        run(op, svc.storage().read(move |tx| Ok(tx.session_user(&digest, time)?))).expect("read")
    };
    assert_eq!(at(expires - 1).as_deref(), Some("wang"), "live");
    assert_eq!(at(expires), None, "expired");
    // A session that expired is refused by the service.
    const OLD: &str = "an old token of a session that has expired";
    run(
        op,
        svc.storage().write(|tx, now| {
            let session = NewSession {
                token_hash: &sha256(OLD),
                user: "wang",
                created_ms: now - SESSION_MS - 1_000,
                expires_ms: now - 1_000,
            };
            Ok(tx.insert_session(&session)?)
        }),
    )
    .expect("an old session");
    assert_eq!(refusal(run(op, svc.session_user(OLD))).0, ErrorCode::Unauthenticated, "expired");

    run(op, svc.logout("wang", &session.token)).expect("logout");
    assert!(run(op, svc.session_user(&session.token)).is_err(), "closed");
}
