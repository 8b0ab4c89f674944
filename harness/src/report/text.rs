//! The human-readable grade: verdict, each check with its message, crashes, limits and
//! the process tree. Styled with ANSI codes; print it through `anstream`, which strips
//! them when stdout is not a terminal or `NO_COLOR` is set.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use super::model::{GradeReport, Verdict};
use crate::ledger::Role;

const GREEN: Style = AnsiColor::Green.on_default().bold();
const RED: Style = AnsiColor::Red.on_default().bold();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();

/// Render `report` as styled text.
pub fn render(report: &GradeReport) -> String {
    let mut out = String::new();
    let (word, style) = match report.verdict {
        Verdict::Pass => ("PASS", GREEN),
        Verdict::Fail => ("FAIL", RED),
        Verdict::Error => ("COULD NOT GRADE", YELLOW),
    };
    let _ = writeln!(
        out,
        "{BOLD}{}{BOLD:#} {style}{word}{style:#}  score {}/{}",
        report.exercise, report.score, report.max_score
    );
    if !report.description.is_empty() {
        let _ = writeln!(out, "{DIM}{}{DIM:#}", report.description);
    }
    let _ = writeln!(out, "{DIM}command: {}{DIM:#}", report.command.join(" "));
    if let Some(error) = &report.error {
        let _ = writeln!(
            out,
            "{YELLOW}could not grade:{YELLOW:#} {error}\n{DIM}(not the submission's fault; \
             exit status 2){DIM:#}"
        );
        if report.tree.is_empty() {
            return out; // the command never started: no checks, no tree
        }
    }
    // A limit explains most failed checks: say it before them.
    if let Some(limit) = &report.ledger.limit_hit {
        let _ = writeln!(
            out,
            "{YELLOW}Limit:{YELLOW:#} the {limit} fired and the run was stopped (see `limits`)"
        );
    }
    out.push('\n');
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for check in &report.checks {
        let (mark, style) = if check.passed {
            ("✔", GREEN)
        } else {
            ("✘", RED)
        };
        let _ = writeln!(
            out,
            "  {style}{mark}{style:#} {:<width$}  {DIM}[{}/{}]{DIM:#} {}",
            check.id, check.points, check.max_points, check.message
        );
    }
    for crash in &report.crashes {
        let _ = writeln!(
            out,
            "\n{YELLOW}Crash:{YELLOW:#} pid {} ended with {}",
            crash.pid, crash.status
        );
        if crash.stderr_tail.is_empty() {
            let _ = writeln!(out, "  {DIM}(it wrote nothing to stderr){DIM:#}");
        }
        for line in &crash.stderr_tail {
            let _ = writeln!(out, "  {DIM}│{DIM:#} {line}");
        }
    }
    if let Some(clients) = &report.clients
        && let Some(listen) = &clients.listen
    {
        let _ = writeln!(out, "\n{DIM}server listened on {listen}{DIM:#}");
    }
    let _ = writeln!(out, "\n{BOLD}Process tree{BOLD:#}");
    // Launchers (shells, version-manager shims) are counted, not listed, except the
    // root; `--format json` has them all.
    let hidden = report
        .tree
        .iter()
        .skip(1)
        .filter(|r| r.role == Role::Launcher)
        .count();
    for (i, row) in report.tree.iter().enumerate() {
        if i > 0 && row.role == Role::Launcher {
            continue;
        }
        let indent = "  ".repeat(row.depth + 1);
        let threads = if row.threads > 0 {
            format!(" +{} thread(s)", row.threads)
        } else {
            String::new()
        };
        let ended = row
            .ended_ms
            .map_or_else(|| "…".to_string(), |e| format!("{:.2}", e / 1000.0));
        let _ = writeln!(
            out,
            "{indent}pid {} {DIM}{}{DIM:#} {}{threads}  {DIM}{:.2}–{ended} s{DIM:#}  {}",
            row.pid,
            row.role,
            shorten(&row.argv.join(" "), 70),
            row.started_ms / 1000.0,
            row.exit
        );
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "  {DIM}(+{hidden} launcher process(es) not shown: shells, version-manager shims){DIM:#}"
        );
    }
    let _ = writeln!(
        out,
        "\n{DIM}{} events, {} process(es) ({} the program's), {:.2} s traced, graded in {:.2} s{DIM:#}",
        report.ledger.events,
        report.ledger.processes,
        report.ledger.program_processes,
        report.ledger.wall_ms / 1000.0,
        report.execution_time
    );
    // Say which containment layers this run lacked (e.g. not run as root), so a grade
    // made with weaker isolation is visible as such; `--format json` lists every layer.
    let off: Vec<String> = report
        .ledger
        .layers
        .iter()
        .filter(|l| !l.active)
        .map(|l| format!("{} ({})", l.name, l.detail))
        .collect();
    if !off.is_empty() {
        let _ = writeln!(
            out,
            "{DIM}containment layers off: {}{DIM:#}",
            off.join("; ")
        );
    }
    out
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}
