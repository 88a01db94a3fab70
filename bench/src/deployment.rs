//! The deployment every round runs against: one county, one township, four
//! villages and one grid per simulated device, one grid worker (网格员) per
//! grid, and a township administrator.
//!
//! ```text
//! 620802 崆峒区 (county)
//! └─ 620802101 崆峒镇 (township) ── user bench-township-admin (township_admin)
//!    ├─ 620802101001 大寨村 ── grids 620802101001-01 … -04, one worker each
//!    ├─ 620802101002 柳湖村 ── …
//!    ├─ 620802101003 新民村 ── …
//!    └─ 620802101004 太平村 ── …
//! ```
//!
//! The hierarchy and the users are written into a fresh server data
//! directory before the server starts, with the library functions the
//! operator's command line calls (`gridsync_server::operator::Operator`,
//! over the service layer), the way `tests/src/people.rs` sets up its
//! county. The workload generator checks every write against
//! the same places, as the worker's device checks it against its profile.

use std::sync::OnceLock;

use anyhow::Context;
use gridsync_proto::{Actor, Directory, Level, Place, Profile, Role};
use gridsync_server::Database;
use gridsync_server::operator::Operator;
use gridsync_server_core::service::ServiceSettings;

/// The county's code (崆峒区).
pub(crate) const COUNTY: &str = "620802";
/// The township's code (崆峒镇).
pub(crate) const TOWNSHIP: &str = "620802101";
/// The township administrator's user name (the (d) pull).
pub(crate) const TOWNSHIP_ADMIN: &str = "bench-township-admin";
/// Villages of the township.
const VILLAGES: [&str; 4] = ["大寨村", "柳湖村", "新民村", "太平村"];
/// Enrollment codes stay valid this long.
const CODE_TTL_MS: u64 = 3_600_000;

/// One grid and the worker assigned to it.
#[derive(Debug, Clone)]
pub(crate) struct Seat {
    /// The worker's user name: the author of every change they make.
    pub(crate) user: String,
    /// The grid's code.
    pub(crate) grid: String,
    /// The village's name, for addresses and places in free text.
    pub(crate) village: &'static str,
}

/// The places and the field users of one benchmark deployment.
#[derive(Debug, Clone)]
pub(crate) struct Deployment {
    /// County, township, villages and grids, parents first.
    pub(crate) places: Vec<Place>,
    /// One seat per simulated device.
    pub(crate) seats: Vec<Seat>,
    /// The directory of `places`, built once on first use (a city's has
    /// some 12,000 places, and every seat's profile is cut from it).
    directory: OnceLock<Directory>,
}

impl Deployment {
    /// A deployment with one grid (and one worker) per device, spread over
    /// the four villages.
    pub(crate) fn new(devices: usize) -> Self {
        let place = |code: &str, name: &str, level, parent: Option<&str>| Place {
            code: code.to_owned(),
            name: name.to_owned(),
            level,
            parent: parent.map(str::to_owned),
        };
        let mut places = vec![
            place(COUNTY, "崆峒区", Level::County, None),
            place(TOWNSHIP, "崆峒镇", Level::Township, Some(COUNTY)),
        ];
        let villages = VILLAGES.len().min(devices.max(1));
        for (v, name) in VILLAGES.iter().take(villages).enumerate() {
            places.push(place(&village_code(v), name, Level::Village, Some(TOWNSHIP)));
        }
        let mut seats = Vec::with_capacity(devices);
        for i in 0..devices {
            let (v, n) = (i % villages, i / villages + 1);
            let grid = format!("{}-{n:02}", village_code(v));
            places.push(place(
                &grid,
                &format!("{}第{n}网格", VILLAGES[v]),
                Level::Grid,
                Some(&village_code(v)),
            ));
            seats.push(Seat { user: user_name(i), grid, village: VILLAGES[v] });
        }
        Self::from_parts(places, seats)
    }

    /// A deployment of `places` (parents first) and `seats`.
    pub(crate) fn from_parts(places: Vec<Place>, seats: Vec<Seat>) -> Self {
        Self { places, seats, directory: OnceLock::new() }
    }

    /// The whole directory, as the server holds it.
    pub(crate) fn directory(&self) -> &Directory {
        self.directory.get_or_init(|| Directory::new(self.places.iter().cloned(), []))
    }

    /// The worker of `seat` as the rules see them.
    pub(crate) fn actor(seat: &Seat) -> Actor {
        Actor { user: seat.user.clone(), role: Role::Worker, place: Some(seat.grid.clone()), unit: None }
    }

    /// What the worker's device checks its writes against: the directory of
    /// the profile the server sends at enrollment (the grid's chain up to
    /// the county, and nothing of the other grids).
    pub(crate) fn device_directory(&self, seat: &Seat) -> Directory {
        Profile::for_actor(Self::actor(seat), self.directory(), 1).directory()
    }

    /// Writes the places, the workers and the township administrator into
    /// the (not yet served) `database`.
    pub(crate) fn install(&self, database: &Database) -> anyhow::Result<()> {
        let install = || -> anyhow::Result<()> {
            let op = Operator::open(database, ServiceSettings::default())?;
            for p in &self.places {
                op.add_place(p)?;
            }
            for seat in &self.seats {
                op.add_user(&seat.user, Role::Worker, Some(&seat.grid), None, None)?;
            }
            op.add_user(TOWNSHIP_ADMIN, Role::TownshipAdmin, Some(TOWNSHIP), None, None)?;
            Ok(())
        };
        install().context("cannot set up the benchmark's hierarchy and users")
    }
}

/// Issues a one-time enrollment code for `user` (as the admin CLI does).
pub(crate) fn enrollment_code(database: &Database, user: &str) -> anyhow::Result<String> {
    let issue = || {
        Operator::open(database, ServiceSettings::default())?.issue_code(
            user,
            CODE_TTL_MS,
            "http://127.0.0.1",
        )
    };
    Ok(issue().with_context(|| format!("cannot issue an enrollment code for {user}"))?.code)
}

fn village_code(v: usize) -> String {
    format!("{TOWNSHIP}{:03}", v + 1)
}

/// A login name in pinyin, as township offices assign them (`wangjianguo01`).
pub(crate) fn user_name(i: usize) -> String {
    const SURNAMES: [&str; 8] = ["wang", "li", "zhang", "liu", "chen", "yang", "zhao", "ma"];
    const GIVEN: [&str; 6] = ["jianguo", "xiuying", "wei", "guilan", "zhiqiang", "yan"];
    format!("{}{}{:02}", SURNAMES[i % SURNAMES.len()], GIVEN[(i / SURNAMES.len()) % GIVEN.len()], i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridsync_proto::Hierarchy;

    #[test]
    fn sixteen_grids_under_four_villages() {
        let d = Deployment::new(16);
        assert_eq!(d.places.len(), 2 + 4 + 16);
        assert!(d.directory().check().is_ok());
        let grids: std::collections::BTreeSet<&str> = d.seats.iter().map(|s| s.grid.as_str()).collect();
        assert_eq!(grids.len(), 16);
        let users: std::collections::BTreeSet<&str> = d.seats.iter().map(|s| s.user.as_str()).collect();
        assert_eq!(users.len(), 16);
        let dir = d.device_directory(&d.seats[5]);
        assert!(dir.is_within(&d.seats[5].grid, Some(TOWNSHIP)));
        assert!(dir.place(&d.seats[6].grid).is_none());
    }
}
