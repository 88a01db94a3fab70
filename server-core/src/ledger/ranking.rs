//! Quarterly rankings (季通报排名): townships and departments ranked by
//! disputes found (排查量) and by resolution rate (化解率), with the counts
//! behind every figure.
//!
//! For a township, over the quarter and its subtree: `found` is disputes
//! registered in the quarter, `carried` those registered before it and not
//! resolved at its start, and `resolved` those of both that are resolved at
//! the quarter's end (the monthly table's definitions, over a quarter).
//!
//! A department finds disputes through transfers: its `found` is disputes
//! transferred to it in the quarter, `carried` those it held at the
//! quarter's start (transferred to it, being handled, or awaiting closure)
//! and not transferred to it again within the quarter, and `resolved`
//! those of both that are closed at the quarter's end while it is their
//! handling department (it asked for closure and the centre confirmed).
//!
//! Ties: an entry's rank is one more than the number of entries with a
//! strictly better figure, so equal figures share a rank and the next rank
//! is skipped ("1, 1, 3"); entries of equal rank are listed by code. Rates
//! are compared exactly (1/2 ties with 2/4, 2/3 beats 666/1000), never
//! after rounding. An entry with nothing to resolve (`found + carried = 0`)
//! has no rate: it gets no rank by rate and is listed after the ranked
//! ones, by code. Every township within the place, and every department
//! whose place lies within it, is listed, with zeros if nothing happened.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use gridsync_proto::{Directory, Hierarchy, Level, RecordState, Stage};
use serde::Serialize;

use super::dispute::Dispute;
use super::lines::{place_name, unit_name};
use super::period::{Period, Quarter};
use super::sheet::{Cell, Column, HeaderNode, Kind, Ratio, Row, RowStyle, Sheet, header};
use super::{AsOf, LedgerError, QuarterParams, as_of_line};

/// The counts behind one entry's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RankFigures {
    /// 排查量 (a department: disputes transferred to it).
    pub found: u64,
    /// Carried into the quarter unresolved (a department: held at its start).
    pub carried: u64,
    /// Of `found` and `carried`, resolved at the quarter's end.
    pub resolved: u64,
}

impl RankFigures {
    /// 应化解: `found + carried`.
    pub fn pending(&self) -> u64 {
        self.found + self.carried
    }

    /// 化解率: `resolved` out of `found + carried`.
    pub fn rate(&self) -> Ratio {
        Ratio::new(self.resolved, self.pending())
    }
}

/// What is ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ranked {
    /// Townships (and streets) within the place.
    Townships,
    /// Departments whose place lies within the place.
    Departments,
}

/// What entries are ranked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// 排查量: more is better.
    Found,
    /// 化解率: higher is better.
    Rate,
}

/// One ranked township or department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RankEntry {
    /// Its rank: `None` for a rate ranking's entries without a rate.
    pub rank: Option<u32>,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The counts behind the figures.
    pub figures: RankFigures,
}

/// One ranking, best first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ranking {
    /// What is ranked.
    pub ranked: Ranked,
    /// By which figure.
    pub by: RankBy,
    /// The entries, in rank order, ties by code.
    pub entries: Vec<RankEntry>,
}

/// Ranks `figures` (code → counts; names from `name`) by `by`.
fn rank(
    figures: &BTreeMap<String, RankFigures>,
    name: impl Fn(&str) -> String,
    ranked: Ranked,
    by: RankBy,
) -> Ranking {
    let better = |a: &RankFigures, b: &RankFigures| -> Option<Ordering> {
        match by {
            RankBy::Found => Some(b.found.cmp(&a.found)),
            RankBy::Rate => b.rate().cmp_exact(a.rate()),
        }
    };
    let mut all: Vec<(&String, &RankFigures)> = figures.iter().collect();
    // Ranked ones by figure then code; unrated ones after them by code.
    all.sort_by(|(ca, a), (cb, b)| match (by, a.pending() > 0, b.pending() > 0) {
        (RankBy::Rate, true, false) => Ordering::Less,
        (RankBy::Rate, false, true) => Ordering::Greater,
        _ => better(a, b).unwrap_or(Ordering::Equal).then_with(|| ca.cmp(cb)),
    });
    let entries = all
        .iter()
        .map(|(code, f)| {
            let rated = by == RankBy::Found || f.pending() > 0;
            let rank = rated.then(|| {
                let ahead = all
                    .iter()
                    .filter(|(_, other)| {
                        (by == RankBy::Found || other.pending() > 0)
                            && better(f, other) == Some(Ordering::Greater)
                    })
                    .count();
                u32::try_from(ahead + 1).unwrap_or(u32::MAX)
            });
            RankEntry { rank, code: (*code).clone(), name: name(code), figures: **f }
        })
        .collect();
    Ranking { ranked, by, entries }
}

/// The quarterly rankings of a place, fed the dispute records one at a time.
#[derive(Debug)]
pub struct QuarterRanking<'d> {
    dir: &'d Directory,
    params: QuarterParams,
    period: Period,
    township_of: HashMap<String, String>,
    townships: BTreeMap<String, RankFigures>,
    departments: BTreeMap<String, RankFigures>,
}

impl<'d> QuarterRanking<'d> {
    /// Rankings for `params.place` (a county or a city; any place works:
    /// what matters is the townships and departments within it).
    pub fn new(dir: &'d Directory, params: QuarterParams) -> Result<Self, LedgerError> {
        if dir.place(&params.place).is_none() {
            return Err(LedgerError::UnknownPlace(params.place));
        }
        let mut township_of = HashMap::new();
        let mut townships = BTreeMap::new();
        for code in dir.subtree(Some(&params.place)) {
            if dir.level(&code) == Some(Level::Township) {
                for below in dir.subtree(Some(&code)) {
                    township_of.insert(below, code.clone());
                }
                townships.insert(code, RankFigures::default());
            }
        }
        let departments = dir
            .units()
            .filter(|u| dir.is_within(&u.place, Some(&params.place)))
            .map(|u| (u.code.clone(), RankFigures::default()))
            .collect();
        let period = params.quarter.period(params.utc_offset_minutes);
        Ok(Self { dir, params, period, township_of, townships, departments })
    }

    /// Counts one record (anything but a dispute registered within the
    /// place is passed over).
    pub fn add(&mut self, record: &RecordState) {
        if let Some(d) = Dispute::of(record) {
            self.add_read(&d);
        }
    }

    /// Counts a dispute already read ([`Dispute::of`]), as [`Self::add`]
    /// counts its record.
    pub(crate) fn add_read(&mut self, d: &Dispute) {
        if !self.dir.is_within(&d.registered_at, Some(&self.params.place)) {
            return;
        }
        let Some(f) = d.within(self.period) else { return };
        if let Some(t) = self.township_of.get(&d.registered_at)
            && let Some(fig) = self.townships.get_mut(t)
        {
            fig.found += u64::from(f.found);
            fig.carried += u64::from(f.pending && !f.found);
            fig.resolved += u64::from(f.resolved);
        }
        let held = f
            .start
            .filter(|s| matches!(s.stage, Stage::Transferred | Stage::Handling | Stage::ClosureRequested))
            .and_then(|s| s.handler.as_deref());
        let mut units: BTreeSet<&str> = f.transfers.iter().copied().collect();
        units.extend(held);
        for unit in units {
            let Some(fig) = self.departments.get_mut(unit) else { continue };
            if held == Some(unit) {
                fig.carried += 1;
            } else {
                fig.found += 1;
            }
            if f.end.stage == Stage::Closed && f.end.handler.as_deref() == Some(unit) {
                fig.resolved += 1;
            }
        }
    }

    /// The four rankings.
    pub fn finish(self) -> Rankings {
        let dir = self.dir;
        let place = |c: &str| place_name(dir, c);
        let unit = |c: &str| unit_name(dir, c);
        Rankings {
            place: self.params.place.clone(),
            place_name: place_name(dir, &self.params.place),
            quarter: self.params.quarter,
            utc_offset_minutes: self.params.utc_offset_minutes,
            as_of: self.params.as_of,
            townships_by_found: rank(&self.townships, place, Ranked::Townships, RankBy::Found),
            townships_by_rate: rank(&self.townships, place, Ranked::Townships, RankBy::Rate),
            departments_by_found: rank(&self.departments, unit, Ranked::Departments, RankBy::Found),
            departments_by_rate: rank(&self.departments, unit, Ranked::Departments, RankBy::Rate),
        }
    }
}

/// A place's rankings for a quarter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rankings {
    /// The place's code.
    pub place: String,
    /// Its name.
    pub place_name: String,
    /// The quarter.
    pub quarter: Quarter,
    /// The deployment's time zone, minutes east of UTC.
    pub utc_offset_minutes: i32,
    /// Where the figures come from.
    pub as_of: AsOf,
    /// Townships by disputes found.
    pub townships_by_found: Ranking,
    /// Townships by resolution rate.
    pub townships_by_rate: Ranking,
    /// Departments by disputes transferred to them.
    pub departments_by_found: Ranking,
    /// Departments by the share of those they settled.
    pub departments_by_rate: Ranking,
}

impl Rankings {
    /// The four rankings as sheets, townships first.
    pub fn sheets(&self) -> Vec<Sheet<'_>> {
        [
            &self.townships_by_found,
            &self.townships_by_rate,
            &self.departments_by_found,
            &self.departments_by_rate,
        ]
        .into_iter()
        .map(|r| self.sheet(r))
        .collect()
    }

    fn sheet<'a>(&self, r: &'a Ranking) -> Sheet<'a> {
        let (who, found, carried, what) = match r.ranked {
            Ranked::Townships => ("乡镇", "排查量", "结转未化解", "化解"),
            Ranked::Departments => ("部门", "承办量", "季初在办", "办结"),
        };
        let by = match r.by {
            RankBy::Found => found,
            RankBy::Rate => {
                if r.ranked == Ranked::Townships {
                    "化解率"
                } else {
                    "办结率"
                }
            }
        };
        let (columns, header, header_rows) = header(vec![
            HeaderNode::Column(Column::new("rank", "名次", 6, Kind::Integer)),
            HeaderNode::Column(Column::new("code", "代码", 16, Kind::Text)),
            HeaderNode::Column(Column::new("name", "名称", 24, Kind::Text)),
            HeaderNode::Column(Column::new("found", found, 10, Kind::Integer)),
            HeaderNode::Group(
                what.to_owned(),
                vec![
                    Column::new("carried", carried, 10, Kind::Integer),
                    Column::new("pending", &format!("应{what}"), 10, Kind::Integer),
                    Column::new("resolved", &format!("已{what}"), 10, Kind::Integer),
                    Column::new("rate", &format!("{what}率"), 10, Kind::Ratio),
                ],
            ),
        ]);
        let rows = r.entries.iter().map(|e| Row {
            style: RowStyle::Body,
            cells: vec![
                e.rank.map_or(Cell::Empty, Cell::count),
                Cell::text(e.code.as_str()),
                Cell::text(e.name.as_str()),
                Cell::count(e.figures.found),
                Cell::count(e.figures.carried),
                Cell::count(e.figures.pending()),
                Cell::count(e.figures.resolved),
                Cell::Ratio(e.figures.rate()),
            ],
        });
        let definition = match r.ranked {
            Ranked::Townships => {
                "排查量：本季度登记的纠纷；应化解 = 排查量 + 季初未化解的结转纠纷；化解率 = 已化解 ÷ 应化解。"
            }
            Ranked::Departments => {
                "承办量：本季度转办至该部门的纠纷；应办结 = 承办量 + 季初在办；办结率 = 季末由该部门办结销号的纠纷 ÷ 应办结。"
            }
        };
        Sheet {
            name: format!("{who}{by}排名"),
            title: vec![
                format!("{}{}{who}矛盾纠纷{by}排名", self.place_name, self.quarter.label()),
                format!("单位代码：{}", self.place),
            ],
            columns,
            header,
            header_rows,
            frozen_columns: 3,
            rows: Box::new(rows),
            footer: vec![
                as_of_line(self.as_of, self.utc_offset_minutes),
                definition.to_owned(),
                "名次相同者并列，其后名次顺延（如 1、1、3），并列者按代码排列；比率按精确值比较；无应化解（应办结）纠纷者不参与比率排名，列于最后。"
                    .to_owned(),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figs(found: u64, carried: u64, resolved: u64) -> RankFigures {
        RankFigures { found, carried, resolved }
    }

    #[test]
    fn equal_figures_share_a_rank_and_skip_the_next() {
        let f = BTreeMap::from([
            ("b".to_owned(), figs(5, 0, 1)),
            ("a".to_owned(), figs(5, 1, 2)),
            ("c".to_owned(), figs(7, 0, 7)),
            ("d".to_owned(), figs(0, 0, 0)),
            ("e".to_owned(), figs(2, 2, 2)),
        ]);
        let by_found = rank(&f, str::to_owned, Ranked::Townships, RankBy::Found);
        let got: Vec<(Option<u32>, &str)> =
            by_found.entries.iter().map(|e| (e.rank, e.code.as_str())).collect();
        assert_eq!(got, [(Some(1), "c"), (Some(2), "a"), (Some(2), "b"), (Some(4), "e"), (Some(5), "d")]);
        // Rates: c 7/7, a 2/6, e 2/4 = 1/2, b 1/5; d has none.
        let by_rate = rank(&f, str::to_owned, Ranked::Townships, RankBy::Rate);
        let got: Vec<(Option<u32>, &str)> =
            by_rate.entries.iter().map(|e| (e.rank, e.code.as_str())).collect();
        assert_eq!(got, [(Some(1), "c"), (Some(2), "e"), (Some(3), "a"), (Some(4), "b"), (None, "d")]);
        let tie = BTreeMap::from([("y".to_owned(), figs(2, 0, 1)), ("x".to_owned(), figs(3, 1, 2))]);
        let got: Vec<(Option<u32>, String)> = rank(&tie, str::to_owned, Ranked::Departments, RankBy::Rate)
            .entries
            .into_iter()
            .map(|e| (e.rank, e.code))
            .collect();
        assert_eq!(got, [(Some(1), "x".to_owned()), (Some(1), "y".to_owned())], "1/2 ties with 2/4, by code");
    }
}
