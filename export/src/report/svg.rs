//! Two chart shapes drawn as plain inline SVG, enough for the report:
//! stacked horizontal bars (one bar per category) and stacked columns (one
//! column per category, with an optional vertical marker between columns
//! and an optional time axis). Every chart has a visible title, axis labels
//! and a legend; every rectangle a `<title>` so a browser shows its value on
//! hover; no font file.
//!
//! A series is coloured by its name, never by its position, so a path or a
//! verdict has the same colour in every chart.

use std::fmt::Write;

/// Colours by series name: the Okabe-Ito set (readable with every common
/// colour-vision deficiency), one per path and one per verdict.
pub const PALETTE: [(&str, &str); 7] = [
    ("expressroute", "#0072B2"),
    ("internet", "#E69F00"),
    ("local", "#009E73"),
    ("unknown", "#999999"),
    ("good", "#56B4E9"),
    ("poor", "#D55E00"),
    ("not judged", "#CC79A7"),
];

/// Colours of series the palette does not name (e.g. all paths together).
const OTHER: [&str; 2] = ["#000000", "#F0E442"];

/// The colour of the series `name`.
/// A qualified path (`expressroute (predicted)`) keeps its path's colour.
pub fn colour_of(name: &str) -> &'static str {
    let base = name.split(" (").next().unwrap_or(name);
    PALETTE
        .iter()
        .find(|(n, _)| *n == base)
        .map_or_else(|| OTHER[name.len() % OTHER.len()], |(_, c)| c)
}

/// A chart's visible text: title and axis labels.
#[derive(Clone, Copy, Debug)]
pub struct Labels<'a> {
    /// Over the chart.
    pub title: &'a str,
    /// Under the x axis.
    pub x: &'a str,
    /// Beside the y axis (columns) or the categories (bars).
    pub y: &'a str,
}

/// Data of a stacked chart: `values[c][s]` is series `s` in category `c`.
#[derive(Clone, Debug, Default)]
pub struct Stacked {
    /// Category labels (bars or columns).
    pub categories: Vec<String>,
    /// Series names (stack segments, the legend).
    pub series: Vec<String>,
    /// One row per category, one value per series.
    pub values: Vec<Vec<f64>>,
}

impl Stacked {
    fn total(&self, c: usize) -> f64 {
        self.values.get(c).map_or(0.0, |v| v.iter().sum())
    }

    fn max_total(&self) -> f64 {
        (0..self.categories.len())
            .map(|c| self.total(c))
            .fold(0.0, f64::max)
    }
}

/// Escapes text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A step of 1, 2 or 5 times a power of ten giving about `n` ticks up to `max`.
pub fn nice_step(max: f64, n: u32) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / f64::from(n.max(1));
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

/// How a value is written on an axis and in a tooltip.
pub type Fmt = fn(f64) -> String;

fn legend(s: &mut String, series: &[String], x: f64, y: f64) {
    let mut cx = x;
    for name in series {
        let _ = write!(
            s,
            r#"<rect class="key" data-series="{n}" x="{cx:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="11">{n}</text>"#,
            y - 9.0,
            colour_of(name),
            cx + 14.0,
            y,
            n = esc(name)
        );
        // Roughly 6.5 px per character at 11 px.
        #[allow(clippy::cast_precision_loss)]
        let w = name.chars().count() as f64 * 6.5;
        cx += 30.0 + w;
    }
}

/// Opens the SVG with its title (hover and visible), legend and axis labels.
fn open_svg(s: &mut String, class: &str, (w, h): (f64, f64), l: &Labels<'_>, series: &[String]) {
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart {class}" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" role="img" font-family="sans-serif"><title>{t}</title><text class="chart-title" x="10" y="18" font-size="14" font-weight="bold">{t}</text>"#,
        t = esc(l.title)
    );
    legend(s, series, 10.0, 38.0);
    let _ = write!(
        s,
        r#"<text class="axis-label" x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text><text class="axis-label" x="12" y="{:.1}" font-size="11" text-anchor="middle" transform="rotate(-90 12 {:.1})">{}</text>"#,
        w / 2.0,
        h - 6.0,
        esc(l.x),
        h / 2.0,
        h / 2.0,
        esc(l.y)
    );
}

/// Horizontal stacked bars, one per category, values on the x axis.
pub fn hbars(d: &Stacked, l: &Labels<'_>, fmt: Fmt) -> String {
    let (left, right, top, bar, gap) = (190.0, 40.0, 52.0, 20.0, 8.0);
    let width = 760.0;
    #[allow(clippy::cast_precision_loss)]
    let n = d.categories.len() as f64;
    let plot_h = n * (bar + gap);
    let height = top + plot_h + 44.0;
    let plot_w = width - left - right;
    let step = nice_step(d.max_total(), 5);
    let max = (d.max_total() / step).ceil().max(1.0) * step;
    let x = |v: f64| left + v / max * plot_w;
    let mut s = String::new();
    open_svg(&mut s, "hbars", (width, height), l, &d.series);
    let mut t = 0.0;
    while t <= max + step / 2.0 {
        let _ = write!(
            s,
            r##"<line x1="{xt:.1}" x2="{xt:.1}" y1="{top:.1}" y2="{y2:.1}" stroke="#ddd"/><text x="{xt:.1}" y="{ly:.1}" font-size="10" text-anchor="middle">{label}</text>"##,
            xt = x(t),
            y2 = top + plot_h,
            ly = top + plot_h + 14.0,
            label = esc(&fmt(t))
        );
        t += step;
    }
    for (c, name) in d.categories.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let y = top + c as f64 * (bar + gap);
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + bar * 0.7,
            esc(name)
        );
        let mut acc = 0.0;
        for (i, v) in d.values[c].iter().enumerate() {
            if *v <= 0.0 {
                continue;
            }
            let _ = write!(
                s,
                r#"<rect class="bar" data-series="{}" x="{:.2}" y="{y:.1}" width="{:.2}" height="{bar:.1}" fill="{}"><title>{} / {}: {}</title></rect>"#,
                esc(&d.series[i]),
                x(acc),
                (x(acc + v) - x(acc)).max(0.5),
                colour_of(&d.series[i]),
                esc(name),
                esc(&d.series[i]),
                esc(&fmt(*v))
            );
            acc += v;
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="10">{}</text>"#,
            x(acc) + 4.0,
            y + bar * 0.7,
            esc(&fmt(acc))
        );
    }
    s.push_str("</svg>");
    s
}

/// A vertical line drawn before column `at` (which may be fractional).
#[derive(Clone, Debug)]
pub struct Marker {
    /// Column position, 0 = left edge of the first column.
    pub at: f64,
    /// Its label.
    pub label: String,
}

/// Dated ticks under a plot whose bottom is at `y0`.
fn time_ticks(s: &mut String, ticks: &[(f64, Vec<String>)], x: impl Fn(f64) -> f64, y0: f64) {
    for (at, lines) in ticks {
        let tx = x(*at);
        let _ = write!(
            s,
            r##"<line x1="{tx:.1}" x2="{tx:.1}" y1="{y0:.1}" y2="{:.1}" stroke="#333"/><text class="tick" x="{tx:.1}" y="{:.1}" font-size="10" text-anchor="middle">"##,
            y0 + 4.0,
            y0 + 15.0
        );
        for (i, line) in lines.iter().enumerate() {
            let dy = if i == 0 { 0.0 } else { 12.0 };
            let _ = write!(
                s,
                r#"<tspan x="{tx:.1}" dy="{dy:.0}">{}</tspan>"#,
                esc(line)
            );
        }
        s.push_str("</text>");
    }
}

/// A dashed target line at `mx` from `top` to `bottom`, with its label.
fn target(s: &mut String, m: &Marker, mx: f64, top: f64, bottom: f64) {
    let _ = write!(
        s,
        r##"<line class="target" x1="{mx:.1}" x2="{mx:.1}" y1="{top:.1}" y2="{bottom:.1}" stroke="#000" stroke-width="2" stroke-dasharray="5,3"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#000">{}</text>"##,
        mx + 4.0,
        top + 12.0,
        esc(&m.label)
    );
}

/// How the columns' x axis is labelled.
#[derive(Clone, Debug)]
pub enum XAxis {
    /// Every n-th category name under its column.
    Every(usize),
    /// Time ticks: (position in columns from the left edge, label lines).
    Ticks(Vec<(f64, Vec<String>)>),
}

/// Stacked columns, one per category.
pub fn columns(
    d: &Stacked,
    l: &Labels<'_>,
    fmt: Fmt,
    axis: &XAxis,
    marker: Option<&Marker>,
) -> String {
    let (left, right, top, bottom) = (80.0, 20.0, 52.0, 64.0);
    let (width, height) = (760.0, 320.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    #[allow(clippy::cast_precision_loss)]
    let n = d.categories.len().max(1) as f64;
    let slot = plot_w / n;
    let step = nice_step(d.max_total(), 4);
    let max = (d.max_total() / step).ceil().max(1.0) * step;
    let y = |v: f64| top + plot_h - v / max * plot_h;
    let mut s = String::new();
    open_svg(&mut s, "columns", (width, height), l, &d.series);
    let mut t = 0.0;
    while t <= max + step / 2.0 {
        let _ = write!(
            s,
            r##"<line x1="{left:.1}" x2="{x2:.1}" y1="{yt:.1}" y2="{yt:.1}" stroke="#ddd"/><text x="{lx:.1}" y="{ly:.1}" font-size="10" text-anchor="end">{label}</text>"##,
            x2 = width - right,
            yt = y(t),
            lx = left - 4.0,
            ly = y(t) + 3.0,
            label = esc(&fmt(t))
        );
        t += step;
    }
    for (c, name) in d.categories.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x0 = left + c as f64 * slot + slot * 0.1;
        let w = slot * 0.8;
        let mut acc = 0.0;
        for (i, v) in d.values[c].iter().enumerate() {
            if *v <= 0.0 {
                continue;
            }
            let _ = write!(
                s,
                r#"<rect class="bar" data-series="{}" x="{x0:.2}" y="{:.2}" width="{w:.2}" height="{:.2}" fill="{}"><title>{} / {}: {}</title></rect>"#,
                esc(&d.series[i]),
                y(acc + v),
                (y(acc) - y(acc + v)).max(0.5),
                colour_of(&d.series[i]),
                esc(name),
                esc(&d.series[i]),
                esc(&fmt(*v))
            );
            acc += v;
        }
        if matches!(axis, XAxis::Every(n) if *n > 0 && c % n == 0) {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
                x0 + w / 2.0,
                top + plot_h + 14.0,
                esc(name)
            );
        }
    }
    if let XAxis::Ticks(ticks) = axis {
        time_ticks(&mut s, ticks, |at| left + at * slot, top + plot_h);
    }
    if let Some(m) = marker {
        target(&mut s, m, left + m.at * slot, top, top + plot_h);
    }
    let _ = write!(
        s,
        r##"<line x1="{left:.1}" x2="{x2:.1}" y1="{y0:.1}" y2="{y0:.1}" stroke="#333"/></svg>"##,
        x2 = width - right,
        y0 = top + plot_h
    );
    s
}

#[cfg(test)]
mod test {
    use super::*;

    const LABELS: Labels<'static> = Labels {
        title: "t",
        x: "x",
        y: "y",
    };

    fn data() -> Stacked {
        Stacked {
            categories: vec!["media".into(), "web<>".into()],
            series: vec!["expressroute".into(), "internet".into()],
            values: vec![vec![100.0, 50.0], vec![0.0, 30.0]],
        }
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(100.0, 5), 20.0);
        assert_eq!(nice_step(7.0, 5), 2.0);
        assert_eq!(nice_step(0.0, 5), 1.0);
        assert_eq!(nice_step(1234.0, 4), 500.0);
    }

    #[test]
    fn bars_scale_to_the_largest_total_and_escape_labels() {
        let s = hbars(&data(), &LABELS, |v| format!("{v}"));
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        // Two segments for media, one for web (a zero value draws nothing).
        assert_eq!(s.matches(r#"class="bar""#).count(), 3);
        assert!(s.contains("web&lt;&gt;") && !s.contains("web<>"));
        // The longest bar (150) ends on the last tick (steps of 30).
        assert!(s.contains(">150<") && !s.contains(">180<"), "{s}");
    }

    #[test]
    fn columns_draw_a_marker_and_every_nth_label() {
        let m = Marker {
            at: 1.0,
            label: "target 1%".into(),
        };
        let s = columns(
            &data(),
            &LABELS,
            |v| format!("{v}"),
            &XAxis::Every(2),
            Some(&m),
        );
        assert_eq!(s.matches(r#"class="bar""#).count(), 3);
        assert_eq!(s.matches(r#"class="target""#).count(), 1);
        assert!(s.contains(">media<") && !s.contains(">web&lt;&gt;</text>"));
    }

    #[test]
    fn a_series_has_its_colour_wherever_it_is() {
        let mut d = data();
        let a = hbars(&d, &LABELS, |v| format!("{v}"));
        d.series.reverse();
        let b = columns(&d, &LABELS, |v| format!("{v}"), &XAxis::Every(1), None);
        for s in [a, b] {
            assert!(s.contains(r##"data-series="internet" x"##));
            for (name, colour) in PALETTE.iter().take(2) {
                let n = s.matches(&format!(r#"data-series="{name}""#)).count();
                let with = s
                    .matches(&format!(r#"data-series="{name}""#))
                    .count()
                    .min(s.matches(&format!(r#"fill="{colour}""#)).count());
                assert!(n > 0 && n == with, "{name} {colour}: {s}");
            }
        }
        assert!(hbars(&data(), &LABELS, |v| format!("{v}")).contains(r#"class="chart-title""#));
    }
}
