//! What the handset tests share: a small hierarchy, profiles cut from it,
//! and an enrollment that needs no server.

#![allow(dead_code, unreachable_pub)]

use gridsync_client_core::{Error, Request, Store, StoreKey, Transport};
use gridsync_proto::{Actor, Directory, EnrollResponse, Level, Place, Profile, Role, Unit};

/// The grid the tests' worker works in.
pub const GRID: &str = "530102001-01";
/// Another grid of the same village.
pub const OTHER_GRID: &str = "530102001-02";
/// The village.
pub const VILLAGE: &str = "530102001";
/// The township.
pub const TOWNSHIP: &str = "530102";

fn place(code: &str, name: &str, level: Level, parent: Option<&str>) -> Place {
    Place { code: code.into(), name: name.into(), level, parent: parent.map(Into::into) }
}

/// County 5301 → township 530102 → village 530102001 → two grids.
pub fn directory() -> Directory {
    Directory::new(
        [
            place("5301", "崆峒区", Level::County, None),
            place(TOWNSHIP, "城关镇", Level::Township, Some("5301")),
            place(VILLAGE, "东关村", Level::Village, Some(TOWNSHIP)),
            place(GRID, "东关村第一网格", Level::Grid, Some(VILLAGE)),
            place(OTHER_GRID, "东关村第二网格", Level::Grid, Some(VILLAGE)),
        ],
        [Unit {
            code: "U-POLICE".into(),
            name: "城关派出所".into(),
            kind: "police".into(),
            place: TOWNSHIP.into(),
        }],
    )
}

/// The profile of `user` with `role` at `place`.
pub fn profile(user: &str, role: Role, place: &str) -> Profile {
    let actor = Actor { user: user.into(), role, place: Some(place.into()), unit: None };
    Profile::for_actor(actor, &directory(), 1)
}

/// Enrolls a store as `profile`'s user, as a real server would for a code
/// issued to that user.
pub fn enroll_as(store: &mut Store, profile: Profile) {
    struct Enroller(Profile);
    impl Transport for Enroller {
        fn send(&self, request: Request) -> Result<Vec<u8>, Error> {
            assert_eq!(request.path, "/v1/enroll");
            let answer = EnrollResponse {
                user: self.0.actor.user.clone(),
                role: self.0.actor.role,
                scope: self.0.actor.place.clone().unwrap_or_default(),
                server_time_ms: 1_800_000_000_000,
                profile: Some(self.0.clone()),
            };
            Ok(serde_json::to_vec(&answer).expect("json"))
        }
    }
    store.enroll(&Enroller(profile), "CODE").expect("enroll");
}

/// Enrolls a store as the worker it names, in [`GRID`].
pub fn enroll(store: &mut Store) {
    let user = store.author().to_owned();
    enroll_as(store, profile(&user, Role::Worker, GRID));
}

/// A new store at `path`, enrolled as the worker `author` in [`GRID`].
pub fn enrolled_store(path: &std::path::Path, author: &str, key: &StoreKey) -> Store {
    let mut store = Store::init(path, "http://127.0.0.1:1", author, key).expect("init");
    enroll(&mut store);
    store
}
