//! `sweep --vary --svg`: the rows as a line chart a learner reads at a glance. x is the
//! first varied key, one line per value of the others; two panels, throughput and p99
//! latency, side by side so a knee in one lines up with the other.

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use sovlab_sim::vary::{spec, Row, Side};

/// Size of the whole picture, in SVG pixels.
const SIZE: (u32, u32) = (1100, 460);

/// Colour-blind-safe line colours (Okabe and Ito), in the order lines are drawn.
const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// The unit a key's name implies, for an axis label.
fn unit(key: &str) -> Option<&'static str> {
    let last = key.rsplit('.').next().unwrap_or(key);
    if last.ends_with("_per_s") {
        Some("per s")
    } else if last.ends_with("_ms") {
        Some("ms")
    } else if last == "workers" {
        Some("servers")
    } else if last == "keys" {
        Some("rows")
    } else {
        None
    }
}

/// One line of the chart: its label and its (x, throughput, p99) points.
struct Line {
    label: String,
    points: Vec<(f64, f64, f64)>,
}

/// The chart's lines and x axis: numeric when every x value is a number, else one
/// evenly spaced place per value, in the order given.
fn lines(rows: &[Row]) -> (Vec<Line>, Vec<String>, bool) {
    let mut xs: Vec<String> = Vec::new();
    let numeric = rows
        .iter()
        .all(|r| r.params.first().is_some_and(|(_, v)| number(v).is_some()));
    let mut out: Vec<Line> = Vec::new();
    for r in rows {
        let (x_text, x) = match r.params.first() {
            Some((_, v)) => {
                let t = spec::show(v);
                let x = number(v).unwrap_or(f64::NAN);
                (t, x)
            }
            None => (String::new(), 0.0),
        };
        let place = match xs.iter().position(|s| *s == x_text) {
            Some(i) => i,
            None => {
                xs.push(x_text);
                xs.len() - 1
            }
        };
        let x = if numeric { x } else { place as f64 };
        let label = r
            .params
            .iter()
            .skip(1)
            .map(|(k, v)| format!("{} = {}", short(k), spec::show(v)))
            .collect::<Vec<_>>()
            .join(", ");
        let point = (x, r.throughput_per_s, r.p99_ms);
        match out.iter_mut().find(|l| l.label == label) {
            Some(l) => l.points.push(point),
            None => out.push(Line {
                label,
                points: vec![point],
            }),
        }
    }
    (out, xs, numeric)
}

/// A value's place on a number axis: a number, or a list's length (`read.sources`
/// varied over longer and longer lists is "how many sources").
fn number(v: &sovlab_sim::vary::Value) -> Option<f64> {
    v.as_float()
        .or(v.as_integer().map(|i| i as f64))
        .or(v.as_array().map(|a| a.len() as f64))
}

/// A key without its section, for legends: `write.protocol` -> `protocol`.
fn short(key: &str) -> &str {
    key.split_once('.').map_or(key, |(_, rest)| rest)
}

/// The chart as SVG text.
pub fn draw(scenario: &str, measured: Side, rows: &[Row]) -> Result<String> {
    let (lines, xs, numeric) = lines(rows);
    let key = rows
        .first()
        .and_then(|r| r.params.first())
        .map_or("", |(k, _)| k.as_str());
    let lists = rows
        .first()
        .and_then(|r| r.params.first())
        .is_some_and(|(_, v)| v.is_array());
    let x_desc = match if lists { Some("how many") } else { unit(key) } {
        Some(u) => format!("{key} ({u})"),
        None => key.to_string(),
    };
    let (x_lo, x_hi) = if numeric {
        let lo = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.0))
            .fold(f64::INFINITY, f64::min);
        let hi = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.0))
            .fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.04).max(0.5);
        (lo - pad, hi + pad)
    } else {
        (-0.5, xs.len() as f64 - 0.5)
    };
    let what = if measured == Side::Write {
        "committed transactions"
    } else {
        "answered queries"
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let root = root
            .titled(
                &title(scenario, key),
                ("sans-serif", 22).into_font().color(&BLACK),
            )
            .map_err(plot_error)?;
        let panels = root.split_evenly((1, 2));
        let panel_specs = [
            (
                format!("Throughput ({what} per s)"),
                format!("{what} per s"),
                1usize,
            ),
            (
                format!("Latency, p99 ({}s, ms)", measured.name()),
                "p99 latency (ms)".to_string(),
                2usize,
            ),
        ];
        for (area, (caption, y_desc, which)) in panels.iter().zip(panel_specs) {
            let value = |p: &(f64, f64, f64)| if which == 1 { p.1 } else { p.2 };
            let y_hi = lines
                .iter()
                .flat_map(|l| l.points.iter().map(value))
                .fold(0.0f64, f64::max);
            // Headroom above the highest point for the legend in the upper left, so
            // that it covers no line: about 22 px per entry of a ~330 px plot.
            let legend = lines.iter().filter(|l| !l.label.is_empty()).count() as f64;
            let room = if legend > 0.0 {
                ((22.0 * legend + 26.0) / 330.0).min(0.5)
            } else {
                0.1
            };
            let y_hi = if y_hi > 0.0 { y_hi / (1.0 - room) } else { 1.0 };
            let mut chart = ChartBuilder::on(area)
                .caption(caption, ("sans-serif", 17))
                .margin(14)
                .x_label_area_size(48)
                .y_label_area_size(64)
                .build_cartesian_2d(x_lo..x_hi, 0.0..y_hi)
                .map_err(plot_error)?;
            let x_names = xs.clone();
            let x_format = move |x: &f64| -> String {
                if numeric {
                    trim(*x)
                } else {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < x_names.len() {
                        x_names[i as usize].clone()
                    } else {
                        String::new()
                    }
                }
            };
            let mut mesh = chart.configure_mesh();
            mesh.x_desc(x_desc.as_str())
                .y_desc(y_desc.as_str())
                .axis_desc_style(("sans-serif", 14))
                .label_style(("sans-serif", 12))
                .light_line_style(RGBColor(246, 246, 246))
                .bold_line_style(RGBColor(215, 215, 215))
                .x_label_formatter(&x_format)
                .y_label_formatter(&|y: &f64| trim(*y));
            if !numeric {
                mesh.x_labels(xs.len() * 2 + 1);
            } else if xs.len() <= 12 {
                mesh.x_labels(xs.len().max(2));
            }
            mesh.draw().map_err(plot_error)?;
            for (i, line) in lines.iter().enumerate() {
                let colour = COLOURS[i % COLOURS.len()];
                let pts: Vec<(f64, f64)> = line.points.iter().map(|p| (p.0, value(p))).collect();
                let series = chart
                    .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
                    .map_err(plot_error)?;
                if !line.label.is_empty() {
                    series.label(line.label.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                    });
                }
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                    .map_err(plot_error)?;
            }
            if lines.iter().any(|l| !l.label.is_empty()) {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .background_style(WHITE.mix(0.85))
                    .border_style(RGBColor(190, 190, 190))
                    .label_font(("sans-serif", 13))
                    .draw()
                    .map_err(plot_error)?;
            }
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Most characters a title shows at its size across the picture.
const TITLE_CHARS: usize = 84;

/// "SCENARIO: what it costs as KEY varies", the scenario's name cut to fit.
fn title(scenario: &str, key: &str) -> String {
    let tail = format!(": what it costs as {key} varies");
    let room = TITLE_CHARS.saturating_sub(tail.chars().count()).max(12);
    // A long name is cut at its colon when it has one ("Reads over more sources: ..."),
    // else at the room left.
    let scenario = match scenario.split_once(':') {
        Some((head, _)) if scenario.chars().count() > room => head,
        _ => scenario,
    };
    let name: String = if scenario.chars().count() > room {
        let cut: String = scenario.chars().take(room - 1).collect();
        format!("{}…", cut.trim_end())
    } else {
        scenario.to_string()
    };
    format!("{name}{tail}")
}

/// A number for an axis label: no trailing zeros.
fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn plot_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw the chart: {e:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sovlab_sim::vary::Busiest;

    fn row(rate: i64, protocol: &str, thr: f64, p99: f64) -> Row {
        Row {
            params: vec![
                ("write.arrival_rate_per_s".into(), rate.into()),
                ("write.protocol".into(), protocol.into()),
            ],
            runs: 4,
            throughput_per_s: thr,
            p50_ms: p99 / 3.0,
            p99_ms: p99,
            staleness_ms: None,
            availability: None,
            busiest: Some(Busiest {
                node: "database".into(),
                utilization: 0.5,
            }),
            invariants: vec![],
            expect_met: true,
            panicked: 0,
        }
    }

    #[test]
    fn the_chart_is_well_formed_svg_with_a_title_axes_and_a_legend() {
        let rows = [
            row(50, "saga", 50.0, 20.0),
            row(50, "two-phase-commit", 48.0, 30.0),
            row(100, "saga", 99.0, 25.0),
            row(100, "two-phase-commit", 70.0, 300.0),
        ];
        let svg = draw("Checkout", Side::Write, &rows).unwrap();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        for want in [
            "Checkout: what it costs as write.arrival_rate_per_s varies",
            "write.arrival_rate_per_s (per s)",
            "p99 latency (ms)",
            "protocol = saga",
            "protocol = two-phase-commit",
        ] {
            assert!(texts.contains(&want), "{want:?} in {texts:?}");
        }
        // Each protocol's colour: its line and its legend entry, in both panels.
        for colour in ["#0072B2", "#D55E00"] {
            let n = doc
                .descendants()
                .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(colour))
                .count();
            assert_eq!(n, 4, "{colour}");
        }
    }

    #[test]
    fn words_on_the_x_axis_are_placed_in_order() {
        let rows = [row(1, "saga", 1.0, 1.0)];
        let mut r = rows[0].clone();
        r.params.truncate(1);
        r.params[0] = ("write.protocol".into(), "saga".into());
        let mut s = r.clone();
        s.params[0].1 = "shared-database".into();
        let svg = draw("x", Side::Write, &[r, s]).unwrap();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        let at = |w: &str| texts.iter().position(|t| *t == w);
        assert!(
            at("saga").is_some() && at("shared-database").is_some(),
            "{texts:?}"
        );
        assert!(
            at("saga") < at("shared-database"),
            "in the order given: {texts:?}"
        );
    }
}
