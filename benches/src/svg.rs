//! Hand-written SVG charts (no dependencies): line charts and grouped bar charts, with
//! optional log scales, for the committed plots under `docs/bench/`.

use std::fmt::Write;

const W: f64 = 760.0;
const H: f64 = 420.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 12] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#e7ba52",
];

/// A named series of (x, y) points.
pub type Series = (String, Vec<(f64, f64)>);

/// A line chart.
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Logarithmic x axis (base 2 ticks).
    pub x_log: bool,
    /// Logarithmic y axis (base 10 ticks).
    pub y_log: bool,
    /// The lines.
    pub series: Vec<Series>,
}

/// A grouped bar chart: one group per category, one bar per series in each group.
pub struct BarChart {
    /// Title above the plot.
    pub title: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Logarithmic y axis.
    pub y_log: bool,
    /// Category names along x.
    pub groups: Vec<String>,
    /// (series name, one value per group; `None` where not measured).
    pub series: Vec<(String, Vec<Option<f64>>)>,
    /// A horizontal reference line (value, label), e.g. a target ratio.
    pub reference: Option<(f64, String)>,
}

struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Axis {
    fn new(values: impl Iterator<Item = f64>, log: bool, zero: bool) -> Axis {
        let v: Vec<f64> = values
            .filter(|x| x.is_finite() && (!log || *x > 0.0))
            .collect();
        let (mut lo, mut hi) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        if v.is_empty() {
            (lo, hi) = (1.0, 10.0);
        }
        if log {
            lo = 10f64.powf(lo.log10().floor());
            hi = 10f64.powf(hi.log10().ceil().max(lo.log10() + 1.0));
        } else {
            lo = if zero { 0.0 } else { lo };
            hi = if hi <= lo { lo + 1.0 } else { hi * 1.08 };
        }
        Axis { lo, hi, log }
    }

    /// Position in 0..=1 along the axis.
    fn frac(&self, x: f64) -> f64 {
        if self.log {
            (x.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (x - self.lo) / (self.hi - self.lo)
        }
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (
                self.lo.log10().round() as i32,
                self.hi.log10().round() as i32,
            );
            (a..=b).map(|e| 10f64.powi(e)).collect()
        } else {
            let step = nice_step((self.hi - self.lo) / 5.0);
            let mut t = (self.lo / step).ceil() * step;
            let mut out = Vec::new();
            while t <= self.hi + step * 1e-9 {
                out.push(t);
                t += step;
            }
            out
        }
    }
}

fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    let n = raw / mag;
    mag * if n <= 1.0 {
        1.0
    } else if n <= 2.0 {
        2.0
    } else if n <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// Short number for tick labels: 1.5k, 20M, 0.25.
pub fn fmt_num(x: f64) -> String {
    let a = x.abs();
    let (v, suffix) = if a >= 1e9 {
        (x / 1e9, "G")
    } else if a >= 1e6 {
        (x / 1e6, "M")
    } else if a >= 1e3 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    let s = if v.fract().abs() < 1e-9 || v.abs() >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{suffix}")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn frame(out: &mut String, title: &str, y_label: &str, x_label: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15" font-weight="bold">{}</text>
<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">{}</text>
<text x="{}" y="{}" text-anchor="middle">{}</text>
"#,
        (LEFT + W - RIGHT) / 2.0,
        esc(title),
        (TOP + H - BOTTOM) / 2.0,
        esc(y_label),
        (LEFT + W - RIGHT) / 2.0,
        H - 12.0,
        esc(x_label)
    );
}

fn y_grid(out: &mut String, y: &Axis) {
    let ph = H - TOP - BOTTOM;
    for t in y.ticks() {
        let py = TOP + ph * (1.0 - y.frac(t));
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            fmt_num(t)
        );
    }
    let _ = writeln!(
        out,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{}" stroke="#333"/><line x1="{LEFT}" x2="{}" y1="{}" y2="{}" stroke="#333"/>"##,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM
    );
}

fn legend(out: &mut String, names: &[&str]) {
    for (i, name) in names.iter().enumerate() {
        let y = TOP + 10.0 + 20.0 * i as f64;
        let x = W - RIGHT + 14.0;
        let _ = writeln!(
            out,
            r#"<rect x="{x}" y="{:.1}" width="14" height="10" fill="{}"/><text x="{}" y="{:.1}">{}</text>"#,
            y - 9.0,
            COLORS[i % COLORS.len()],
            x + 20.0,
            y,
            esc(name)
        );
    }
}

impl LineChart {
    /// Renders the chart as an SVG document.
    pub fn render(&self) -> String {
        let pts = || self.series.iter().flat_map(|(_, p)| p.iter());
        let x = Axis::new(pts().map(|p| p.0), self.x_log, false);
        let y = Axis::new(pts().map(|p| p.1), self.y_log, true);
        let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        let mut out = String::new();
        frame(&mut out, &self.title, &self.y_label, &self.x_label);
        y_grid(&mut out, &y);
        let mut xs: Vec<f64> = pts().map(|p| p.0).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        for t in xs {
            let px = LEFT + pw * x.frac(t);
            let _ = writeln!(
                out,
                r#"<text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                H - BOTTOM + 16.0,
                fmt_num(t)
            );
        }
        for (i, (_, points)) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let coords: Vec<String> = points
                .iter()
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .map(|&(a, b)| {
                    format!(
                        "{:.1},{:.1}",
                        LEFT + pw * x.frac(a),
                        TOP + ph * (1.0 - y.frac(b))
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
                coords.join(" ")
            );
            for c in &coords {
                let (cx, cy) = c.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(out, r#"<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>"#);
            }
        }
        let names: Vec<&str> = self.series.iter().map(|(n, _)| n.as_str()).collect();
        legend(&mut out, &names);
        out.push_str("</svg>\n");
        out
    }
}

impl BarChart {
    /// Renders the chart as an SVG document.
    pub fn render(&self) -> String {
        let values = self
            .series
            .iter()
            .flat_map(|(_, v)| v.iter().flatten().copied());
        let refv = self.reference.as_ref().map(|r| r.0);
        let y = Axis::new(values.chain(refv), self.y_log, true);
        let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        let mut out = String::new();
        frame(&mut out, &self.title, &self.y_label, "");
        y_grid(&mut out, &y);
        let groups = self.groups.len().max(1) as f64;
        let gw = pw / groups;
        let bw = gw * 0.8 / self.series.len().max(1) as f64;
        let base = TOP + ph * (1.0 - y.frac(if y.log { y.lo } else { 0.0 }));
        for (g, name) in self.groups.iter().enumerate() {
            let gx = LEFT + gw * g as f64;
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                gx + gw / 2.0,
                H - BOTTOM + 16.0,
                esc(name)
            );
            for (s, (_, vals)) in self.series.iter().enumerate() {
                let Some(v) = vals.get(g).copied().flatten() else {
                    continue;
                };
                let top = TOP + ph * (1.0 - y.frac(v));
                let x = gx + gw * 0.1 + bw * s as f64;
                let _ = writeln!(
                    out,
                    r#"<rect x="{x:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}</title></rect>"#,
                    bw.max(1.0),
                    (base - top).max(0.0),
                    COLORS[s % COLORS.len()],
                    fmt_num(v)
                );
            }
        }
        if let Some((v, label)) = &self.reference {
            let py = TOP + ph * (1.0 - y.frac(*v));
            let _ = writeln!(
                out,
                r##"<line x1="{LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#d62728" stroke-dasharray="6 4"/><text x="{}" y="{:.1}" fill="#d62728">{}</text>"##,
                W - RIGHT,
                LEFT + 4.0,
                py - 4.0,
                esc(label)
            );
        }
        let names: Vec<&str> = self.series.iter().map(|(n, _)| n.as_str()).collect();
        legend(&mut out, &names);
        out.push_str("</svg>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(fmt_num(1500.0), "1.5k");
        assert_eq!(fmt_num(20_000_000.0), "20M");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(100.0), "100");
    }

    #[test]
    fn charts_render() {
        let l = LineChart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            x_log: true,
            y_log: true,
            series: vec![("a".into(), vec![(1.0, 10.0), (4.0, 100.0)])],
        };
        let svg = l.render();
        assert!(svg.starts_with("<svg") && svg.contains("polyline"));
        let b = BarChart {
            title: "b".into(),
            y_label: "y".into(),
            y_log: false,
            groups: vec!["g1".into(), "g2".into()],
            series: vec![("s".into(), vec![Some(1.0), None])],
            reference: Some((1.05, "target".into())),
        };
        let svg = b.render();
        assert_eq!(
            svg.matches("<rect x=").count(),
            2,
            "one bar and one legend swatch"
        );
    }
}
