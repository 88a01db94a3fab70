//! Places and units through the service layer, on the real SQLite backend:
//! parents and levels, moves that change only a parent, units and their
//! users, the per-device record budget, and CSV imports (line-numbered
//! refusals, all or nothing, limited to an importer's subtree). (The unit
//! tests of the old `hierarchy` and `hierarchy::import` modules, ported.)

mod common;

use common::{
    Fixture, add_place, add_user, audit_detail, audit_rows, code_of, county, load, place, records_at,
    refusal, run, sqlite, user, version, with_device,
};
use gridsync_proto::{ErrorCode, Hierarchy, Level, Role, Unit};
use gridsync_server_core::clock::now_ms;
use gridsync_server_core::policy::scope::ScopeSettings;
use gridsync_server_core::service::places::ImportSummary;
use gridsync_server_core::service::{Caller, ServiceSettings};
use gridsync_server_core::storage::User;
use gridsync_server_core::{CoreResult, Service};

const OP: &Caller = &Caller::Operator;

fn budget(budget: u32) -> ServiceSettings {
    ServiceSettings {
        scope: ScopeSettings { budget, ..ScopeSettings::default() },
        ..ServiceSettings::default()
    }
}

fn moved_ms(f: &Fixture, code: &str) -> Option<i64> {
    sqlite(&f.data)
        .query_row("SELECT moved_ms FROM places WHERE code = ?1", [code], |r| r.get(0))
        .expect("row")
}

#[test]
fn places_need_a_known_parent_of_a_higher_level() {
    let f = Fixture::new();
    let op = &f.op;
    let v0 = version(op);
    county(op);
    assert!(version(op) > v0, "every add bumps the version");
    let (code, msg) = refusal(add_place(op, place("G9", Level::Grid, Some("V9"))));
    assert_eq!(code, ErrorCode::UnknownPlace);
    assert!(msg.contains("G9") && msg.contains("V9"), "{msg}");
    let (code, msg) = refusal(add_place(op, place("G9", Level::Grid, Some("G1"))));
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(msg.contains("a grid cannot sit under a grid"), "{msg}");
    assert_eq!(
        code_of(add_place(op, place("G1", Level::Grid, Some("V1")))),
        ErrorCode::InvalidRequest,
        "twice"
    );
    assert_eq!(
        code_of(add_place(op, place("G 9", Level::Grid, Some("V1")))),
        ErrorCode::InvalidRequest,
        "code"
    );
    let mut nameless = place("G9", Level::Grid, Some("V1"));
    nameless.name = " ".into();
    assert_eq!(code_of(add_place(op, nameless)), ErrorCode::InvalidRequest, "name");
    assert_eq!(run(op, op.service().list_places(OP)).expect("list").len(), 8);
    assert_eq!(audit_detail(op, "place.add")[6], "G1 level=grid parent=V1");
}

#[test]
fn moving_a_grid_changes_only_its_parent() {
    let f = Fixture::new();
    let (op, svc) = (&f.op, f.op.service());
    county(op);
    let v0 = version(op);
    let before = now_ms() as i64;
    let moved = run(op, svc.move_place(OP, "G2", Some("V3".into()))).expect("move");
    let after = now_ms() as i64;
    assert_eq!(moved.parent.as_deref(), Some("V3"));
    let dir = load(op);
    assert!(dir.is_within("G2", Some("V3")) && !dir.is_within("G2", Some("V2")));
    // The move is noted at the time of its transaction.
    let noted = moved_ms(&f, "G2").expect("noted");
    assert!((before..=after).contains(&noted), "{before} <= {noted} <= {after}");
    let v1 = version(op);
    assert!(v1 > v0);
    assert_eq!(audit_detail(op, "place.move"), ["G2 from=V2 to=V3"]);
    // The same parent again changes nothing; levels must still rise.
    run(op, svc.move_place(OP, "G2", Some("V3".into()))).expect("no-op");
    assert_eq!(version(op), v1);
    assert_eq!(moved_ms(&f, "G2"), Some(noted));
    let refused = |code: &str, parent: &str| code_of(run(op, svc.move_place(OP, code, Some(parent.into()))));
    assert_eq!(refused("V1", "G1"), ErrorCode::InvalidRequest, "a village under its own grid");
    assert_eq!(refused("T1", "V2"), ErrorCode::InvalidRequest);
    assert_eq!(refused("G1", "nowhere"), ErrorCode::UnknownPlace);
    assert_eq!(refused("nowhere", "V1"), ErrorCode::UnknownPlace);
    run(op, svc.move_place(OP, "T1", None)).expect("a township may sit at the top");
}

#[test]
fn a_unit_moves_with_its_users() {
    let f = Fixture::new();
    let (op, svc) = (&f.op, f.op.service());
    for p in [place("T1", Level::Township, None), place("T2", Level::Township, None)] {
        add_place(op, p).expect("place");
    }
    let unit =
        Unit { code: "U1".into(), name: "派出所".into(), kind: "police".into(), place: "T1".into() };
    run(op, svc.add_unit(OP, unit)).expect("unit");
    add_user(op, "cop", Role::Department, None, Some("U1"), None).expect("user");
    let moved = run(op, svc.move_unit(OP, "U1", "T2")).expect("move");
    assert_eq!(moved.place, "T2");
    assert_eq!(user(op, "cop").expect("user").scope, "T2", "the user follows the unit");
    assert!(
        run(op, svc.move_unit(OP, "U1", "nowhere")).is_err()
            && run(op, svc.move_unit(OP, "U9", "T1")).is_err()
    );
    assert_eq!(audit_detail(op, "unit.move"), ["U1 from=T1 to=T2 users_moved=1"]);
}

#[test]
fn units_sit_at_known_places() {
    let f = Fixture::new();
    let (op, svc) = (&f.op, f.op.service());
    county(op);
    let unit = |code: &str, kind: &str, place: &str| Unit {
        code: code.into(),
        name: "城关派出所".into(),
        kind: kind.into(),
        place: place.into(),
    };
    let add = |u: Unit| run(op, svc.add_unit(OP, u));
    add(unit("U1", "police", "T1")).expect("unit");
    assert_eq!(code_of(add(unit("U2", "police", "T9"))), ErrorCode::UnknownPlace, "place");
    assert_eq!(code_of(add(unit("U1", "police", "T1"))), ErrorCode::InvalidRequest, "twice");
    assert_eq!(code_of(add(unit("T2", "police", "T1"))), ErrorCode::InvalidRequest, "a place");
    assert_eq!(code_of(add(unit("U3", "", "T1"))), ErrorCode::InvalidRequest, "kind");
    assert_eq!(run(op, svc.list_units(OP)).expect("list"), [unit("U1", "police", "T1")]);
    assert_eq!("镇".parse::<Level>(), Ok(Level::Township));
    assert_eq!("Grid".parse::<Level>(), Ok(Level::Grid));
    assert!("hamlet".parse::<Level>().is_err());
}

#[test]
fn changes_that_overfill_a_device_are_refused_with_counts_only() {
    let f = Fixture::with(budget(2));
    let (op, svc) = (&f.op, f.op.service());
    // The records were last active ten seconds ago.
    let active = now_ms() - 10_000;
    county(op);
    records_at(op, "G1", 1, active);
    records_at(op, "G2", 3, active);
    with_device(op, "wang", Role::TownshipAdmin, "T1");
    let li = with_device(op, "li", Role::Worker, "G1");
    // The county admin's device is over budget already: changes that
    // give it nothing new are not refused for it.
    with_device(op, "zhou", Role::CountyAdmin, "C");

    let (code, msg) = refusal(run(op, svc.move_place(OP, "G2", Some("V1".into()))));
    assert_eq!(code, ErrorCode::OverBudget);
    assert!(msg.contains("4 records") && msg.contains("1 user(s)") && msg.contains("budget of 2"), "{msg}");
    assert!(msg.contains("device_record_budget") && !msg.contains("wang"), "{msg}");
    assert!(load(op).is_within("G2", Some("V2")), "rolled back");
    run(op, svc.move_place(OP, "G2", Some("V3".into()))).expect("within the same township");

    let (code, msg) = refusal(run(op, svc.assign_user(OP, "li", Some("V3".into()), None)));
    assert_eq!(code, ErrorCode::OverBudget);
    assert!(msg.contains("3 records") && !msg.contains("li"), "{msg}");
    assert_eq!(user(op, "li").expect("li").scope, "G1", "rolled back");
    // A revoked device holds nothing.
    run(op, svc.revoke_device(OP, li, false)).expect("revoke");
    run(op, svc.assign_user(OP, "li", Some("V3".into()), None)).expect("no live device");
    // Old records fall out of the window: ten seconds is too old for a
    // window of one.
    let tight = ServiceSettings {
        scope: ScopeSettings { budget: 2, window_ms: 1_000 },
        ..ServiceSettings::default()
    };
    let tight = Service::new(svc.storage().clone(), tight);
    run(op, tight.move_place(OP, "G2", Some("V1".into()))).expect("nothing recent");
}

// The CSV imports.

const HEADER: &str = "code,name,level,parent\n";

fn import(f: &Fixture, text: &str) -> CoreResult<ImportSummary> {
    run(&f.op, f.op.service().import_places(OP, text.to_owned()))
}

fn import_units(f: &Fixture, caller: &Caller, text: &str) -> CoreResult<ImportSummary> {
    run(&f.op, f.op.service().import_units(caller, text.to_owned()))
}

/// A township admin of T1: an importer limited to T1's subtree.
fn township_admin(f: &Fixture) -> Caller {
    let wang: User = add_user(&f.op, "wang", Role::TownshipAdmin, Some("T1"), None, None).expect("wang");
    Caller::Staff(wang)
}

#[test]
fn rows_come_in_any_order_and_update_what_exists() {
    let f = Fixture::new();
    let op = &f.op;
    let text = "\u{feff}Code,Name,Level,Parent\n\
                530102001-01,第一网格,grid,530102001\n\
                \n\
                530102001,东门村,村,530102\n\
                \"530102\",\"城关镇, 老城\",township,5301\n\
                5301 , 某县 , county ,\n";
    let summary = import(&f, text).expect("import");
    assert_eq!(summary, ImportSummary { added: 4, updated: 0, unchanged: 0 });
    let dir = load(op);
    assert!(dir.is_within("530102001-01", Some("5301")));
    assert_eq!(dir.place("530102").map(|p| p.name.as_str()), Some("城关镇, 老城"));
    assert_eq!(dir.place("5301").map(|p| p.parent.clone()), Some(None));

    // Again, with a rename and a new village the grid moves to.
    let v = version(op);
    let text = format!(
        "{HEADER}5301,某县,county,\n530102,城关镇,township,5301\n530102001,东门村,village,530102\n\
         530102002,西门村,village,530102\n530102001-01,第一网格,grid,530102002\n"
    );
    assert_eq!(import(&f, &text).expect("again"), ImportSummary { added: 1, updated: 2, unchanged: 2 });
    let dir = load(op);
    assert!(dir.is_within("530102001-01", Some("530102002")));
    let moved: Vec<String> = sqlite(&f.data)
        .prepare("SELECT code FROM places WHERE moved_ms IS NOT NULL")
        .expect("sql")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(moved, ["530102001-01"], "a rename is not a move");
    let bumped = version(op);
    assert!(bumped > v, "an import that changes something bumps the version");
    assert_eq!(import(&f, &text).expect("same"), ImportSummary { added: 0, updated: 0, unchanged: 5 });
    assert_eq!(version(op), bumped, "nothing changed");
    let audited = audit_rows(op).iter().filter(|r| r.event.action == "place.import").count();
    assert_eq!(audited, 3);
}

#[test]
fn the_first_problem_names_its_line_and_code() {
    let f = Fixture::new();
    county(&f.op);
    let cases = [
        ("code,name,level\nX,x,grid\n", ErrorCode::InvalidRequest, "line 1: the header must be"),
        ("code,name,parent,level\n", ErrorCode::InvalidRequest, "line 1"),
        (
            "code,name,level,parent\nG5,第五网格,grid,V1\nG6,x,grid\n",
            ErrorCode::InvalidRequest,
            "line 3: 3 fields",
        ),
        (
            "code,name,level,parent\nG5,x,hamlet,V1\n",
            ErrorCode::InvalidRequest,
            "line 2: place G5: unknown level",
        ),
        (
            "code,name,level,parent\nG5,x,grid,V1\nG 6,x,grid,V1\n",
            ErrorCode::InvalidRequest,
            "line 3: place \"G 6\"",
        ),
        ("code,name,level,parent\nG5,,grid,V1\n", ErrorCode::InvalidRequest, "line 2: place G5: a name"),
        (
            "code,name,level,parent\nG5,x,grid,V1\nG5,y,grid,V1\n",
            ErrorCode::InvalidRequest,
            "line 3: place G5 appears twice (also on line 2)",
        ),
        (
            "code,name,level,parent\nG5,x,grid,V1\nG6,x,grid,V9\n",
            ErrorCode::UnknownPlace,
            "line 3: place G6: its parent V9",
        ),
        (
            "code,name,level,parent\nV5,x,village,G1\n",
            ErrorCode::InvalidRequest,
            "line 2: place V5: a village cannot sit under a grid",
        ),
        // A cycle needs a level that does not rise: refused like any other.
        (
            "code,name,level,parent\nT1,x,township,V1\n",
            ErrorCode::InvalidRequest,
            "line 2: place T1: a township cannot sit under a village",
        ),
        // Demoting a village leaves its grid under a grid.
        (
            "code,name,level,parent\nV1,x,grid,T1\n",
            ErrorCode::InvalidRequest,
            "after this import, place G1: a grid cannot sit under a grid (V1)",
        ),
    ];
    for (text, code, message) in cases {
        let (got, said) = refusal(import(&f, text));
        assert_eq!(got, code, "{text}: {said}");
        assert!(said.contains(message), "{text}: {said}");
    }
    assert_eq!(run(&f.op, f.op.service().list_places(OP)).expect("list").len(), 8, "nothing was imported");
}

#[test]
fn an_import_is_all_or_nothing_and_budgeted() {
    let f = Fixture::with(budget(2));
    let op = &f.op;
    county(op);
    records_at(op, "G2", 3, now_ms());
    with_device(op, "wang", Role::TownshipAdmin, "T1");
    let text = format!("{HEADER}G3,新网格,grid,V1\nG2,x,grid,V1\n");
    let (code, msg) = refusal(import(&f, &text));
    assert_eq!(code, ErrorCode::OverBudget, "{msg}");
    let dir = load(op);
    assert!(dir.place("G3").is_none() && dir.is_within("G2", Some("V2")), "rolled back");
}

#[test]
fn a_limited_importer_changes_only_its_subtree() {
    let f = Fixture::new();
    county(&f.op);
    let wang = township_admin(&f);
    let within = |text: &str| run(&f.op, f.op.service().import_places(&wang, text.to_owned()));
    let ok = format!("{HEADER}T1,T1 名,township,C\nV4,新村,village,T1\nG4,网格,grid,V4\nG1,改名,grid,V1\n");
    assert_eq!(within(&ok).expect("own subtree"), ImportSummary { added: 2, updated: 1, unchanged: 1 });
    for (text, line) in [
        (format!("{HEADER}G5,x,grid,V1\nG6,x,grid,V2\n"), "line 3"),
        (format!("{HEADER}G1,x,grid,V2\n"), "line 2"),
        (format!("{HEADER}G2,x,grid,V1\n"), "line 2"),
        (format!("{HEADER}T1,x,township,C\n"), "line 2"),
        (format!("{HEADER}T9,x,township,\n"), "line 2"),
        (format!("{HEADER}V2,V2 名,village,T2\n"), "line 2"),
    ] {
        let (code, msg) = refusal(within(&text));
        assert_eq!(code, ErrorCode::Forbidden, "{text}");
        assert!(msg.starts_with(line), "{msg}");
    }
}

#[test]
fn units_import_and_their_users_follow() {
    let f = Fixture::new();
    county(&f.op);
    let text = "code,name,kind,place\nU1,城关派出所,police,T1\nU2,司法所,justice,T2\n";
    assert_eq!(import_units(&f, OP, text).expect("units").added, 2);
    add_user(&f.op, "mca", Role::Department, None, Some("U1"), None).expect("user");
    let text = "code,name,kind,place\nU1,城关派出所,police,T2\nU2,司法所,justice,T2\n";
    assert_eq!(
        import_units(&f, OP, text).expect("move"),
        ImportSummary { added: 0, updated: 1, unchanged: 1 }
    );
    assert_eq!(user(&f.op, "mca").expect("user").scope, "T2");
    let bad = [
        ("code,name,kind,place\nU3,x,police,T9\n", ErrorCode::UnknownPlace, "line 2: unit U3"),
        ("code,name,kind,place\nU3,x,,T1\n", ErrorCode::InvalidRequest, "line 2: unit U3: a unit kind"),
        ("code,name,kind,place\nU3,x,police,T1\nU3,x,police,T1\n", ErrorCode::InvalidRequest, "line 3"),
        (
            "code,name,kind,place\nG1,x,police,T1\n",
            ErrorCode::InvalidRequest,
            "line 2: G1 is already a place",
        ),
    ];
    for (text, code, message) in bad {
        let (got, said) = refusal(import_units(&f, OP, text));
        assert!(got == code && said.contains(message), "{text}: {said}");
    }
    let wang = township_admin(&f);
    let (code, _) = refusal(import_units(&f, &wang, "code,name,kind,place\nU1,x,police,T1\n"));
    assert_eq!(code, ErrorCode::Forbidden, "was in T2");
}
