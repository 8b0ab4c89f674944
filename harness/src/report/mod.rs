//! Reports: one module per output format.

pub mod gradescope;
pub mod html;
pub mod json;
pub mod junit;
pub mod model;
pub mod prairielearn;
pub mod text;
pub mod trace_text;

pub use model::{GradeReport, Verdict};

#[cfg(test)]
mod tests_error;
#[cfg(test)]
mod tests_formats;

/// An output format of `proclab grade`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Human-readable, coloured on a terminal.
    #[default]
    Text,
    /// One JSON object.
    Json,
    /// JUnit XML, one test case per check.
    Junit,
    /// Gradescope's results.json.
    Gradescope,
    /// One self-contained HTML page with the process timeline.
    Html,
    /// PrairieLearn's external grading results.json.
    Prairielearn,
}

impl Format {
    /// A grading platform's results file: written even when the run cannot be graded,
    /// and `grade` exits 0 with it so the platform keeps a partial score.
    pub fn is_platform(self) -> bool {
        matches!(self, Format::Gradescope | Format::Prairielearn)
    }

    /// The platform's results for a run that could not be graded.
    pub fn could_not_grade(self, exercise: &str, reason: &str) -> Option<String> {
        match self {
            Format::Gradescope => gradescope::could_not_grade(exercise, reason).ok(),
            Format::Prairielearn => prairielearn::could_not_grade(exercise, reason).ok(),
            _ => None,
        }
    }
}

/// Render `report` in `format` (text keeps its ANSI styles; print it via `anstream`).
pub fn render(report: &GradeReport, format: Format) -> Result<String, String> {
    match format {
        Format::Text => Ok(text::render(report)),
        Format::Json => json::render(report).map_err(|e| e.to_string()),
        Format::Junit => junit::render(report).map_err(|e| e.to_string()),
        Format::Gradescope => gradescope::render(report).map_err(|e| e.to_string()),
        Format::Prairielearn => prairielearn::render(report).map_err(|e| e.to_string()),
        Format::Html => Err("the HTML report draws the run's ledger: use render_run".into()),
    }
}

/// Render a graded run in `format`; unlike [`render`], also the formats that draw the
/// ledger itself (HTML).
pub fn render_run(
    report: &GradeReport,
    ledger: &crate::ledger::Ledger,
    format: Format,
) -> Result<String, String> {
    match format {
        Format::Html => Ok(html::render_report(report, ledger)),
        other => render(report, other),
    }
}

/// Render a report that has no ledger (the run could not start) in `format`.
pub fn render_unrun(report: &GradeReport, format: Format) -> Result<String, String> {
    match format {
        Format::Html => Ok(html::render_unrun(report)),
        other => render(report, other),
    }
}
