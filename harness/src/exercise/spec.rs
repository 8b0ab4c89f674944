//! Exercise specs: TOML files, built in (`harness/exercises/*.toml`) or given with
//! `--exercise-file`. A file names its exercise and may set any of its parameters,
//! limits and points; what it leaves out keeps the built-in default. Unknown keys are
//! errors, reported with the file, line and column.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::id::ExerciseId;
use super::params::*;

/// A fully resolved exercise spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spec {
    pub id: ExerciseId,
    /// One line: what the student's program must do.
    pub description: String,
    /// Where it came from: `built-in` or the file's path.
    pub source: String,
    pub limits: SpecLimits,
    pub params: Params,
    /// Points per check id, every check of the exercise present.
    pub points: BTreeMap<String, u32>,
}

/// Containment limits of a graded run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecLimits {
    pub time_ms: u64,
    pub max_processes: u32,
    pub memory_mb: u64,
    pub output_kb: u64,
    /// After the main process exits, how long what it left running is observed (to end
    /// on its own) before containment kills it; inside `time_ms`.
    pub orphan_grace_ms: u64,
}

/// Could not load a spec.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("unknown exercise `{0}` (run `proclab exercises` for the list)")]
    UnknownExercise(String),
    #[error("cannot read exercise file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

#[derive(Deserialize)]
struct Header {
    exercise: Spanned<String>,
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct LimitsFile {
    time_ms: Option<u64>,
    max_processes: Option<u32>,
    memory_mb: Option<u64>,
    output_kb: Option<u64>,
    orphan_grace_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile<P> {
    #[allow(dead_code)]
    exercise: String,
    description: Option<String>,
    #[serde(default)]
    limits: LimitsFile,
    #[serde(default)]
    params: Option<Spanned<P>>,
    #[serde(default)]
    points: BTreeMap<Spanned<String>, u32>,
}

/// The built-in file (TOML text) of each exercise.
pub fn builtin_text(id: ExerciseId) -> &'static str {
    match id {
        ExerciseId::StartTarget => include_str!("../../exercises/start-target.toml"),
        ExerciseId::StartSubclass => include_str!("../../exercises/start-subclass.toml"),
        ExerciseId::Isolation => include_str!("../../exercises/isolation.toml"),
        ExerciseId::JoinOrder => include_str!("../../exercises/join-order.toml"),
        ExerciseId::Daemon => include_str!("../../exercises/daemon.toml"),
        ExerciseId::Terminate => include_str!("../../exercises/terminate.toml"),
        ExerciseId::SocketServer => include_str!("../../exercises/socket-server.toml"),
        ExerciseId::PoolServer => include_str!("../../exercises/pool-server.toml"),
    }
}

/// The built-in spec of exercise `id` (e.g. `start-target`).
pub fn builtin(id: &str) -> Result<Spec, SpecError> {
    let exercise = ExerciseId::parse(id).ok_or_else(|| SpecError::UnknownExercise(id.into()))?;
    parse(builtin_text(exercise), "built-in")
}

/// Every built-in spec, in the lesson's order.
pub fn all_builtin() -> Result<Vec<Spec>, SpecError> {
    ExerciseId::ALL
        .iter()
        .map(|id| parse(builtin_text(*id), "built-in"))
        .collect()
}

/// Load an exercise file.
pub fn load(path: &Path) -> Result<Spec, SpecError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown)
}

/// Parse a spec's text; `source` names it in errors (a path, or `built-in`).
pub fn parse(text: &str, source: &str) -> Result<Spec, SpecError> {
    let invalid = |span: Option<Range<usize>>, message: String| {
        let (line, column) = span.clone().map_or((1, 1), |s| line_col(text, s.start));
        let message = match span {
            Some(s) => format!("{}{message}", field_prefix(text, s.start, &message)),
            None => message,
        };
        SpecError::Invalid {
            path: source.to_string(),
            line,
            column,
            message,
        }
    };
    let header: Header = toml::from_str(text).map_err(|e| invalid(e.span(), tidy(&e)))?;
    let id = ExerciseId::parse(header.exercise.get_ref()).ok_or_else(|| {
        invalid(
            Some(header.exercise.span()),
            format!(
                "field `exercise`: unknown exercise `{}` (known: {})",
                header.exercise.get_ref(),
                ExerciseId::ALL.map(|e| e.as_str()).join(", ")
            ),
        )
    })?;
    let (description, limits, params, points) = match id {
        ExerciseId::StartTarget | ExerciseId::StartSubclass | ExerciseId::JoinOrder => {
            typed(text, &invalid, |p: StartParams| {
                check_start(&p)?;
                Ok(Params::Start(p))
            })?
        }
        ExerciseId::Isolation => typed(text, &invalid, |p: IsolationParams| {
            check_isolation(&p)?;
            Ok(Params::Isolation(p))
        })?,
        ExerciseId::Daemon => typed(text, &invalid, |p: DaemonParams| {
            check_daemon(&p)?;
            Ok(Params::Daemon(p))
        })?,
        ExerciseId::Terminate => typed(text, &invalid, |p| Ok(Params::Terminate(p)))?,
        ExerciseId::SocketServer | ExerciseId::PoolServer => {
            typed(text, &invalid, |p: ServerFileParams| {
                let base = match id {
                    ExerciseId::PoolServer => ServerParams::pool_default(),
                    _ => ServerParams::socket_default(),
                };
                let params = p.apply(base);
                check_server(&params, id)?;
                Ok(Params::Server(params))
            })?
        }
    };
    let mut resolved = BTreeMap::new();
    for check in id.check_ids() {
        resolved.insert(check.to_string(), 1);
    }
    for (key, value) in points {
        if !resolved.contains_key(key.get_ref()) {
            return Err(invalid(
                Some(key.span()),
                format!(
                    "field `points.{}`: `{0}` is not a check of {id} (its checks: {})",
                    key.get_ref(),
                    id.check_ids().join(", ")
                ),
            ));
        }
        resolved.insert(key.into_inner(), value);
    }
    let defaults = default_limits(id);
    Ok(Spec {
        id,
        description: description.unwrap_or_default(),
        source: source.to_string(),
        limits: SpecLimits {
            time_ms: limits.time_ms.unwrap_or(defaults.time_ms),
            max_processes: limits.max_processes.unwrap_or(defaults.max_processes),
            memory_mb: limits.memory_mb.unwrap_or(defaults.memory_mb),
            output_kb: limits.output_kb.unwrap_or(defaults.output_kb),
            orphan_grace_ms: limits.orphan_grace_ms.unwrap_or(defaults.orphan_grace_ms),
        },
        params,
        points: resolved,
    })
}

type Parsed = (
    Option<String>,
    LimitsFile,
    Params,
    BTreeMap<Spanned<String>, u32>,
);

/// Parse the whole file with `P` as its `[params]`, then resolve and validate them.
fn typed<P: DeserializeOwned + Default>(
    text: &str,
    invalid: &dyn Fn(Option<Range<usize>>, String) -> SpecError,
    resolve: impl Fn(P) -> Result<Params, String>,
) -> Result<Parsed, SpecError> {
    let file: SpecFile<P> = toml::from_str(text).map_err(|e| invalid(e.span(), tidy(&e)))?;
    let (span, params) = match file.params {
        Some(p) => (Some(p.span()), p.into_inner()),
        None => (None, P::default()),
    };
    let params = resolve(params).map_err(|message| {
        // Point at the offending key when it can be found inside `[params]`.
        let key_span = span.as_ref().and_then(|s| find_key(text, s, &message));
        invalid(key_span.or(span), message)
    })?;
    Ok((file.description, file.limits, params, file.points))
}

fn check_start(p: &StartParams) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for name in &p.names {
        if name.trim().is_empty() || name.contains(char::is_whitespace) {
            return Err(format!(
                "field `params.names`: `{name}` is not a usable name (empty, or has a space)"
            ));
        }
        if !seen.insert(name) {
            return Err(format!("field `params.names`: `{name}` appears twice"));
        }
    }
    match p.children {
        Some(0) => return Err("field `params.children`: needs at least one child".into()),
        Some(n) if !p.names.is_empty() && n != p.names.len() => {
            return Err(format!(
                "field `params.children`: {n} children but {} pinned names",
                p.names.len()
            ));
        }
        _ => {}
    }
    for (key, list) in [("start_line", &p.start_line), ("end_line", &p.end_line)] {
        if !list
            .all_capture_name()
            .map_err(|e| format!("field `params.{key}`: {e}"))?
        {
            return Err(format!(
                "field `params.{key}`: every pattern must capture the child's name (`{{name}}`)"
            ));
        }
    }
    p.parent_line
        .compile()
        .map_err(|e| format!("field `params.parent_line`: {e}"))?;
    Ok(())
}

fn check_isolation(p: &IsolationParams) -> Result<(), String> {
    for (key, list) in [
        ("child_line", &p.child_line),
        ("parent_line", &p.parent_line),
    ] {
        list.compile()
            .map_err(|e| format!("field `params.{key}`: {e}"))?;
    }
    Ok(())
}

fn check_daemon(p: &DaemonParams) -> Result<(), String> {
    p.end_line
        .compile()
        .map_err(|e| format!("field `params.end_line`: {e}"))?;
    Ok(())
}

fn check_server(p: &ServerParams, id: ExerciseId) -> Result<(), String> {
    if p.clients == 0 || p.clients > 16 {
        return Err("field `params.clients`: must be 1..=16".into());
    }
    if id == ExerciseId::SocketServer && p.waves < 2 {
        return Err("field `params.waves`: the socket server needs at least 2 waves".into());
    }
    if p.waves == 0 || p.waves > 8 || p.messages == 0 || p.messages > 100 {
        return Err("field `params.waves`/`params.messages`: waves 1..=8, messages 1..=100".into());
    }
    if p.parallel_clients < 2 || p.parallel_clients > 16 {
        return Err("field `params.parallel_clients`: must be 2..=16".into());
    }
    if !p.message.is_ascii() || p.message.is_empty() || p.message.contains('\n') {
        return Err("field `params.message`: must be one line of ASCII".into());
    }
    if p.reply_timeout_ms == 0 || p.startup_timeout_ms == 0 {
        return Err("field `params.reply_timeout_ms`: timeouts must be positive".into());
    }
    if p.child_exit_ms == 0 {
        return Err("field `params.child_exit_ms`: must be positive".into());
    }
    Ok(())
}

fn default_limits(id: ExerciseId) -> SpecLimits {
    SpecLimits {
        time_ms: if id.is_server() { 60_000 } else { 30_000 },
        max_processes: 64,
        memory_mb: 1024,
        output_kb: 1024,
        orphan_grace_ms: u64::try_from(crate::trace::DEFAULT_LINGER.as_millis()).unwrap_or(5000),
    }
}

/// toml's message without its own rendering of the source (we give line:column).
fn tidy(error: &toml::de::Error) -> String {
    error.message().trim().to_string()
}

/// 1-based line and column (in characters) of byte `offset`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The span of the key a validation message names (`params.<key>`): searched from the
/// start of `[params]` to the next table header.
fn find_key(text: &str, within: &Range<usize>, message: &str) -> Option<Range<usize>> {
    let key = message.split('`').nth(1)?.strip_prefix("params.")?;
    let key = key.split('`').next()?;
    let region = text.get(within.start..)?;
    let mut offset = within.start;
    for (i, line) in region.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if i > 0 && trimmed.starts_with('[') {
            break;
        }
        if trimmed.starts_with(key) && trimmed[key.len()..].trim_start().starts_with('=') {
            let start = offset + (line.len() - trimmed.len());
            return Some(start..start + key.len());
        }
        offset += line.len();
    }
    None
}

/// `field `table.key`: ` for the key assigned on the line at `offset`, when the
/// message does not name it already.
fn field_prefix(text: &str, offset: usize, message: &str) -> String {
    if message.contains("field") {
        return String::new();
    }
    let offset = text.floor_char_boundary(offset.min(text.len()));
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let Some((key, _)) = line.split_once('=') else {
        return String::new();
    };
    let table = text[..line_start]
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            (l.starts_with('[') && l.ends_with(']'))
                .then(|| l.trim_matches(['[', ']']).trim().to_string())
        })
        .map(|t| format!("{t}."))
        .unwrap_or_default();
    format!("field `{table}{}`: ", key.trim())
}
