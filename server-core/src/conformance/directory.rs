//! The directory: its version, which moves with every change to places,
//! units or assignments and with nothing else, and the cache that every
//! service instance over the same storage keeps by that version.

use std::sync::Arc;

use gridsync_proto::{ErrorCode, Hierarchy, Level, Place, Role, Unit};

use super::fixture::{
    COUNTY, GRID_A, GRID_B, OTHER_TOWNSHIP, TOWNSHIP, Town, VILLAGE_A, VILLAGE_C, directory_version, place,
    places, service,
};
use crate::error::{CoreError, CoreResult};
use crate::service::Caller;
use crate::service::people::AddUser;
use crate::storage::{Storage, StorageExt};

const POLICE: &str = "PS-620802100";

/// Checks that `what` moved the directory version above `last`, and keeps the new one.
async fn moved(storage: &Arc<dyn Storage>, last: &mut u64, what: &str) {
    let now = directory_version(storage).await;
    assert!(now > *last, "{what} moves the directory version (still {now}, was {last})");
    *last = now;
}

/// Checks that a refused `what` answered `code` and left the version at `last`.
async fn unmoved<T: std::fmt::Debug>(
    storage: &Arc<dyn Storage>,
    last: u64,
    result: CoreResult<T>,
    code: ErrorCode,
    what: &str,
) {
    assert_eq!(result.as_ref().err().and_then(CoreError::code), Some(code), "{what} is refused: {result:?}");
    assert_eq!(directory_version(storage).await, last, "{what}, refused, leaves the directory version");
}

/// `bump_directory` moves the version to `max(version + 1, at_least)`, and
/// a failed job's bump is undone. Through the service, every place and unit
/// added or moved, every import and every user assignment strictly raises
/// the version; a refused change (unknown parent, place or unit) leaves it.
pub async fn directory_version_moves_with_every_change(storage: Arc<dyn Storage>) {
    let start = directory_version(&storage).await;
    let bumps =
        storage.write(move |tx, _| Ok((tx.bump_directory(0)?, tx.bump_directory(start + 1_000)?))).await;
    let (by_one, to_at_least) = bumps.expect("the directory version is bumped");
    assert_eq!(by_one, start + 1, "a bump with a lower at_least moves the version by one");
    assert_eq!(to_at_least, start + 1_000, "a bump with a higher at_least moves the version to it");
    assert_eq!(directory_version(&storage).await, start + 1_000, "the bumps are committed");
    let failed = storage
        .write(|tx, _| -> CoreResult<()> {
            tx.bump_directory(0)?;
            Err(CoreError::invalid("undone"))
        })
        .await;
    assert!(failed.is_err(), "the failing job fails");
    let mut version = directory_version(&storage).await;
    assert_eq!(version, start + 1_000, "a failed job's bump is undone");

    let svc = service(&storage);
    let op = &Caller::Operator;
    for place in places() {
        let code = place.code.clone();
        svc.add_place(op, place).await.expect("the operator adds a place");
        moved(&storage, &mut version, &format!("adding place {code}")).await;
    }
    let police = Unit {
        code: POLICE.into(),
        name: "崆峒派出所".into(),
        kind: "police".into(),
        place: TOWNSHIP.into(),
    };
    svc.add_unit(op, police).await.expect("the operator adds a unit");
    moved(&storage, &mut version, "adding a unit").await;
    let wang = AddUser {
        name: "wang".into(),
        role: Role::Worker,
        scope: Some(GRID_A.into()),
        unit: None,
        password: None,
    };
    svc.add_user(op, wang).await.expect("the operator adds a worker");
    version = directory_version(&storage).await;
    svc.assign_user(op, "wang", Some(GRID_B.into()), None).await.expect("the operator assigns the worker");
    moved(&storage, &mut version, "assigning a user").await;
    svc.move_place(op, GRID_B, Some(VILLAGE_A.into())).await.expect("the operator moves a grid");
    moved(&storage, &mut version, "moving a place").await;
    svc.move_unit(op, POLICE, COUNTY).await.expect("the operator moves a unit");
    moved(&storage, &mut version, "moving a unit").await;
    let csv = format!("code,name,level,parent\n{VILLAGE_C}-01,白水村第一网格,grid,{VILLAGE_C}\n");
    let summary = svc.import_places(op, csv).await.expect("the operator imports a places CSV");
    assert_eq!(summary.added, 1, "the import adds its place");
    moved(&storage, &mut version, "importing places").await;

    let orphan = place("620802199", "无名镇", Level::Township, Some("NOWHERE"));
    let refused = svc.add_place(op, orphan).await;
    unmoved(&storage, version, refused, ErrorCode::UnknownPlace, "adding a place under an unknown parent")
        .await;
    let refused = svc.move_place(op, GRID_A, Some("NOWHERE".into())).await;
    unmoved(&storage, version, refused, ErrorCode::UnknownPlace, "moving a place under an unknown parent")
        .await;
    let refused = svc.assign_user(op, "wang", Some("NOWHERE".into()), None).await;
    unmoved(&storage, version, refused, ErrorCode::UnknownPlace, "assigning a user to an unknown place")
        .await;
    let lost =
        Unit {
            code: "SFJ-X".into(), name: "司法所".into(), kind: "justice".into(), place: "NOWHERE".into()
        };
    let refused = svc.add_unit(op, lost).await;
    unmoved(&storage, version, refused, ErrorCode::UnknownPlace, "adding a unit at an unknown place").await;

    let (stored, units, user) = storage
        .read(|tx| Ok((tx.places()?, tx.units()?, tx.user("wang")?)))
        .await
        .expect("the directory reads");
    let parent = |code: &str| stored.iter().find(|p| p.code == code).map(|p| p.parent.clone());
    assert_eq!(stored.len(), places().len() + 1, "every place added is stored, and no refused one");
    assert_eq!(parent(GRID_B), Some(Some(VILLAGE_A.into())), "a moved place has its new parent");
    assert_eq!(parent(OTHER_TOWNSHIP), Some(Some(COUNTY.into())), "other places keep theirs");
    assert_eq!(
        parent(&format!("{VILLAGE_C}-01")),
        Some(Some(VILLAGE_C.into())),
        "an imported place is stored"
    );
    assert_eq!(units.len(), 1, "one unit is stored: {units:?}");
    assert_eq!(units[0].place, COUNTY, "a moved unit has its new place");
    assert_eq!(user.map(|u| u.scope), Some(GRID_B.into()), "an assigned user has their new scope");
}

/// Two services over one storage (two server processes, or the server and
/// the operator's command line): a change made through one is seen by the
/// other's directory cache at once, in listings, in the checks of a push
/// and in the scope of a pull.
pub async fn directory_cache_follows_other_services(storage: Arc<dyn Storage>) {
    let town = Town::new(storage.clone()).await;
    let other = service(&storage);
    let op = &Caller::Operator;
    let listed = other.list_places(op).await.expect("the other service lists places");
    assert_eq!(listed.len(), places().len(), "the other service sees every place");

    let new_grid = format!("{VILLAGE_A}-02");
    let grid = Place {
        code: new_grid.clone(),
        name: "崆峒村第二网格".into(),
        level: Level::Grid,
        parent: Some(VILLAGE_A.into()),
    };
    town.service.add_place(op, grid.clone()).await.expect("the first service adds a grid");
    let listed = other.list_places(op).await.expect("the other service lists places");
    assert!(listed.contains(&grid), "the other service's listing shows a place added elsewhere");

    town.user("zhen", Role::TownshipAdmin, TOWNSHIP).await;
    let mut zhen = town.device("zhen").await;
    zhen.pull_all(&other, 100).await;
    let mut xin = town.worker("xin", &new_grid).await;
    let (patrol, group) = xin.patrol(&new_grid);
    xin.push_ok(&other, vec![group]).await;
    let cache = other.directory().clone();
    let (version, dir) = storage.read(move |tx| Ok(cache.get(tx)?)).await.expect("the cache reads");
    assert_eq!(
        version,
        directory_version(&storage).await,
        "the other service's cache is at the stored version"
    );
    assert!(dir.place(&new_grid).is_some(), "the other service's cache holds the new grid");

    let pages = zhen.pull_all(&other, 100).await;
    let rebuilt: Vec<_> = pages.iter().flat_map(|p| p.rebuild.iter().copied()).collect();
    assert_eq!(rebuilt, [patrol], "the township admin pulls the new grid's record through the other service");
    town.service
        .move_place(op, &new_grid, Some(VILLAGE_C.into()))
        .await
        .expect("the first service moves the grid");
    let page = zhen.pull(&other, 100).await;
    assert_eq!(page.removed, [patrol], "the other service's pull follows a move made elsewhere");
    assert_eq!(
        page.profile.map(|p| p.version),
        Some(directory_version(&storage).await),
        "the profile sent carries the stored directory version"
    );
}
