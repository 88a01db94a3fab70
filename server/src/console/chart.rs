//! The 12-month chart of the ledgers page, drawn on the server as inline
//! SVG: the resolution rate (化解率) and the reporting rate (报送率) of each
//! month, 0–100 %, one line each, with a gap where a month has no
//! denominator. No script; each point has a `<title>` the browser shows
//! on hover.

use gridsync_server_core::ledger::sheet::Ratio;
use gridsync_server_core::service::trend::TrendPoint;
use maud::{Markup, html};

use super::i18n::Texts;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 44.0;

/// The chart of `points` (oldest first).
pub(crate) fn svg(t: &Texts, points: &[TrendPoint]) -> Markup {
    let n = points.len();
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| if n <= 1 { LEFT + plot_w / 2.0 } else { LEFT + plot_w * i as f64 / (n - 1) as f64 };
    let y = |share: f64| TOP + plot_h * (1.0 - share.clamp(0.0, 1.0));
    let series = |pick: fn(&TrendPoint) -> Ratio| -> Vec<Vec<(f64, f64)>> {
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (i, p) in points.iter().enumerate() {
            match pick(p).value() {
                Some(v) => {
                    if let Some(run) = runs.last_mut() {
                        run.push((x(i), y(v)));
                    }
                }
                None => runs.push(Vec::new()),
            }
        }
        runs.into_iter().filter(|r| !r.is_empty()).collect()
    };
    let resolution = series(|p| p.resolution);
    let reporting = series(|p| p.reporting);
    let label = format!("{}: {} / {}", t.chart_title, t.resolution_rate, t.reporting_rate);
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(label) id="trend" {
            @for pct in [0u32, 25, 50, 75, 100] {
                @let gy = y(f64::from(pct) / 100.0);
                line.grid-line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(gy) y2=(gy) {}
                text x=(LEFT - 6.0) y=(gy + 4.0) text-anchor="end" { (pct) "%" }
            }
            line.axis x1=(LEFT) x2=(LEFT) y1=(TOP) y2=(TOP + plot_h) {}
            line.axis x1=(LEFT) x2=(WIDTH - RIGHT) y1=(TOP + plot_h) y2=(TOP + plot_h) {}
            @for (i, p) in points.iter().enumerate() {
                text x=(x(i)) y=(HEIGHT - BOTTOM + 16.0) text-anchor="middle" { (p.month.to_string()[2..].to_owned()) }
            }
            @for run in &resolution { polyline.resolution points=(polyline(run)) {} }
            @for run in &reporting { polyline.reporting points=(polyline(run)) {} }
            @for (i, p) in points.iter().enumerate() {
                @if let Some(v) = p.resolution.value() {
                    circle.dot-resolution cx=(x(i)) cy=(y(v)) r="3.5" data-month=(p.month.to_string()) data-resolution=(percent(p.resolution)) {
                        title { (p.month.to_string()) " " (t.resolution_rate) " " (percent(p.resolution)) }
                    }
                }
                @if let Some(v) = p.reporting.value() {
                    circle.dot-reporting cx=(x(i)) cy=(y(v)) r="3.5" data-month=(p.month.to_string()) data-reporting=(percent(p.reporting)) {
                        title { (p.month.to_string()) " " (t.reporting_rate) " " (percent(p.reporting)) }
                    }
                }
            }
            // The legend.
            line.resolution x1=(LEFT) x2=(LEFT + 24.0) y1=(HEIGHT - 10.0) y2=(HEIGHT - 10.0) {}
            text x=(LEFT + 30.0) y=(HEIGHT - 6.0) { (t.resolution_rate) }
            line.reporting x1=(LEFT + 170.0) x2=(LEFT + 194.0) y1=(HEIGHT - 10.0) y2=(HEIGHT - 10.0) {}
            text x=(LEFT + 200.0) y=(HEIGHT - 6.0) { (t.reporting_rate) }
        }
    }
}

fn polyline(points: &[(f64, f64)]) -> String {
    points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ")
}

fn percent(r: Ratio) -> String {
    r.percent_text().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use gridsync_server_core::ledger::Month;

    use super::*;
    use crate::console::i18n::ZH;

    fn point(month: &str, resolved: (u64, u64), reported: (u64, u64)) -> TrendPoint {
        TrendPoint {
            month: month.parse::<Month>().expect("a month"),
            resolution: Ratio::new(resolved.0, resolved.1),
            reporting: Ratio::new(reported.0, reported.1),
        }
    }

    #[test]
    fn a_month_without_a_denominator_breaks_the_line() {
        let points = [
            point("2026-01", (1, 2), (9, 10)),
            point("2026-02", (0, 0), (10, 10)),
            point("2026-03", (2, 2), (5, 10)),
        ];
        let svg = svg(&ZH, &points).into_string();
        assert_eq!(svg.matches(r#"<polyline class="resolution""#).count(), 2, "{svg}");
        assert_eq!(svg.matches(r#"<polyline class="reporting""#).count(), 1, "{svg}");
        assert!(svg.contains(r#"data-resolution="50.00%""#) && svg.contains(r#"data-reporting="90.00%""#));
        assert!(svg.contains("化解率") && !svg.contains("<script"));
    }

    #[test]
    fn no_points_draw_only_the_axes() {
        let svg = svg(&ZH, &[]).into_string();
        assert!(svg.contains("<svg") && !svg.contains("polyline points"));
    }
}
