//! The CSV importer of places and units against a real store: the input's
//! first byte picks the file (places or units) and who imports it (the
//! operator, the county admin, the township admin, or a worker, who may
//! not), the rest is the file, as the admin API and the operator's command
//! line hand it over (UTF-8 text).
//!
//! An import is all or nothing ([`run`]):
//! * refused: with a code, never a storage failure, and nothing changed:
//!   places, units, users and the directory version are as they were;
//! * accepted: the directory still passes [`Directory::check`], holds
//!   every place or unit it held (imports add and update, never remove),
//!   gained exactly the `added` ones, and its version moved iff something
//!   was added or updated.
//!
//! Either way, the audit chain is intact.

use gridsync_proto::{Directory, Hierarchy};

use super::town;
use crate::audit::Verdict;
use crate::directory;
use crate::error::CoreError;
use crate::service::places::ImportSummary;
use crate::service::{Caller, Service};
use crate::storage::{StorageExt, User};

/// One import.
#[derive(Debug)]
pub struct Case {
    units: bool,
    /// An importer from [`town::USERS`], or the operator.
    importer: Option<&'static str>,
    csv: String,
}

impl Case {
    /// The case the fuzzer's bytes make (`None`: not UTF-8 after the first byte).
    pub fn from_bytes(data: &[u8]) -> Option<Self> {
        let (&how, rest) = data.split_first()?;
        let csv = std::str::from_utf8(rest).ok()?.to_owned();
        let importer = match (how >> 1) % 4 {
            0 => None,
            1 => Some("sun"),
            2 => Some("chen"),
            _ => Some("wang"),
        };
        Some(Case { units: how & 1 == 1, importer, csv })
    }
}

/// What the import may change.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    version: u64,
    directory: Directory,
    users: Vec<User>,
}

async fn snapshot(service: &Service) -> Snapshot {
    service
        .storage()
        .read(|tx| {
            let version = tx.directory_version()?;
            let directory = directory::load(tx)?;
            let users = tx.users()?;
            Ok(Snapshot { version, directory, users })
        })
        .await
        .unwrap_or_else(|e| panic!("the store reads: {e}"))
}

/// Runs one import and checks it (see the module doc).
pub async fn run(service: Service, case: Case) {
    let caller = match case.importer {
        None => Caller::Operator,
        Some(name) => {
            let name = name.to_owned();
            let user = service.storage().read(move |tx| Ok(tx.user(&name)?)).await.expect("the store reads");
            Caller::Staff(user.expect("a user of the town"))
        }
    };
    let before = snapshot(&service).await;
    let answer = if case.units {
        service.import_units(&caller, case.csv).await
    } else {
        service.import_places(&caller, case.csv).await
    };
    let after = snapshot(&service).await;
    match answer {
        Err(CoreError::Refused(refusal)) => {
            assert_eq!(after, before, "a refused import ({}) changes nothing", refusal.code);
        }
        Err(CoreError::Storage(e)) => panic!("an import ends in a storage failure: {e}"),
        Ok(summary) => accepted(case.units, &summary, &before, &after),
    }
    match service.verify_audit(&Caller::Operator).await {
        Ok(Verdict::Intact { .. }) => {}
        other => panic!("the audit chain is intact after an import: {other:?}"),
    }
    assert!(town::PLACES.len() <= before.directory.place_count());
}

fn accepted(units: bool, summary: &ImportSummary, before: &Snapshot, after: &Snapshot) {
    after.directory.check().unwrap_or_else(|e| panic!("an accepted import leaves a valid directory: {e}"));
    let (was, is) = if units {
        (codes(before.directory.units().map(|u| &u.code)), codes(after.directory.units().map(|u| &u.code)))
    } else {
        (codes(before.directory.places().map(|p| &p.code)), codes(after.directory.places().map(|p| &p.code)))
    };
    assert!(was.iter().all(|c| is.contains(c)), "an import removes nothing");
    assert_eq!(is.len() - was.len(), summary.added as usize, "an import adds what it says");
    let changed = summary.added + summary.updated > 0;
    assert_eq!(after.version != before.version, changed, "the version moves iff the directory changed");
    if !changed {
        assert_eq!(after.directory, before.directory, "an import that changes nothing changes nothing");
    }
    for user in &after.users {
        if let Some(unit) = &user.unit {
            let unit = after.directory.unit(unit).expect("a department user's unit exists");
            assert_eq!(user.scope, unit.place, "a department user's scope follows their unit");
        }
    }
}

fn codes<'a>(codes: impl Iterator<Item = &'a String>) -> Vec<&'a String> {
    codes.collect()
}

/// Import files for the seed corpus: `(file name, first byte and CSV)`.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let with = |how: u8, csv: &str| [&[how][..], csv.as_bytes()].concat();
    vec![
        (
            "places-operator",
            with(
                0,
                "code,name,level,parent\n620802102,新镇,township,620802\n620802102201,新村,village,620802102\n\
                 620802102201-01,新村第一网格,grid,620802102201\n",
            ),
        ),
        ("places-bom-chinese", with(0, "\u{feff}code,name,level,parent\n620802103,东镇,镇,620802\n")),
        (
            "places-move",
            with(4, "code,name,level,parent\n620802100202-01,太统村第一网格,grid,620802100201\n"),
        ),
        ("places-outside", with(4, "code,name,level,parent\n620802101202,外村,village,620802101\n")),
        ("places-quoted", with(2, "CODE,Name,Level,Parent\n\"620802104\",\"西镇, 新\",township,620802\n")),
        ("places-bad", with(0, "code,name,level,parent\n620802105,x,hamlet,620802\n620802105,y\n")),
        ("units-operator", with(1, "code,name,kind,place\nU-620802100-JUSTICE,司法所,justice,620802100\n")),
        ("units-move", with(5, "code,name,kind,place\nU-620802100-POLICE,城关派出所,police,620802101\n")),
        ("units-worker", with(7, "code,name,kind,place\nU-X,x,police,620802100\n")),
    ]
}
