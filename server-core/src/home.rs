//! Homes: the township each record and each device belongs to.
//!
//! A sharded backend (PostgreSQL distributed with Citus, see ADR 0013)
//! splits every table that grows with the work by one column, the
//! **township**, so that a push or a pull touches one township's rows. This
//! module says which township a row belongs to; the service passes it
//! through the storage seam, and a backend on one node (SQLite) may ignore
//! it.
//!
//! * A place's **bucket** is the township it lies in (the first place at
//!   township level or above on its way to the top: a township is its own
//!   bucket, and so is a county or a city). A place the directory does not
//!   know has the empty bucket.
//! * A record's **home** is the bucket of the one place it is filed under
//!   ([`gridsync_proto::access`]: a dispute's owner, a report's or a
//!   patrol's grid…). Every access row under a place key `p:X` therefore
//!   belongs to `bucket(X)`: a lookup of a place's records is routed to one
//!   township. A record's home moves when the place it is filed under moves
//!   (a dispute escalated to the county, a patrol's grid corrected) and
//!   when the directory moves that place into another township; the
//!   service then asks the backend to re-home its rows.
//! * A device's home is its user's: the bucket of their unit's place for
//!   department staff, of their scope otherwise (the empty bucket for the
//!   whole deployment). A user moved to another township keeps rows under
//!   the old home, which a backend that routes by home no longer finds: the
//!   device's next pull starts afresh, as after a restore.

use std::collections::BTreeMap;

use gridsync_proto::access::{self, Access, AccessKey};
use gridsync_proto::{Actor, Directory, Hierarchy, Level, RecordState};

/// The prefix of an encoded place key ([`AccessKey::encode`]).
const PLACE_KEY: &str = "p:";

/// The township `place` lies in: see the module doc. Empty for an unknown place.
pub fn bucket(dir: &Directory, place: &str) -> String {
    dir.chain(place)
        .into_iter()
        .find(|p| p.level.rank() >= Level::Township.rank())
        .map(|p| p.code.clone())
        .unwrap_or_default()
}

/// The place a record is filed under, if any.
pub fn filed_place(state: &RecordState) -> Option<String> {
    place_key(&access::access(state)).map(str::to_owned)
}

/// A record's home township (empty when it names no known place).
pub fn of_record(dir: &Directory, state: &RecordState) -> String {
    of_access(dir, &access::access(state))
}

/// The home township of a record whose access keys are `access`.
pub fn of_access(dir: &Directory, access: &Access) -> String {
    place_key(access).map(|p| bucket(dir, p)).unwrap_or_default()
}

/// The one place key among a record's access keys.
fn place_key(access: &Access) -> Option<&str> {
    access.keys.iter().find_map(|k| match k {
        AccessKey::Place(p) => Some(p.as_str()),
        _ => None,
    })
}

/// The home of the devices of `actor`.
pub fn of_actor(dir: &Directory, actor: &Actor) -> String {
    let place = match &actor.unit {
        Some(unit) => dir.unit(unit).map(|u| u.place.clone()),
        None => actor.place.clone(),
    };
    place.map(|p| bucket(dir, &p)).unwrap_or_default()
}

/// The township a lookup under an encoded access `key` may be routed to:
/// the bucket of a place key; `None` (every township) for unit and user
/// keys, whose records may lie anywhere.
pub fn of_key(dir: &Directory, key: &str) -> Option<String> {
    key.strip_prefix(PLACE_KEY).map(|place| bucket(dir, place))
}

/// The places whose bucket differs between `before` and `after` (a
/// directory change), with their bucket after it.
pub fn moved(before: &Directory, after: &Directory) -> BTreeMap<String, String> {
    after
        .places()
        .filter_map(|p| {
            let now = bucket(after, &p.code);
            (bucket(before, &p.code) != now).then(|| (p.code.clone(), now))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridsync_proto::Place;

    fn place(code: &str, level: Level, parent: Option<&str>) -> Place {
        Place { code: code.into(), name: code.into(), level, parent: parent.map(Into::into) }
    }

    fn sample() -> Directory {
        Directory::new(
            [
                place("C", Level::County, None),
                place("T1", Level::Township, Some("C")),
                place("T2", Level::Township, Some("C")),
                place("V1", Level::Village, Some("T1")),
                place("G1", Level::Grid, Some("V1")),
                place("G9", Level::Grid, Some("C")),
            ],
            [],
        )
    }

    #[test]
    fn a_place_belongs_to_the_township_above_it_or_to_itself_above_townships() {
        let dir = sample();
        assert_eq!(bucket(&dir, "G1"), "T1");
        assert_eq!(bucket(&dir, "V1"), "T1");
        assert_eq!(bucket(&dir, "T2"), "T2");
        assert_eq!(bucket(&dir, "C"), "C");
        assert_eq!(bucket(&dir, "G9"), "C", "a grid straight under a county");
        assert_eq!(bucket(&dir, "nowhere"), "");
        assert_eq!(of_key(&dir, "p:G1").as_deref(), Some("T1"));
        assert_eq!(of_key(&dir, "n:someone"), None);
    }

    #[test]
    fn a_village_moved_to_another_township_moves_its_grids_too() {
        let before = sample();
        let mut places: Vec<Place> = before.places().cloned().collect();
        for p in &mut places {
            if p.code == "V1" {
                p.parent = Some("T2".into());
            }
        }
        let after = Directory::new(places, []);
        let moved = moved(&before, &after);
        assert_eq!(
            moved.into_iter().collect::<Vec<_>>(),
            [("G1".to_owned(), "T2".to_owned()), ("V1".to_owned(), "T2".to_owned())]
        );
    }
}
