//! `gridsync-server --data DIR demo` (or `--database URL demo`): fills an
//! empty database with a realistic township to try the product: a county, a
//! township, its villages and grids, departments, staff and grid workers
//! with enrolled devices, and a month of their work: two patrols and five
//! visits a day, the daily report (mostly on time, some late, some
//! missing), base information on households, and disputes found on the
//! rounds, mediated, resolved or escalated to the village and the township,
//! some transferred to a department and closed by the centre, some still
//! open.
//!
//! The month ends yesterday. Every change goes through the server's own ingest, with the record rules
//! and the indexes that live data gets, so what the demo makes is what
//! devices pull and what the reports count.

mod town;
mod work;

use std::path::Path;

use anyhow::bail;
use gridsync_proto::auth::{self, EnrollRequest};
use gridsync_proto::{Actor, ActorId, Role};
use gridsync_server_core::directory;
use gridsync_server_core::passwords;
use gridsync_server_core::service::ServiceSettings;
use gridsync_server_core::storage::StorageExt;

use crate::backend::Database;
use crate::operator::Operator;

/// How big a demo to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOptions {
    /// Days of work, ending today.
    pub days: u32,
    /// Villages in the township.
    pub villages: usize,
    /// Grids per village.
    pub grids: usize,
    /// Seed of the generator (the same seed makes the same township).
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { days: 30, villages: 6, grids: 3, seed: 20_261_201 }
    }
}

/// What the demo made, and how to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// Places made.
    pub places: usize,
    /// Departments made.
    pub units: usize,
    /// Users made (each with one enrolled device, except the administrator).
    pub users: usize,
    /// Records made.
    pub records: u64,
    /// Changes made.
    pub changes: u64,
    /// Disputes registered, and how many of them are closed.
    pub disputes: (u64, u64),
    /// The township's code, for reports.
    pub township: String,
    /// The administrator's user name and one-time password.
    pub admin: (String, String),
    /// The township centre's user name and one-time password.
    pub centre: (String, String),
}

/// A user of the demo and the device they work on.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub(crate) actor: Actor,
    pub(crate) device: ActorId,
}

/// Fills the embedded database in `data` (which must hold no hierarchy
/// yet) with a demo township.
pub fn fill(data: &Path, options: &DemoOptions) -> anyhow::Result<DemoSummary> {
    fill_database(&Database::Embedded { data_dir: data.to_owned() }, options)
}

/// Fills `database` (the embedded one or PostgreSQL; it must hold no
/// hierarchy yet) with a demo township.
pub fn fill_database(database: &Database, options: &DemoOptions) -> anyhow::Result<DemoSummary> {
    if options.days == 0 || options.villages == 0 || options.grids == 0 {
        bail!("a demo needs at least one day, one village and one grid");
    }
    let op = Operator::open(database, ServiceSettings::default())?;
    if !op.list_places()?.is_empty() {
        bail!("the database already has places: the demo fills only an empty one");
    }
    let places = town::places(options.villages, options.grids);
    let units = town::units();
    for place in &places {
        op.add_place(place)?;
    }
    for unit in &units {
        op.add_unit(unit)?;
    }
    let admin_password = op.create_admin("admin", None)?.unwrap_or_default();
    let centre_password = passwords::generate()?;
    let mut people = Vec::new();
    let mut add = |name: String, role: Role, place: &str, unit: Option<&str>, password: Option<String>| {
        let scope = unit.is_none().then_some(place);
        op.add_user(&name, role, scope, unit, password)?;
        let device = ActorId::random();
        let code = op.issue_code(&name, 60_000, "http://127.0.0.1:8080")?.code;
        // A stand-in key: demo devices never sync, but they are enrolled
        // devices like any other, listed and revocable.
        let request =
            EnrollRequest { code, device, public_key: auth::b64(device.as_bytes().repeat(2).as_slice()) };
        let user = op.run(op.service().enroll(request))?.user;
        people.push(Person { actor: user.actor(), device });
        anyhow::Ok(())
    };
    add("城关镇综治中心".into(), Role::TownshipAdmin, town::TOWNSHIP, None, Some(centre_password.clone()))?;
    add("城关派出所 民警".into(), Role::Department, "", Some(town::POLICE), None)?;
    add("城关司法所 调解员".into(), Role::Department, "", Some(town::JUSTICE), None)?;
    add("区住建局 专员".into(), Role::Department, "", Some(town::HOUSING), None)?;
    let mut n = options.seed;
    for v in 0..options.villages {
        add(format!("{} 村委会", town::village_name(v)), Role::Worker, &town::village(v), None, None)?;
        for g in 0..options.grids {
            n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            // Grid workers are told apart by their grid, names may repeat.
            let name = format!("网格员 {} {}{}", town::person(n >> 33, n >> 17), v + 1, g + 1);
            add(name, Role::Worker, &town::grid(v, g), None, None)?;
        }
    }
    let dir = op.run(op.service().storage().read(|tx| Ok(directory::load(tx)?)))?;
    let made = op.block_on(async {
        let mut world = work::World::new(&people, dir, options, op.service());
        world.run().await
    });
    let made = made?;
    Ok(DemoSummary {
        places: places.len(),
        units: units.len(),
        users: people.len() + 1,
        records: made.records,
        changes: made.changes,
        disputes: (made.disputes, made.closed),
        township: town::TOWNSHIP.to_owned(),
        admin: ("admin".into(), admin_password),
        centre: ("城关镇综治中心".into(), centre_password),
    })
}
