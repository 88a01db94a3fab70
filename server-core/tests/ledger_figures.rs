//! The ledgers checked figure by figure against an independent computation.
//!
//! A seeded generator makes months of a county's work through the real
//! proto API, the way handsets make it (`make_group`, checked with
//! `check_group` for the acting user; see `support`): disputes registered in grids,
//! villages, townships and at the county, taken through acceptance,
//! mediation sessions, escalations, transfers to departments, returns,
//! closure requests, closures and follow-ups, with steps that land exactly
//! on month boundaries and clashing steps that the lifecycle overrides;
//! patrols and visits; daily reports on time, late and missing. While it
//! writes, the generator keeps its own model of each dispute (stage, owner,
//! handler after every step). The expected figures are computed from that
//! model alone, never through the ledger code, and compared with every
//! figure of the table, the register and the rankings.

use std::collections::{BTreeMap, BTreeSet};

use gridsync_proto::date::DAY_MS;
use gridsync_proto::{
    Action, Date, Directory, Edit, Hierarchy, Level, Lifecycle, RecordId, RecordKind, RecordState, Role,
    Stage, Value,
};
use gridsync_server_core::ledger::sheet::{self, Cell, Ratio, RowStyle};
use gridsync_server_core::ledger::{
    self, AsOf, DisputeFigures, LedgerError, Month, MonthLedger, MonthParams, MonthTable, QuarterParams,
    QuarterRanking, RankBy, Ranking, RegisterRow, WorkFigures,
};
use gridsync_server_core::service::reports::Filing;
use proptest::prelude::*;

mod support;

use support::*;

// ---------------------------------------------------------------------------
// The independent computation.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Fig {
    carried_over: u64,
    found: u64,
    accepted: u64,
    mediated: u64,
    sessions: u64,
    transferred: u64,
    closed: u64,
    escalated: u64,
    escalated_to: [u64; 4],
    pending: u64,
    resolved: u64,
    resolved_at: [u64; 3],
    open_at_end: u64,
    unresolved_at_end: u64,
}

impl Fig {
    fn of(f: &DisputeFigures) -> Fig {
        Fig {
            carried_over: f.carried_over,
            found: f.found,
            accepted: f.accepted,
            mediated: f.mediated,
            sessions: f.mediation_sessions,
            transferred: f.transferred,
            closed: f.closed,
            escalated: f.escalated,
            escalated_to: [
                f.escalated_to.village,
                f.escalated_to.township,
                f.escalated_to.county,
                f.escalated_to.city,
            ],
            pending: f.pending,
            resolved: f.resolved,
            resolved_at: [f.resolved_at.village, f.resolved_at.township, f.resolved_at.county_or_above],
            open_at_end: f.open_at_end,
            unresolved_at_end: f.unresolved_at_end,
        }
    }

    fn plus(&mut self, o: &Fig) {
        self.carried_over += o.carried_over;
        self.found += o.found;
        self.accepted += o.accepted;
        self.mediated += o.mediated;
        self.sessions += o.sessions;
        self.transferred += o.transferred;
        self.closed += o.closed;
        self.escalated += o.escalated;
        for i in 0..4 {
            self.escalated_to[i] += o.escalated_to[i];
        }
        self.pending += o.pending;
        self.resolved += o.resolved;
        for i in 0..3 {
            self.resolved_at[i] += o.resolved_at[i];
        }
        self.open_at_end += o.open_at_end;
        self.unresolved_at_end += o.unresolved_at_end;
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Work {
    worker_days: u64,
    patrols: u64,
    visits: u64,
    on_time: u64,
    late: u64,
    missing: u64,
}

/// The line `code` counts in for a table of `place`: the child of `place`
/// above it, or `place` itself.
fn line_of(dir: &Directory, place: &str, code: &str) -> Option<String> {
    if code == place {
        return Some(place.into());
    }
    let chain = dir.chain(code);
    chain.iter().find(|p| p.parent.as_deref() == Some(place)).map(|p| p.code.clone())
}

fn level_index(dir: &Directory, code: &str) -> usize {
    match dir.level(code) {
        Some(Level::Village) => 0,
        Some(Level::Township) => 1,
        Some(Level::County) => 2,
        Some(Level::City) => 3,
        other => panic!("an escalation to a {other:?}"),
    }
}

/// What the month of `place` must say, computed from the models.
fn expected_month(
    w: &World,
    place: &str,
    from: i64,
    to: i64,
) -> BTreeMap<String, (BTreeMap<String, Fig>, Work)> {
    let mut out: BTreeMap<String, (BTreeMap<String, Fig>, Work)> = BTreeMap::new();
    for child in w.dir.children(place) {
        out.entry(child.clone()).or_default();
    }
    out.entry(place.to_owned()).or_default();
    for m in &w.disputes {
        let Some(line) = line_of(&w.dir, place, &m.registered_at) else { continue };
        if m.registered_ms >= to {
            continue;
        }
        let before = m.registered_ms < from;
        let start = m.at(from);
        let end = m.at(to);
        let carried = before && start.stage != Stage::Closed;
        let found = !before;
        if !carried && !found {
            continue;
        }
        let pending = found || !resolved(start.stage);
        let is_resolved = pending && resolved(end.stage);
        let mut f = Fig {
            carried_over: carried as u64,
            found: found as u64,
            pending: pending as u64,
            resolved: is_resolved as u64,
            closed: (end.stage == Stage::Closed) as u64,
            open_at_end: (end.stage != Stage::Closed) as u64,
            unresolved_at_end: !resolved(end.stage) as u64,
            sessions: m.mediations.iter().filter(|t| from <= **t && **t < to).count() as u64,
            ..Fig::default()
        };
        let moves: Vec<&ModelMove> = m.moves_in(from, to).collect();
        f.accepted = moves.iter().any(|x| x.action == Action::Accept) as u64;
        f.mediated = moves.iter().any(|x| x.action == Action::Mediate) as u64;
        f.transferred = moves.iter().any(|x| x.action == Action::Transfer) as u64;
        if let Some(last) = moves.iter().rev().find(|x| x.action == Action::Escalate) {
            f.escalated = 1;
            f.escalated_to[level_index(&w.dir, last.target.as_deref().expect("a target"))] = 1;
        }
        if is_resolved {
            let by = m.moves.iter().find(|x| resolved(x.after.stage)).expect("a resolving move");
            let i = match w.dir.level(&by.owner_before) {
                Some(Level::Grid | Level::Village) => 0,
                Some(Level::Township) => 1,
                _ => 2,
            };
            f.resolved_at[i] = 1;
        }
        out.entry(line).or_default().0.entry(m.category.clone()).or_default().plus(&f);
    }
    for (grid, at) in &w.patrols {
        if from <= *at
            && *at < to
            && let Some(line) = line_of(&w.dir, place, grid)
        {
            out.entry(line).or_default().1.patrols += 1;
        }
    }
    for (grid, at) in &w.visits {
        if from <= *at
            && *at < to
            && let Some(line) = line_of(&w.dir, place, grid)
        {
            out.entry(line).or_default().1.visits += 1;
        }
    }
    for (date, filings) in &w.filings {
        let s = date.start_ms(OFFSET);
        if !(from <= s && s < to) {
            continue;
        }
        for (grid, filing) in filings {
            let Some(line) = line_of(&w.dir, place, grid) else { continue };
            let work = &mut out.entry(line).or_default().1;
            work.worker_days += 1;
            match filing {
                Filing::OnTime => work.on_time += 1,
                Filing::Late => work.late += 1,
                Filing::Missing => work.missing += 1,
            }
        }
    }
    out
}

fn month_params(place: &str, month: Month, reader: Role) -> MonthParams {
    MonthParams {
        place: place.into(),
        month,
        utc_offset_minutes: OFFSET,
        reader,
        as_of: AsOf { log_position: 4242, time_ms: start_of(2027, 1, 20) },
    }
}

/// Runs the month through the ledger: the table and the sorted rows.
fn run_month(
    w: &World,
    place: &str,
    month: Month,
    reader: Role,
    order: &[usize],
) -> (MonthTable, Vec<RegisterRow>) {
    let mut ledger = MonthLedger::new(&w.dir, month_params(place, month, reader)).expect("a known place");
    let mut rows = Vec::new();
    for &i in order {
        rows.extend(ledger.add(&w.records[i]));
    }
    for day in month.days() {
        ledger.add_completeness(&w.completeness(place, day)).expect("each day once");
    }
    let table = ledger.finish();
    ledger::register::sort(&mut rows);
    (table, rows)
}

fn check_table(w: &World, place: &str, month: Month, table: &MonthTable) {
    let (from, to) = (month.first_day().start_ms(OFFSET), month.next().first_day().start_ms(OFFSET));
    let expected = expected_month(w, place, from, to);
    let ctx = format!("seed {} {place} {month}", w.seed);
    let got_lines: Vec<&str> = table.lines.iter().map(|l| l.code.as_str()).collect();
    let mut want_lines: Vec<&str> = w.dir.children(place).iter().map(String::as_str).collect();
    want_lines.push(place);
    assert_eq!(got_lines, want_lines, "{ctx}: children by code, then the place's own line");
    let mut all = Fig::default();
    let mut all_work = Work::default();
    let mut by_category: BTreeMap<String, Fig> = BTreeMap::new();
    for line in &table.lines {
        let (cats, work) = &expected[&line.code];
        let got: BTreeMap<String, Fig> =
            line.categories.iter().map(|(c, f)| (c.clone(), Fig::of(f))).collect();
        assert_eq!(&got, cats, "{ctx}: line {} by category", line.code);
        let mut sum = Fig::default();
        for (c, f) in cats {
            sum.plus(f);
            by_category.entry(c.clone()).or_default().plus(f);
        }
        assert_eq!(Fig::of(&line.disputes()), sum, "{ctx}: line {} subtotal", line.code);
        all.plus(&sum);
        let got_work = Work {
            worker_days: line.work.worker_days,
            patrols: line.work.patrols,
            visits: line.work.visits,
            on_time: line.work.reports_on_time,
            late: line.work.reports_late,
            missing: line.work.reports_missing,
        };
        assert_eq!(&got_work, work, "{ctx}: line {} work", line.code);
        check_work_ratios(&line.work, work, &ctx);
        all_work.worker_days += work.worker_days;
        all_work.patrols += work.patrols;
        all_work.visits += work.visits;
        // Every dispute figure adds up.
        assert_eq!(sum.carried_over + sum.found, sum.closed + sum.open_at_end, "{ctx}: {} books", line.code);
        assert_eq!(sum.pending - sum.resolved, sum.unresolved_at_end, "{ctx}: {} unresolved", line.code);
        assert_eq!(sum.resolved_at.iter().sum::<u64>(), sum.resolved, "{ctx}: {} levels", line.code);
        assert_eq!(sum.escalated_to.iter().sum::<u64>(), sum.escalated, "{ctx}: {} escalations", line.code);
        let rate = line.disputes().resolution_rate();
        assert_eq!(rate, Ratio::new(sum.resolved, sum.pending), "{ctx}: {} rate", line.code);
    }
    assert_eq!(Fig::of(&table.total_disputes()), all, "{ctx}: total");
    let totals: BTreeMap<String, Fig> =
        table.total_by_category().iter().map(|(c, f)| (c.clone(), Fig::of(f))).collect();
    assert_eq!(totals, by_category, "{ctx}: totals by category");
    assert_eq!(
        (table.total_work().worker_days, table.total_work().patrols, table.total_work().visits),
        (all_work.worker_days, all_work.patrols, all_work.visits),
        "{ctx}: total work"
    );

    // The sheet shows the same figures, one typed cell per column.
    let data = table.sheet().collect();
    for row in &data.rows {
        sheet::check_row(&data.name, &data.columns, row).expect("rows fit the columns");
    }
    let key = |k: &str| data.columns.iter().position(|c| c.key == k).expect("a column");
    let total = data.rows.last().expect("a grand total row");
    assert_eq!(total.style, RowStyle::Total);
    assert_eq!(total.cells[key("category")], Cell::text("全部"));
    assert_eq!(total.cells[key("found")], Cell::Int(all.found as i64));
    assert_eq!(total.cells[key("carried_over")], Cell::Int(all.carried_over as i64));
    assert_eq!(total.cells[key("resolution_rate")], Cell::Ratio(Ratio::new(all.resolved, all.pending)));
    assert_eq!(total.cells[key("resolved_village")], Cell::Int(all.resolved_at[0] as i64));
    assert_eq!(total.cells[key("escalated_county")], Cell::Int(all.escalated_to[2] as i64));
    assert_eq!(total.cells[key("patrols")], Cell::Int(all_work.patrols as i64));
    assert_eq!(total.cells[key("patrols_expected")], Cell::Int(2 * all_work.worker_days as i64));
    let subtotals = data.rows.iter().filter(|r| r.style == RowStyle::Subtotal).count();
    assert_eq!(subtotals, table.lines.len(), "{ctx}: a subtotal per line");
    let body = data.rows.iter().filter(|r| r.style == RowStyle::Body).count();
    assert_eq!(body, table.lines.iter().map(|l| l.categories.len()).sum::<usize>());
    assert!(
        data.rows
            .iter()
            .filter(|r| r.style == RowStyle::Body)
            .all(|r| r.cells[key("patrols")] == Cell::Empty),
        "work figures only on subtotal and total rows"
    );
}

fn check_work_ratios(got: &WorkFigures, want: &Work, ctx: &str) {
    assert_eq!(got.patrol_rate(), Ratio::new(want.patrols, 2 * want.worker_days), "{ctx}: 两巡");
    assert_eq!(got.visit_rate(), Ratio::new(want.visits, 5 * want.worker_days), "{ctx}: 五访");
    assert_eq!(got.report_rate(), Ratio::new(want.on_time + want.late, want.worker_days), "{ctx}: 报送率");
    assert_eq!(got.on_time_rate(), Ratio::new(want.on_time, want.worker_days), "{ctx}: 按时率");
    assert_eq!(want.on_time + want.late + want.missing, want.worker_days);
}

fn mask(name: &str) -> String {
    let mut chars = name.chars();
    match (chars.next(), chars.next()) {
        (Some(_), None) => "*".into(),
        (Some(first), Some(_)) => format!("{first}*"),
        (None, _) => String::new(),
    }
}

fn check_register(w: &World, place: &str, month: Month, reader: Role, rows: &[RegisterRow]) {
    let (from, to) = (month.first_day().start_ms(OFFSET), month.next().first_day().start_ms(OFFSET));
    let ctx = format!("seed {} {place} {month} {reader:?}", w.seed);
    let names_shown = matches!(reader, Role::Administrator | Role::CountyAdmin | Role::TownshipAdmin);
    let mut want: BTreeMap<RecordId, &Model> = BTreeMap::new();
    for m in &w.disputes {
        if line_of(&w.dir, place, &m.registered_at).is_none() || m.registered_ms >= to {
            continue;
        }
        if m.registered_ms >= from || m.at(from).stage != Stage::Closed {
            want.insert(m.id, m);
        }
    }
    let got_ids: BTreeSet<RecordId> = rows.iter().map(|r| r.id).collect();
    assert_eq!(got_ids, want.keys().copied().collect(), "{ctx}: one row per dispute open in the month");
    assert_eq!(got_ids.len(), rows.len(), "{ctx}: no dispute twice");
    // In line order (children by code, the place itself last), then place, then id.
    let position = |code: &str| {
        let children = w.dir.children(place);
        children.iter().position(|c| c == code).unwrap_or(children.len())
    };
    let keys: Vec<(usize, String, RecordId)> = rows
        .iter()
        .map(|r| {
            (
                position(&line_of(&w.dir, place, &r.registered_at).expect("in scope")),
                r.registered_at.clone(),
                r.id,
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "{ctx}: canonical order");
    for row in rows {
        let m = want[&row.id];
        let end = m.at(to);
        let moves: Vec<&ModelMove> = m.moves.iter().filter(|x| x.ms < to).collect();
        let first = |a: Action| moves.iter().find(|x| x.action == a).map(|x| x.ms);
        let last = |a: Action| moves.iter().rev().find(|x| x.action == a).map(|x| x.ms);
        assert_eq!(row.line, line_of(&w.dir, place, &m.registered_at).expect("in scope"), "{ctx}");
        assert_eq!(
            (row.registered_ms, row.category.as_str()),
            (m.registered_ms, m.category.as_str()),
            "{ctx}"
        );
        assert_eq!(
            (row.stage, &row.owner, &row.handler),
            (end.stage, &end.owner, &end.handler),
            "{ctx}: month end"
        );
        assert_eq!(row.carried_over, m.registered_ms < from, "{ctx}: carried over");
        assert_eq!(row.carried_forward, end.stage != Stage::Closed, "{ctx}: carried forward");
        assert_eq!(row.mediation_sessions, m.mediations.iter().filter(|t| **t < to).count() as u64, "{ctx}");
        assert_eq!(row.stages.accepted, first(Action::Accept), "{ctx}: accepted");
        assert_eq!(row.stages.mediated, first(Action::Mediate), "{ctx}: mediated");
        assert_eq!(row.stages.escalated, last(Action::Escalate), "{ctx}: escalated");
        assert_eq!(row.stages.transferred, last(Action::Transfer), "{ctx}: transferred");
        assert_eq!(row.stages.followed_up, last(Action::FollowUp), "{ctx}: followed up");
        assert_eq!(
            row.stages.resolved,
            moves.iter().find(|x| resolved(x.after.stage)).map(|x| x.ms),
            "{ctx}"
        );
        assert_eq!(
            row.stages.closed,
            moves.iter().find(|x| x.after.stage == Stage::Closed).map(|x| x.ms),
            "{ctx}"
        );
        let cooperating: Vec<String> = m
            .assists
            .iter()
            .filter(|(t, _)| *t < to)
            .map(|(_, u)| w.dir.unit(u).expect("unit").name.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(row.cooperating, cooperating, "{ctx}: cooperating");
        let steps = m.steps.iter().filter(|(t, _)| *t < to).count();
        let overridden = m.steps.iter().filter(|(t, o)| *t < to && *o).count();
        assert_eq!(row.steps.len(), steps, "{ctx}: steps");
        assert_eq!(
            row.steps.iter().filter(|s| s.ends_with("〔被覆盖〕")).count(),
            overridden,
            "{ctx}: overridden"
        );
        let parties: Vec<String> = m
            .parties
            .iter()
            .map(|(name, role)| {
                let shown = if names_shown { name.clone() } else { mask(name) };
                format!("{shown}（{}）", if *role == "applicant" { "申请人" } else { "被申请人" })
            })
            .collect();
        assert_eq!(row.parties, parties.join("、"), "{ctx}: parties");
        assert_eq!(row.summary.as_deref(), names_shown.then_some(m.summary.as_str()), "{ctx}: summary");
        let text = format!("{row:?}");
        assert!(
            !text.contains("62080219900101") && !text.contains("1390000"),
            "{ctx}: no ID or phone numbers"
        );
        if !names_shown {
            for (name, _) in &m.parties {
                if name.chars().count() > 1 {
                    assert!(!text.contains(name.as_str()), "{ctx}: {name} leaks");
                }
            }
        }
    }
}

/// What a quarter's rankings must say.
fn expected_ranking(
    w: &World,
    from: i64,
    to: i64,
) -> (BTreeMap<String, [u64; 3]>, BTreeMap<String, [u64; 3]>) {
    let mut townships: BTreeMap<String, [u64; 3]> =
        TOWNSHIPS.iter().map(|t| ((*t).to_owned(), [0; 3])).collect();
    let mut units: BTreeMap<String, [u64; 3]> = w.dir.units().map(|u| (u.code.clone(), [0; 3])).collect();
    for m in &w.disputes {
        if m.registered_ms >= to {
            continue;
        }
        let before = m.registered_ms < from;
        let (start, end) = (m.at(from), m.at(to));
        if let Some(t) = township_of(&w.dir, &m.registered_at) {
            let f = townships.get_mut(t).expect("a township");
            let pending = !before || !resolved(start.stage);
            f[0] += !before as u64;
            f[1] += (before && pending) as u64;
            f[2] += (pending && resolved(end.stage)) as u64;
        }
        let held = (before
            && matches!(start.stage, Stage::Transferred | Stage::Handling | Stage::ClosureRequested))
        .then(|| start.handler.clone())
        .flatten();
        let mut involved: BTreeSet<String> = m
            .moves_in(from, to)
            .filter(|x| x.action == Action::Transfer)
            .filter_map(|x| x.target.clone())
            .collect();
        involved.extend(held.clone());
        for unit in involved {
            let f = units.get_mut(&unit).expect("a unit");
            if held.as_deref() == Some(unit.as_str()) {
                f[1] += 1;
            } else {
                f[0] += 1;
            }
            f[2] += (end.stage == Stage::Closed && end.handler.as_deref() == Some(unit.as_str())) as u64;
        }
    }
    (townships, units)
}

fn check_ranking(ctx: &str, ranking: &Ranking, want: &BTreeMap<String, [u64; 3]>) {
    let got: BTreeMap<String, [u64; 3]> = ranking
        .entries
        .iter()
        .map(|e| (e.code.clone(), [e.figures.found, e.figures.carried, e.figures.resolved]))
        .collect();
    assert_eq!(&got, want, "{ctx}: the counts behind the figures");
    // Rank: one more than the entries strictly better; unrated last.
    let better = |a: &[u64; 3], b: &[u64; 3]| match ranking.by {
        RankBy::Found => b[0] > a[0],
        RankBy::Rate => {
            let (pa, pb) = (a[0] + a[1], b[0] + b[1]);
            pb > 0 && (b[2] as u128) * (pa as u128) > (a[2] as u128) * (pb as u128)
        }
    };
    let mut want_order: Vec<(u64, String)> = Vec::new();
    for (code, f) in want {
        let rated = ranking.by == RankBy::Found || f[0] + f[1] > 0;
        let rank = if rated { 1 + want.values().filter(|o| better(f, o)).count() as u64 } else { u64::MAX };
        want_order.push((rank, code.clone()));
        let entry = ranking.entries.iter().find(|e| &e.code == code).expect("every entry listed");
        assert_eq!(entry.rank.map(u64::from), rated.then_some(rank), "{ctx}: rank of {code}");
    }
    want_order.sort();
    let got_order: Vec<&str> = ranking.entries.iter().map(|e| e.code.as_str()).collect();
    let want_codes: Vec<&str> = want_order.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(got_order, want_codes, "{ctx}: rank order, ties by code, unrated last");
}

fn check_world(w: &World) {
    let nov = Month::new(2026, 11).expect("month");
    let dec = nov.next();
    let order: Vec<usize> = (0..w.records.len()).collect();
    let mut months = Vec::new();
    for month in [nov, dec] {
        let (table, rows) = run_month(w, COUNTY, month, Role::CountyAdmin, &order);
        check_table(w, COUNTY, month, &table);
        check_register(w, COUNTY, month, Role::CountyAdmin, &rows);
        months.push((table, rows));
    }
    // Carried into the next month: December's carried-over rows are exactly
    // November's rows still open at its end.
    let forward: BTreeSet<RecordId> =
        months[0].1.iter().filter(|r| r.carried_forward).map(|r| r.id).collect();
    let carried: BTreeSet<RecordId> = months[1].1.iter().filter(|r| r.carried_over).map(|r| r.id).collect();
    assert_eq!(forward, carried, "seed {}: carry-over", w.seed);
    assert_eq!(months[0].0.total_disputes().open_at_end, months[1].0.total_disputes().carried_over);
    assert!(!forward.is_empty(), "seed {}: the generator leaves disputes open", w.seed);

    // A township's table, and what each role sees.
    let township = TOWNSHIPS[w.seed as usize % 3];
    let (table, _) = run_month(w, township, dec, Role::TownshipAdmin, &order);
    check_table(w, township, dec, &table);
    for role in [Role::Auditor, Role::Department, Role::Worker, Role::TownshipAdmin, Role::Administrator] {
        let (_, rows) = run_month(w, township, dec, role, &order);
        check_register(w, township, dec, role, &rows);
    }

    // Same records in another order: the same table and rows.
    let mut reversed = order.clone();
    reversed.reverse();
    let (table, rows) = run_month(w, COUNTY, dec, Role::CountyAdmin, &reversed);
    assert_eq!((&table, &rows), (&months[1].0, &months[1].1), "seed {}: order does not matter", w.seed);

    // The quarter's rankings.
    let q = dec.quarter();
    let (from, to) = (start_of(2026, 10, 1), start_of(2027, 1, 1));
    let params = QuarterParams {
        place: COUNTY.into(),
        quarter: q,
        utc_offset_minutes: OFFSET,
        as_of: AsOf { log_position: 1, time_ms: to },
    };
    let mut ranking = QuarterRanking::new(&w.dir, params).expect("a known place");
    for record in &w.records {
        ranking.add(record);
    }
    let rankings = ranking.finish();
    let (townships, units) = expected_ranking(w, from, to);
    let ctx = format!("seed {}", w.seed);
    check_ranking(&format!("{ctx} townships by found"), &rankings.townships_by_found, &townships);
    check_ranking(&format!("{ctx} townships by rate"), &rankings.townships_by_rate, &townships);
    check_ranking(&format!("{ctx} departments by found"), &rankings.departments_by_found, &units);
    check_ranking(&format!("{ctx} departments by rate"), &rankings.departments_by_rate, &units);
    let health = rankings.departments_by_rate.entries.last().expect("entries");
    assert_eq!(
        (health.code.as_str(), health.rank),
        (HEALTH, None),
        "a department with nothing to settle is unranked"
    );
    for sheet in rankings.sheets() {
        let data = sheet.collect();
        assert_eq!(data.rows.len(), data.rows.iter().filter(|r| r.cells.len() == data.columns.len()).count());
    }
}

/// What the generated months hold, over every seed: each kind of event the
/// figures count must occur, or the comparison proves little.
#[derive(Debug, Default)]
struct Coverage {
    actions: BTreeMap<&'static str, usize>,
    returns_by_centre: usize,
    escalations_to_county: usize,
    clashes: usize,
    on_boundary: usize,
    registered_at_county: usize,
    carried_from_before_the_quarter: usize,
    late: usize,
    missing: usize,
}

impl Coverage {
    fn add(&mut self, w: &World) {
        let boundaries = boundaries();
        for m in &w.disputes {
            for (i, x) in m.moves.iter().enumerate() {
                *self.actions.entry(x.action.name()).or_default() += 1;
                let from = if i == 0 { Stage::Found } else { m.moves[i - 1].after.stage };
                self.returns_by_centre +=
                    (x.action == Action::Return && from == Stage::ClosureRequested) as usize;
                self.escalations_to_county +=
                    (x.action == Action::Escalate && x.target.as_deref() == Some(COUNTY)) as usize;
                self.on_boundary += boundaries.contains(&x.ms) as usize;
            }
            self.clashes += m.steps.iter().filter(|(_, overridden)| *overridden).count();
            self.registered_at_county += (m.registered_at == COUNTY) as usize;
            self.carried_from_before_the_quarter += (m.registered_ms < start_of(2026, 10, 1)
                && m.at(start_of(2026, 10, 1)).stage != Stage::Closed)
                as usize;
        }
        for filings in w.filings.values() {
            self.late += filings.iter().filter(|(_, f)| *f == Filing::Late).count();
            self.missing += filings.iter().filter(|(_, f)| *f == Filing::Missing).count();
        }
    }
}

#[test]
fn generated_months_match_an_independent_computation() {
    let mut coverage = Coverage::default();
    for seed in [1, 2, 3, 0xdec1de] {
        let w = World::new(seed, 160);
        check_world(&w);
        coverage.add(&w);
    }
    for action in Action::ALL {
        if matches!(action, Action::Assist | Action::Remind | Action::Acknowledge) {
            continue; // annotations: no moves
        }
        assert!(coverage.actions.get(action.name()).copied().unwrap_or(0) >= 3, "{action}: {coverage:?}");
    }
    let c = &coverage;
    assert!(c.returns_by_centre > 0 && c.escalations_to_county > 0 && c.clashes > 5, "{c:?}");
    assert!(
        c.on_boundary > 5 && c.registered_at_county > 2 && c.carried_from_before_the_quarter > 5,
        "{c:?}"
    );
    assert!(c.late > 50 && c.missing > 50, "{c:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    #[test]
    fn any_generated_months_match(seed in 1u64..u64::MAX) {
        let w = World::new(seed, 90);
        check_world(&w);
    }
}

#[test]
fn daily_figures_are_refused_when_they_do_not_fit() {
    let w = World::new(7, 3);
    let dec = Month::new(2026, 12).expect("month");
    let mut ledger = MonthLedger::new(&w.dir, month_params(COUNTY, dec, Role::CountyAdmin)).expect("place");
    let day = Date::from_ymd(2026, 12, 5).expect("date");
    ledger.add_completeness(&w.completeness(COUNTY, day)).expect("the first time");
    assert_eq!(ledger.add_completeness(&w.completeness(COUNTY, day)), Err(LedgerError::DayTwice(day)));
    let nov = Date::from_ymd(2026, 11, 30).expect("date");
    assert_eq!(ledger.add_completeness(&w.completeness(COUNTY, nov)), Err(LedgerError::OutsideMonth(nov)));
    assert!(matches!(
        ledger.add_completeness(&w.completeness(TOWNSHIPS[0], day)),
        Err(LedgerError::OtherPlace { .. })
    ));
    assert!(matches!(
        MonthLedger::new(&w.dir, month_params("nowhere", dec, Role::CountyAdmin)),
        Err(LedgerError::UnknownPlace(_))
    ));
}

#[test]
fn a_step_on_the_boundary_counts_in_the_month_it_opens() {
    // Registered in November at a grid; accepted at the last millisecond of
    // November; resolved at the first of December; closed in December.
    let dir = directory();
    let grid = grids(&dir).remove(0);
    let worker = local(&dir, &grid);
    let w = World {
        dir: dir.clone(),
        rng: Rng(1),
        seed: 0,
        records: Vec::new(),
        disputes: Vec::new(),
        patrols: Vec::new(),
        visits: Vec::new(),
        filings: BTreeMap::new(),
    };
    let dec_start = start_of(2026, 12, 1);
    let id = RecordId::derived(&["boundary"]);
    let set = |f: &str, v: &str| Edit::Set(f.into(), Value::from(v));
    let edits = vec![
        set("registered_at", &grid),
        set("place", &grid),
        set("source", "patrol"),
        set("category", "邻里纠纷"),
    ];
    let mut state = w.write(&worker, None, (id, RecordKind::Dispute), edits, dec_start - 5 * DAY_MS);
    let head = |s: &RecordState| Lifecycle::of(s).expect("registered").head;
    state = w.step(&state, &worker, Action::Accept, head(&state), dec_start - 1, |_| {});
    state =
        w.step(&state, &worker, Action::Resolve, head(&state), dec_start, |s| s.note = Some("和解".into()));
    let t = local(&dir, township_of(&dir, &grid).expect("township"));
    state = w.step(&state, &t, Action::Close, head(&state), dec_start + DAY_MS, |_| {});

    let figures = |month: Month| {
        let mut ledger =
            MonthLedger::new(&dir, month_params(COUNTY, month, Role::CountyAdmin)).expect("place");
        let row = ledger.add(&state);
        (ledger.finish().total_disputes(), row)
    };
    let nov = Month::new(2026, 11).expect("month");
    let (f, row) = figures(nov);
    assert_eq!(
        (f.found, f.accepted, f.pending, f.resolved, f.open_at_end, f.unresolved_at_end),
        (1, 1, 1, 0, 1, 1)
    );
    let row = row.expect("on November's ledger");
    assert_eq!((row.stage, row.carried_forward, row.stages.resolved), (Stage::Accepted, true, None));
    let (f, row) = figures(nov.next());
    assert_eq!((f.carried_over, f.found, f.accepted, f.pending, f.resolved, f.closed), (1, 0, 0, 1, 1, 1));
    assert_eq!(f.resolved_at.village, 1, "resolved by the grid: village level");
    let row = row.expect("on December's ledger");
    assert_eq!((row.stage, row.carried_over, row.carried_forward), (Stage::Closed, true, false));
    assert_eq!(row.stages.resolved, Some(dec_start));
    let (f, row) = figures(nov.next().next());
    assert_eq!((f, row), (DisputeFigures::default(), None), "closed before January: not on its ledger");
}

/// Locking a county's month computes every place below it in one pass
/// ([`ledger::SubtreeMonths`]): each place's locked table and register are
/// those of its own month computed alone, for a reader who sees names and
/// for one who sees them masked; the stored form reads back the same.
#[test]
fn a_locked_subtree_holds_each_place_s_own_month() {
    let w = World::new(7, 120);
    let month = Month::new(2026, 11).expect("month");
    let mut subtree =
        ledger::SubtreeMonths::new(&w.dir, month_params(COUNTY, month, Role::Administrator)).expect("county");
    for record in &w.records {
        subtree.add(record);
    }
    for day in month.days() {
        subtree.add_completeness(&w.completeness(COUNTY, day)).expect("each day once");
    }
    let stamp =
        ledger::LockStamp { locked_ms: start_of(2026, 12, 5), locked_by: "wang".into(), root: COUNTY.into() };
    let locked = subtree.finish(&stamp);
    assert_eq!(locked.len(), w.dir.subtree(Some(COUNTY)).len(), "one month per place");
    let order: Vec<usize> = (0..w.records.len()).collect();
    let mut rows_seen = 0;
    for (place, month_locked) in locked {
        let stored = ledger::LockedMonth::decode(&month_locked.encode()).expect("decodes");
        assert_eq!(stored, month_locked, "{place}: the stored form reads back");
        assert_eq!(stored.table.locked.as_ref(), Some(&stamp));
        for reader in [Role::CountyAdmin, Role::Auditor] {
            let (mut table, rows) = stored.clone().for_reader(reader);
            table.locked = None;
            let (alone, alone_rows) = run_month(&w, &place, month, reader, &order);
            assert_eq!(table, alone, "{place} {reader:?}: the table");
            assert_eq!(rows, alone_rows, "{place} {reader:?}: the register");
            rows_seen += rows.len();
        }
    }
    assert!(rows_seen > 100, "the world has disputes on the books: {rows_seen}");
}
