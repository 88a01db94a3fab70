//! Identity through the storage traits: users, enrollment codes, sessions,
//! devices, revocation and deactivation.

use std::sync::Arc;

use gridsync_proto::{Actor, ActorId, EnrollRequest, ErrorCode, Level, Role, Unit};

use super::fixture::{COUNTY, GRID_A, T0, TOWNSHIP, Town, place};
use crate::service::Caller;
use crate::service::people::code_digest;
use crate::storage::{
    Device, DeviceKey, Enrollment, NewDevice, NewEnrollment, NewSession, NewUser, Storage, StorageExt, User,
};

fn new_user<'a>(name: &'a str, role: Role, scope: &'a str, password_hash: Option<&'a str>) -> NewUser<'a> {
    NewUser { name, role, scope, unit: None, password_hash, now: T0 }
}

/// A user as read back: a password given at insert or set `one_time` is one-time.
fn user(name: &str, role: Role, scope: &str, unit: Option<&str>, active: bool, has_password: bool) -> User {
    User {
        name: name.into(),
        role,
        scope: scope.into(),
        unit: unit.map(Into::into),
        active,
        has_password,
        must_change_password: has_password,
    }
}

/// Users are stored as given and read back one by one and by name; a
/// password hash is kept and replaced, one-time when given at insert and
/// as set after; an assignment rewrites scope and unit; a unit's users
/// follow it to its new place.
pub async fn users_are_stored_and_assigned(storage: Arc<dyn Storage>) {
    storage
        .write(|tx, now| {
            tx.insert_place(&place(COUNTY, "崆峒区", Level::County, None), now)?;
            tx.insert_place(&place(TOWNSHIP, "崆峒镇", Level::Township, Some(COUNTY)), now)?;
            let police = Unit {
                code: "PS".into(),
                name: "派出所".into(),
                kind: "police".into(),
                place: TOWNSHIP.into(),
            };
            tx.insert_unit(&police, now)?;
            tx.insert_user(&new_user("wang", Role::Worker, GRID_A, None))?;
            tx.insert_user(&new_user("admin", Role::Administrator, "", Some("$argon2id$v=19$first")))?;
            tx.insert_user(&NewUser {
                unit: Some("PS"),
                ..new_user("police", Role::Department, TOWNSHIP, None)
            })?;
            Ok(())
        })
        .await
        .expect("users are stored");
    let (wang, admin, nobody, all) = storage
        .read(|tx| Ok((tx.user("wang")?, tx.user("admin")?, tx.user("nobody")?, tx.users()?)))
        .await
        .expect("users read");
    assert_eq!(
        wang,
        Some(user("wang", Role::Worker, GRID_A, None, true, false)),
        "a user reads back as stored, active"
    );
    assert_eq!(admin, Some(user("admin", Role::Administrator, "", None, true, true)), "with a password");
    assert_eq!(nobody, None, "an unknown user is none");
    let names: Vec<&str> = all.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["admin", "police", "wang"], "users() lists every user by name");
    assert_eq!(
        all[1],
        user("police", Role::Department, TOWNSHIP, Some("PS"), true, false),
        "a department user has a unit"
    );

    let (kept, replaced, missing) = storage
        .write(|tx, _| {
            let kept = tx.password_hash("admin")?;
            let replaced = tx.set_password("admin", "$argon2id$v=19$second", false)?
                && tx.set_password("wang", "$argon2id$v=19$w", true)?;
            let missing = tx.set_password("nobody", "$argon2id$v=19$x", true)?;
            tx.assign_user("wang", TOWNSHIP, None)?;
            Ok((kept, replaced, missing))
        })
        .await
        .expect("passwords and an assignment are written");
    assert_eq!(kept.as_deref(), Some("$argon2id$v=19$first"), "a password hash reads back as stored");
    assert!(replaced && !missing, "set_password answers whether the user exists");
    let moved =
        storage.write(|tx, _| Ok(tx.move_unit_users("PS", COUNTY)?)).await.expect("a unit's users are moved");
    assert_eq!(moved, 1, "move_unit_users counts the unit's users");
    let (admin_hash, admin, wang, police, none) = storage
        .read(|tx| {
            Ok((
                tx.password_hash("admin")?,
                tx.user("admin")?,
                tx.user("wang")?,
                tx.user("police")?,
                tx.password_hash("nobody")?,
            ))
        })
        .await
        .expect("users read");
    assert_eq!(admin_hash.as_deref(), Some("$argon2id$v=19$second"), "set_password replaces the hash");
    assert_eq!(
        admin.map(|u| (u.has_password, u.must_change_password)),
        Some((true, false)),
        "a password set not one-time is the user's own"
    );
    assert_eq!(
        wang,
        Some(user("wang", Role::Worker, TOWNSHIP, None, true, true)),
        "assign_user rewrites the scope"
    );
    assert_eq!(
        police.map(|u| u.scope),
        Some(COUNTY.into()),
        "a unit's users get the unit's new place as scope"
    );
    assert_eq!(none, None, "an unknown user has no password hash");
}

/// Enrollment codes are stored by digest and marked used with the device;
/// through the service a code enrolls one device only, an unknown or
/// expired code none, and a refused enrollment leaves its code unused.
pub async fn enrollment_codes_are_single_use(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    town.user("wang", Role::Worker, GRID_A).await;
    let (hash, device) = (vec![1u8; 32], ActorId::random());
    let stored = {
        let hash = hash.clone();
        storage
            .write(move |tx, _| {
                let code =
                    NewEnrollment { code_hash: &hash, user: "wang", created_ms: T0, expires_ms: T0 + 1_000 };
                tx.insert_enrollment(&code)?;
                let before = tx.enrollment(&hash)?;
                tx.insert_device(&NewDevice {
                    id: device,
                    user: "wang",
                    public_key: &[9; 32],
                    now: T0 + 10,
                })?;
                tx.use_enrollment(&hash, device, T0 + 10)?;
                Ok((before, tx.enrollment(&[2; 32])?))
            })
            .await
            .expect("an enrollment code is stored and used")
    };
    let unused = Enrollment { user: "wang".into(), expires_ms: T0 + 1_000, used_ms: None };
    assert_eq!(stored, (Some(unused.clone()), None), "a code reads back by its digest, unused");
    let used = storage.read(move |tx| Ok(tx.enrollment(&hash)?)).await.expect("the code reads");
    assert_eq!(
        used,
        Some(Enrollment { used_ms: Some(T0 + 10), ..unused }),
        "use_enrollment marks the code used"
    );

    let svc = &town.service;
    let code = svc.issue_enrollment(&Caller::Operator, "wang", 60_000).await.expect("a code is issued").code;
    let enroll = |code: &str, device: ActorId| {
        let request =
            EnrollRequest { code: code.into(), device, public_key: gridsync_proto::auth::b64(&[7; 32]) };
        svc.enroll(request)
    };
    let (first, second) = (ActorId::random(), ActorId::random());
    let enrolled = enroll(&code, first).await.expect("a fresh code enrolls a device");
    assert_eq!(enrolled.user.name, "wang", "the device is enrolled for the code's user");
    let again = enroll(&code, second).await.map(|_| ());
    assert_eq!(
        again.err().and_then(|e| e.code()),
        Some(ErrorCode::EnrollmentUsed),
        "a code enrolls one device"
    );
    let unknown = enroll("22222-33333-44444-55555", second).await.map(|_| ());
    assert_eq!(
        unknown.err().and_then(|e| e.code()),
        Some(ErrorCode::EnrollmentInvalid),
        "an unknown code enrolls none"
    );

    let stale = code_digest("EXPIR-EDCOD-E2345-67890");
    storage
        .write(move |tx, _| {
            let code = NewEnrollment { code_hash: &stale, user: "wang", created_ms: T0, expires_ms: T0 + 1 };
            Ok(tx.insert_enrollment(&code)?)
        })
        .await
        .expect("an old code is stored");
    let expired = enroll("EXPIR-EDCOD-E2345-67890", second).await.map(|_| ());
    assert_eq!(
        expired.err().and_then(|e| e.code()),
        Some(ErrorCode::EnrollmentExpired),
        "an expired code enrolls none"
    );

    let spare = svc.issue_enrollment(&Caller::Operator, "wang", 60_000).await.expect("a code is issued").code;
    let taken = enroll(&spare, first).await.map(|_| ());
    assert_eq!(
        taken.err().and_then(|e| e.code()),
        Some(ErrorCode::InvalidRequest),
        "a known device id is refused"
    );
    let digest = code_digest(&spare);
    let after = storage
        .read(move |tx| {
            Ok((
                tx.enrollment(&digest)?.and_then(|e| e.used_ms),
                tx.device_exists(second)?,
                tx.device_key(first)?,
                tx.device_user(first)?,
            ))
        })
        .await
        .expect("codes and devices read");
    let key = DeviceKey { public_key: vec![7; 32], user: "wang".into(), revoked: false, wipe: false };
    assert_eq!(
        after,
        (None, false, Some(key), Some("wang".into())),
        "refusals leave their code unused and no device"
    );
}

/// A session is found while live and not after it expires; purged sessions
/// are gone; a deleted session is gone; ending a user's sessions but one
/// ends exactly those.
pub async fn sessions_expire(storage: Arc<dyn Storage>) {
    storage
        .write(|tx, _| {
            tx.insert_user(&new_user("admin", Role::Administrator, "", Some("$argon2id$v=19$x")))?;
            for (token, expires_ms) in [([1u8; 32], T0 + 1_000), ([2; 32], T0 + 5_000)] {
                let session = NewSession { token_hash: &token, user: "admin", created_ms: T0, expires_ms };
                tx.insert_session(&session)?;
            }
            Ok(())
        })
        .await
        .expect("sessions are stored");
    let lookups = storage
        .read(|tx| {
            Ok([
                tx.session_user(&[1; 32], T0 + 500)?,
                tx.session_user(&[1; 32], T0 + 2_000)?,
                tx.session_user(&[3; 32], T0)?,
            ])
        })
        .await
        .expect("sessions read");
    assert_eq!(
        lookups,
        [Some("admin".into()), None, None],
        "a session is found while live only, and by its token"
    );
    storage.write(|tx, _| Ok(tx.purge_sessions(T0 + 2_000)?)).await.expect("expired sessions are purged");
    let lookups = storage
        .read(|tx| Ok([tx.session_user(&[1; 32], T0 + 500)?, tx.session_user(&[2; 32], T0 + 2_000)?]))
        .await
        .expect("sessions read");
    assert_eq!(lookups, [None, Some("admin".into())], "purging forgets expired sessions and keeps live ones");
    storage.write(|tx, _| Ok(tx.delete_session(&[2; 32])?)).await.expect("a session is deleted");
    let gone = storage.read(|tx| Ok(tx.session_user(&[2; 32], T0 + 2_000)?)).await.expect("sessions read");
    assert_eq!(gone, None, "a deleted session is gone");

    // Ending a user's sessions but one: theirs end, the kept one and other users' stay.
    let ended = storage
        .write(|tx, _| {
            tx.insert_user(&new_user("li", Role::TownshipAdmin, "", Some("$argon2id$v=19$y")))?;
            for (token, user) in
                [([4u8; 32], "admin"), ([5; 32], "admin"), ([6; 32], "admin"), ([7; 32], "li")]
            {
                let session = NewSession { token_hash: &token, user, created_ms: T0, expires_ms: T0 + 9_000 };
                tx.insert_session(&session)?;
            }
            let but_one = tx.end_sessions("admin", Some(&[5; 32]))?;
            let none_left = tx.end_sessions("admin", Some(&[5; 32]))?;
            Ok((but_one, none_left))
        })
        .await
        .expect("sessions end");
    assert_eq!(ended, (2, 0), "every session of the user but the kept one ends, once");
    let live = |token: u8| {
        let storage = storage.clone();
        async move { storage.read(move |tx| Ok(tx.session_user(&[token; 32], T0)?)).await.expect("reads") }
    };
    assert_eq!(
        (live(4).await, live(5).await, live(6).await, live(7).await),
        (None, Some("admin".into()), None, Some("li".into())),
        "the kept session and another user's stay"
    );
    let all = storage.write(|tx, _| Ok(tx.end_sessions("admin", None)?)).await.expect("sessions end");
    assert_eq!((all, live(5).await, live(7).await), (1, None, Some("li".into())), "None keeps none");
}

/// Devices are listed newest enrollment first with their pushes counted; a
/// revocation keeps its first time and may add a wipe order; deactivating a
/// user revokes their devices without wipe and ends their sessions.
pub async fn revocation_keeps_the_first_time_and_deactivation_revokes(storage: Arc<dyn Storage>) {
    let ids: Vec<ActorId> = (0..4).map(|_| ActorId::random()).collect();
    let unknown = ActorId::random();
    let (d1, d2, d3, d4) = (ids[0], ids[1], ids[2], ids[3]);
    storage
        .write(move |tx, _| {
            tx.insert_user(&new_user("wang", Role::Worker, "", None))?;
            tx.insert_user(&new_user("li", Role::Worker, "", Some("$argon2id$v=19$li")))?;
            for (i, (id, user)) in
                [(d1, "wang"), (d2, "wang"), (d3, "li"), (d4, "li")].into_iter().enumerate()
            {
                tx.insert_device(&NewDevice {
                    id,
                    user,
                    public_key: &[i as u8; 32],
                    now: T0 + i as u64 + 1,
                })?;
            }
            let session =
                NewSession { token_hash: &[4; 32], user: "li", created_ms: T0, expires_ms: T0 + 10_000 };
            tx.insert_session(&session)?;
            tx.note_push(d1, T0 + 10, 3)?;
            tx.note_push(d1, T0 + 20, 2)?;
            tx.note_push(unknown, T0 + 30, 1)?;
            Ok(())
        })
        .await
        .expect("users and devices are stored");
    let device = |id, user: &str, at: u64| Device {
        id,
        user: Some(user.into()),
        enrolled_ms: Some(T0 + at),
        revoked_ms: None,
        wipe: false,
        last_push_ms: None,
        changes: 0,
    };
    let listed = storage.read(|tx| Ok(tx.devices()?)).await.expect("devices read");
    let enrolled: Vec<Device> = listed.iter().filter(|d| d.id != unknown).cloned().collect();
    let pushed = Device { last_push_ms: Some(T0 + 20), changes: 5, ..device(d1, "wang", 1) };
    assert_eq!(
        enrolled,
        [device(d4, "li", 4), device(d3, "li", 3), device(d2, "wang", 2), pushed],
        "devices are listed newest enrollment first, with their pushes counted"
    );
    let seen = listed.iter().find(|d| d.id == unknown).cloned();
    let expected = Device {
        id: unknown,
        user: None,
        enrolled_ms: None,
        revoked_ms: None,
        wipe: false,
        last_push_ms: Some(T0 + 30),
        changes: 1,
    };
    assert_eq!(seen, Some(expected), "a device first seen pushing is created, with no user");
    let (exists, owner) = storage
        .read(move |tx| Ok((tx.device_exists(unknown)?, tx.device_user(unknown)?)))
        .await
        .expect("the device reads");
    assert!(exists && owner.is_none(), "a device seen pushing exists, with no user");

    let worker = |name: &str| Actor { user: name.into(), role: Role::Worker, place: None, unit: None };
    let users = storage.read(|tx| Ok(tx.device_users(None)?)).await.expect("device users read");
    let users: Vec<Actor> = users.iter().map(User::actor).collect();
    assert_eq!(
        users,
        [worker("li"), worker("wang")],
        "device_users lists each active user with a device once"
    );

    let answers = storage
        .write(move |tx, _| {
            Ok([
                tx.revoke_device(d1, T0 + 100, false)?,
                tx.revoke_device(d1, T0 + 200, true)?,
                tx.revoke_device(ActorId::random(), T0 + 200, false)?,
            ])
        })
        .await
        .expect("devices are revoked");
    assert_eq!(answers, [true, true, false], "revoke_device answers whether the device exists");
    let (listed, key) =
        storage.read(move |tx| Ok((tx.devices()?, tx.device_key(d1)?))).await.expect("devices read");
    let revoked = listed.iter().find(|d| d.id == d1).map(|d| (d.revoked_ms, d.wipe));
    assert_eq!(
        revoked,
        Some((Some(T0 + 100), true)),
        "a second revocation keeps the first time and adds the wipe order"
    );
    let key = key.expect("the revoked device's key reads");
    assert_eq!(
        (key.revoked, key.wipe, key.public_key),
        (true, true, vec![0; 32]),
        "authentication sees the revocation"
    );

    let deactivated = storage
        .write(|tx, _| Ok((tx.deactivate_user("li", T0 + 300)?, tx.deactivate_user("nobody", T0 + 300)?)))
        .await
        .expect("a user is deactivated");
    assert_eq!(
        deactivated,
        (Some(2), None),
        "deactivation counts the devices it revoked, and knows no unknown user"
    );
    let (li, hash, listed, keys, session, users, theirs) = storage
        .read(move |tx| {
            Ok((
                tx.user("li")?,
                tx.password_hash("li")?,
                tx.devices()?,
                [tx.device_key(d3)?, tx.device_key(d4)?],
                tx.session_user(&[4; 32], T0 + 400)?,
                tx.device_users(None)?,
                tx.device_users(Some("li"))?,
            ))
        })
        .await
        .expect("the deactivated user reads");
    assert_eq!(li.map(|u| u.active), Some(false), "a deactivated user is inactive");
    assert_eq!(
        hash.as_deref(),
        Some("$argon2id$v=19$li"),
        "a deactivated user's password hash is still readable"
    );
    for id in [d3, d4] {
        let revoked = listed.iter().find(|d| d.id == id).map(|d| (d.revoked_ms, d.wipe));
        assert_eq!(revoked, Some((Some(T0 + 300), false)), "deactivation revokes every device, without wipe");
    }
    assert!(
        keys.iter().all(|k| k.as_ref().is_some_and(|k| k.revoked && !k.wipe)),
        "authentication sees it: {keys:?}"
    );
    assert_eq!(session, None, "deactivation ends the user's sessions");
    let users: Vec<Actor> = users.iter().map(User::actor).collect();
    assert_eq!(users, [worker("wang")], "a deactivated user has no device user left");
    assert!(theirs.is_empty(), "and none by name");
}
