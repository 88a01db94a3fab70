//! The town every fuzz case starts from, set up through the service as the
//! operator would: a county with two townships, three villages and two
//! grids; a police station; grid workers, a department user and
//! administrators; and enrolled devices with fixed ids, so that an input
//! names the same devices and records in every run.

use gridsync_proto::auth::b64;
use gridsync_proto::{ActorId, Date, EnrollRequest, Level, Place, RecordId, Role, Unit, daily_report_id};

use crate::service::people::AddUser;
use crate::service::{Caller, Service};

/// The county.
pub const COUNTY: &str = "620802";
/// The first township (the workers' and the township admin's).
pub const TOWNSHIP: &str = "620802100";
/// The second township.
pub const OTHER_TOWNSHIP: &str = "620802101";
/// A village of the first township.
pub const VILLAGE_A: &str = "620802100201";
/// Another village of the first township.
pub const VILLAGE_B: &str = "620802100202";
/// The second township's village.
pub const VILLAGE_C: &str = "620802101201";
/// The grid of [`VILLAGE_A`] (worker `wang`).
pub const GRID_A: &str = "620802100201-01";
/// The grid of [`VILLAGE_B`] (worker `li`).
pub const GRID_B: &str = "620802100202-01";
/// The first township's police station.
pub const POLICE: &str = "U-620802100-POLICE";

/// Every place of the town, parents first.
pub const PLACES: [(&str, Level, Option<&str>); 8] = [
    (COUNTY, Level::County, None),
    (TOWNSHIP, Level::Township, Some(COUNTY)),
    (OTHER_TOWNSHIP, Level::Township, Some(COUNTY)),
    (VILLAGE_A, Level::Village, Some(TOWNSHIP)),
    (VILLAGE_B, Level::Village, Some(TOWNSHIP)),
    (VILLAGE_C, Level::Village, Some(OTHER_TOWNSHIP)),
    (GRID_A, Level::Grid, Some(VILLAGE_A)),
    (GRID_B, Level::Grid, Some(VILLAGE_B)),
];

/// The users: name, role, place (or unit, for the department user).
pub const USERS: [(&str, Role, &str); 6] = [
    ("wang", Role::Worker, GRID_A),
    ("li", Role::Worker, GRID_B),
    ("zhou", Role::Department, POLICE),
    ("chen", Role::TownshipAdmin, TOWNSHIP),
    ("sun", Role::CountyAdmin, COUNTY),
    ("qian", Role::Auditor, COUNTY),
];

/// The enrolled devices and their users: `wang` has two handsets.
pub const DEVICES: [(ActorId, &str); 5] = [
    (ActorId::from_bytes([1; 16]), "wang"),
    (ActorId::from_bytes([2; 16]), "wang"),
    (ActorId::from_bytes([3; 16]), "li"),
    (ActorId::from_bytes([4; 16]), "zhou"),
    (ActorId::from_bytes([5; 16]), "chen"),
];

/// The day the daily reports of [`records`] are for.
pub const REPORT_DAY: &str = "2026-12-01";

/// The records the cases write to: four of every kind the fuzzer picks,
/// and the daily reports of both workers for [`REPORT_DAY`] (whose ids the
/// rules derive from worker and day).
pub fn records() -> Vec<RecordId> {
    let day: Date = REPORT_DAY.parse().expect("a valid date");
    let mut ids: Vec<RecordId> = (1..=4u8).map(fixed_record).collect();
    ids.push(daily_report_id("wang", day));
    ids.push(daily_report_id("li", day));
    ids
}

/// A record id of the version 7 layout, made at a fixed time.
fn fixed_record(n: u8) -> RecordId {
    let mut bytes = [n; 16];
    bytes[..6].copy_from_slice(&1_796_000_000_000u64.to_be_bytes()[2..]);
    bytes[6] = 0x70;
    bytes[8] = 0x80;
    RecordId::from_bytes(bytes)
}

/// Sets the town up in an empty store.
pub async fn build(service: &Service) {
    let op = &Caller::Operator;
    for (code, level, parent) in PLACES {
        let place =
            Place { code: code.into(), name: format!("{code} 名"), level, parent: parent.map(Into::into) };
        service.add_place(op, place).await.unwrap_or_else(|e| panic!("place {code}: {e}"));
    }
    let police = Unit {
        code: POLICE.into(),
        name: "城关派出所".into(),
        kind: "police".into(),
        place: TOWNSHIP.into(),
    };
    service.add_unit(op, police).await.expect("the police station");
    for (name, role, at) in USERS {
        let (scope, unit) =
            if role == Role::Department { (None, Some(at.into())) } else { (Some(at.into()), None) };
        let new = AddUser { name: name.into(), role, scope, unit, password: None };
        service.add_user(op, new).await.unwrap_or_else(|e| panic!("user {name}: {e}"));
    }
    for (device, user) in DEVICES {
        let code = service.issue_enrollment(op, user, 60 * 60 * 1000).await.expect("an enrollment code").code;
        let request = EnrollRequest { code, device, public_key: b64(&[7; 32]) };
        service.enroll(request).await.unwrap_or_else(|e| panic!("a device of {user}: {e}"));
    }
}
