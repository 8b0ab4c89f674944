//! The per-submission HTML report: one self-contained file (inline CSS and SVG, no
//! script, no network) with the verdict, each check and its teaching message, a timeline
//! of the process tree, the tree itself, and what the program wrote.
//!
//! Everything that comes from the submission (argv, output, messages) is HTML-escaped.
//! Stable hooks for tests and styling: `class="lane"` (one per process), `class="fork-arrow"`,
//! `class="reap-arrow"`, `class="signal-arrow"`, `class="check pass|fail"`, `id="timeline"`,
//! `id="checks"`, `id="tree"`, `id="output"`.

mod draw;
mod escape;
mod labels;
mod timeline;
mod tree;

pub use escape::escape;

use super::{GradeReport, Verdict};
use crate::ledger::{EventKind, Ledger, Stream};

/// One check as the report shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Check<'a> {
    pub id: &'a str,
    pub passed: bool,
    pub message: &'a str,
    pub points: f64,
    pub max_points: f64,
}

/// Everything a report page shows.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// e.g. `start-target — alice`.
    pub title: &'a str,
    pub exercise: &'a str,
    /// `pass`, `fail`, `limit`, `build-error`, `missing` or `error`.
    pub verdict: &'a str,
    pub score: f64,
    pub max_score: f64,
    /// Why the verdict is what it is beyond the checks (a limit, a build error).
    pub detail: &'a str,
    pub checks: &'a [Check<'a>],
    /// The traced run, when there was one.
    pub ledger: Option<&'a Ledger>,
}

/// Most bytes of each stream shown in the output section.
const OUTPUT_CAP: usize = 64 * 1024;

/// Render the whole page.
pub fn render(page: &Page<'_>) -> String {
    let mut html = String::with_capacity(32 * 1024);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str(&format!("<title>{}</title>\n", escape(page.title)));
    html.push_str("<style>\n");
    html.push_str(include_str!("html/style.css"));
    html.push_str("</style>\n</head>\n<body>\n");
    header(&mut html, page);
    checks(&mut html, page.checks);
    if let Some(ledger) = page.ledger {
        html.push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n");
        html.push_str(
            "<p class=\"hint\">One lane per process, time flowing down. Arrows: \
             <span class=\"k-fork\">fork</span> (parent starts child), \
             <span class=\"k-reap\">wait</span> (parent collects the child's exit status), \
             <span class=\"k-signal\">signal</span>. A dashed lane is a process that has \
             exited but was not yet waited for (a zombie); a child whose parent ignores \
             SIGCHLD is <span class=\"k-kernel\">reaped by the kernel</span> at its exit. Dotted lines across all lanes \
             mark what the main process printed. For servers, <code>accepted :PORT</code> \
             and <code>serves :PORT</code> name a client connection by its port: which \
             process accepted it and which one talked to it.</p>\n",
        );
        html.push_str(&timeline::svg(ledger));
        html.push_str("</section>\n");
        html.push_str("<section id=\"tree\">\n<h2>Process tree</h2>\n");
        html.push_str(&tree::list(ledger));
        html.push_str("</section>\n");
        output(&mut html, ledger);
    }
    html.push_str("</body>\n</html>\n");
    html
}

fn header(html: &mut String, page: &Page<'_>) {
    html.push_str(&format!(
        "<header>\n<h1>{}</h1>\n<p class=\"summary\"><span class=\"verdict v-{}\">{}</span> \
         <span class=\"score\">{} / {} points</span> <span class=\"exercise\">exercise \
         <code>{}</code></span></p>\n",
        escape(page.title),
        escape(page.verdict),
        escape(page.verdict),
        points(page.score),
        points(page.max_score),
        escape(page.exercise),
    ));
    if !page.detail.is_empty() {
        html.push_str(&format!(
            "<pre class=\"detail\">{}</pre>\n",
            escape(page.detail)
        ));
    }
    if let Some(ledger) = page.ledger {
        html.push_str(&format!(
            "<p class=\"meta\">Command <code>{}</code> · wall time {:.2} s · limits: {} s, \
             {} processes</p>\n",
            escape(&ledger.command.join(" ")),
            ledger.wall_ns as f64 / 1e9,
            ledger.limits.time_ms as f64 / 1000.0,
            ledger.limits.max_processes,
        ));
        // Shown once: callers usually name the limit in `detail` already.
        if let Some(limit) = ledger.limit_hit.filter(|_| page.detail.is_empty()) {
            html.push_str(&format!(
                "<p class=\"limit\">Stopped by the {}.</p>\n",
                escape(&limit.to_string())
            ));
        }
    }
    html.push_str("</header>\n");
}

fn checks(html: &mut String, checks: &[Check<'_>]) {
    html.push_str("<section id=\"checks\">\n<h2>Checks</h2>\n");
    if checks.is_empty() {
        html.push_str("<p>No checks were run.</p>\n");
    } else {
        html.push_str("<ul class=\"checks\">\n");
        for check in checks {
            let (class, mark) = if check.passed {
                ("pass", "✓")
            } else {
                ("fail", "✗")
            };
            html.push_str(&format!(
                "<li class=\"check {class}\" id=\"check-{}\"><span class=\"mark\">{mark}</span> \
                 <code class=\"check-id\">{}</code> <span class=\"points\">{} / {}</span>\
                 <div class=\"message\">{}</div></li>\n",
                escape(check.id),
                escape(check.id),
                points(check.points),
                points(check.max_points),
                escape(check.message),
            ));
        }
        html.push_str("</ul>\n");
    }
    html.push_str("</section>\n");
}

fn output(html: &mut String, ledger: &Ledger) {
    html.push_str("<section id=\"output\">\n<h2>Output</h2>\n");
    for (stream, name) in [(Stream::Stdout, "stdout"), (Stream::Stderr, "stderr")] {
        let mut text = String::new();
        for event in &ledger.events {
            if let EventKind::Write {
                stream: s, text: t, ..
            } = &event.kind
                && *s == stream
            {
                text.push_str(t);
            }
        }
        let cut = text.len() > OUTPUT_CAP;
        if cut {
            let mut end = OUTPUT_CAP;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        html.push_str(&format!(
            "<h3>{name}</h3>\n<pre class=\"stream {name}\">{}</pre>\n",
            escape(&text)
        ));
        if cut || (ledger.output_truncated && !text.is_empty()) {
            html.push_str("<p class=\"hint\">(output cut)</p>\n");
        }
    }
    html.push_str("</section>\n");
}

/// The page of one `proclab grade` run (`--format html`).
pub fn render_report(report: &GradeReport, ledger: &Ledger) -> String {
    let checks: Vec<Check<'_>> = report
        .checks
        .iter()
        .map(|c| Check {
            id: &c.id,
            passed: c.passed,
            message: &c.message,
            points: f64::from(c.points),
            max_points: f64::from(c.max_points),
        })
        .collect();
    let (verdict, detail) = match (&report.ledger.limit_hit, report.verdict) {
        (_, Verdict::Error) => (
            "error",
            format!("could not grade: {}", report.error.as_deref().unwrap_or("")),
        ),
        (Some(limit), _) => ("limit", format!("stopped by the {limit}")),
        (None, Verdict::Pass) => ("pass", String::new()),
        (None, Verdict::Fail) => ("fail", String::new()),
    };
    let title = format!("{} — {}", report.exercise, report.command.join(" "));
    render(&Page {
        title: &title,
        exercise: &report.exercise,
        verdict,
        score: f64::from(report.score),
        max_score: f64::from(report.max_score),
        detail: &detail,
        checks: &checks,
        ledger: Some(ledger),
    })
}

/// The page of a `proclab grade` run that could not start (no ledger to draw).
pub fn render_unrun(report: &GradeReport) -> String {
    let title = format!("{} — {}", report.exercise, report.command.join(" "));
    let detail = format!("could not grade: {}", report.error.as_deref().unwrap_or(""));
    render(&Page {
        title: &title,
        exercise: &report.exercise,
        verdict: "error",
        score: f64::from(report.score),
        max_score: f64::from(report.max_score),
        detail: &detail,
        checks: &[],
        ledger: None,
    })
}

/// `3` for whole numbers, `2.5` otherwise.
fn points(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests;
