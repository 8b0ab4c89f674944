//! `--format json`: the report as one JSON object (`exercise`, `verdict`, `score`,
//! `max_score`, `checks`, `tree`, `ledger`, `crashes`, `clients`, …).

use super::model::GradeReport;

/// Render `report` as pretty JSON.
pub fn render(report: &GradeReport) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}
