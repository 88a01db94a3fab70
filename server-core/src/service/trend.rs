//! A place's trend over months: the resolution rate (化解率) and the
//! reporting rate (报送率) of each month, as the month's ledger computes
//! them ([`super::ledgers`]), for the console's chart. Same readers and
//! refusals as the ledgers; audited as `ledger.trend`.

use std::sync::atomic::AtomicU64;

use super::ledgers::{as_of, authorize, refused};
use super::{Caller, Service, reports};
use crate::audit::Event;
use crate::error::CoreResult;
use crate::ledger::sheet::Ratio;
use crate::ledger::{Month, MonthLedger, MonthParams, Rows};

/// One month of a place's trend: the two shares the console charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrendPoint {
    /// The month.
    pub month: Month,
    /// 化解率: the month's resolved disputes out of those to resolve
    /// ([`crate::ledger::table::DisputeFigures::resolution_rate`] over the place).
    pub resolution: Ratio,
    /// 报送率: daily reports filed out of those due, over the days of the
    /// month that had ended ([`crate::ledger::table::WorkFigures::report_rate`]).
    pub reporting: Ratio,
}

/// Most months in one trend.
pub const MAX_TREND_MONTHS: u8 = 24;

impl Service {
    /// `place`'s resolution and reporting rates for the `months` months
    /// ending with `last` (oldest first), as the month's ledger computes
    /// them, from one read snapshot: the ledgers' index brought up to it
    /// and the daily reports. Refused
    /// as [`Self::month_ledgers`]; audited as `ledger.trend`.
    pub async fn ledger_trend(
        &self,
        caller: &Caller,
        place: &str,
        last: Month,
        months: u8,
    ) -> CoreResult<Vec<TrendPoint>> {
        let months = months.clamp(1, MAX_TREND_MONTHS);
        let (caller2, place2) = (caller.clone(), place.to_owned());
        let offset = self.settings.utc_offset_minutes;
        let result = self
            .read_indexed(move |tx, dir, index| {
                let reader = authorize(&caller2, dir, &place2)?;
                let index = index.at(tx, &AtomicU64::default())?;
                let as_of = as_of(tx)?;
                let mut wanted = vec![last];
                while wanted.len() < usize::from(months) {
                    let before = wanted[wanted.len() - 1].previous();
                    wanted.push(before);
                }
                wanted.reverse();
                let mut ledgers = Vec::with_capacity(wanted.len());
                for month in &wanted {
                    let params = MonthParams {
                        place: place2.clone(),
                        month: *month,
                        utc_offset_minutes: offset,
                        reader,
                        as_of,
                    };
                    let mut ledger = MonthLedger::new(dir, params).map_err(refused)?;
                    // Only the figures count here, not the register's rows.
                    index.feed(&mut ledger, *month, Rows::Skipped);
                    ledgers.push(ledger);
                }
                // The days of these months that had ended by the ledger's time.
                let ended =
                    |d: &gridsync_proto::Date| d.next().is_some_and(|n| n.start_ms(offset) <= as_of.time_ms);
                let first = wanted[0].first_day();
                let end = last.days().filter(ended).last();
                if let Some(end) = end.filter(|e| *e >= first) {
                    for day in reports::daily_span(tx, dir, &place2, first, end, offset)? {
                        let start = day.date.start_ms(offset);
                        if let Some(ledger) = ledgers.iter_mut().find(|l| l.period().contains(start)) {
                            ledger.add_completeness(&day).map_err(refused)?;
                        }
                    }
                }
                Ok(wanted
                    .into_iter()
                    .zip(ledgers)
                    .map(|(month, ledger)| {
                        let table = ledger.finish();
                        TrendPoint {
                            month,
                            resolution: table.total_disputes().resolution_rate(),
                            reporting: table.total_work().report_rate(),
                        }
                    })
                    .collect::<Vec<_>>())
            })
            .await;
        let trend = self.audited(caller, "ledger.trend", place, result).await?;
        let first = trend.first().map_or(last, |p| p.month);
        let detail = format!("months={first}..{last}");
        self.audit(Event::new(caller.audit_name(), "ledger.trend", place, "ok").detail(detail)).await?;
        Ok(trend)
    }
}
