//! Line patterns: the text an exercise looks for, as an instructor writes it in an
//! exercise file.
//!
//! A pattern is either a *template* or a regular expression:
//! - template: literal text with placeholders, matched against the whole line, case
//!   insensitive. `{name}` captures one word (no spaces) as the `name` group, `{value}`
//!   an integer as the `value` group. A space matches any run of spaces (or none, next to
//!   a colon), a colon matches `:`, the full-width `：` or nothing, with any spacing around it,
//!   and a line may end with dots, `!` or spaces (`egon piaoing...`). `{name} piaoing`
//!   accepts `egon piaoing` and `egon  piaoing.`; it does not accept `egon is piaoing`,
//!   which is its own template.
//! - `re:` then a regular expression (Rust `regex` syntax), searched for in the line:
//!   anchor it yourself (`re:^主`). It may have `name` and `value` groups.
//!
//! A list of patterns matches a line when any of them does, tried in order.

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Prefix that marks a pattern as a regular expression.
const REGEX_PREFIX: &str = "re:";

/// One or several patterns, as written in an exercise file (`"…"` or `["…", "…"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PatternList {
    One(String),
    Many(Vec<String>),
}

impl PatternList {
    /// The patterns as written, in order.
    pub fn sources(&self) -> Vec<&str> {
        match self {
            PatternList::One(one) => vec![one.as_str()],
            PatternList::Many(many) => many.iter().map(String::as_str).collect(),
        }
    }

    /// Compile every pattern; the error names the one that does not compile.
    pub fn compile(&self) -> Result<Patterns, String> {
        let sources = self.sources();
        if sources.is_empty() {
            return Err("needs at least one pattern".into());
        }
        let compiled = sources
            .iter()
            .map(|s| compile(s).map(|regex| (s.to_string(), regex)))
            .collect::<Result<_, _>>()?;
        Ok(Patterns(compiled))
    }

    /// Does every pattern have a `name` group (template `{name}` or regex `(?P<name>…)`)?
    pub fn all_capture_name(&self) -> Result<bool, String> {
        let patterns = self.compile()?;
        Ok(patterns
            .0
            .iter()
            .all(|(_, re)| re.capture_names().flatten().any(|n| n == "name")))
    }
}

impl From<&str> for PatternList {
    fn from(one: &str) -> Self {
        PatternList::One(one.to_string())
    }
}

impl<const N: usize> From<[&str; N]> for PatternList {
    fn from(many: [&str; N]) -> Self {
        PatternList::Many(many.iter().map(|s| s.to_string()).collect())
    }
}

/// Compiled patterns, each with its source for messages.
#[derive(Debug, Clone)]
pub struct Patterns(Vec<(String, Regex)>);

/// What a matching line carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// The `name` group, when the pattern has one.
    pub name: Option<String>,
    /// The `value` group, when the pattern has one and it is an integer.
    pub value: Option<i64>,
}

impl Patterns {
    /// Patterns that match no line.
    pub fn nothing() -> Self {
        Patterns(Vec::new())
    }

    /// The first pattern that matches `line` (trailing newline and spaces ignored).
    pub fn matches(&self, line: &str) -> Option<Matched> {
        let line = line.trim_end();
        self.0.iter().find_map(|(_, re)| {
            let caps = re.captures(line)?;
            Some(Matched {
                name: caps.name("name").map(|m| m.as_str().to_string()),
                value: caps.name("value").and_then(|m| m.as_str().parse().ok()),
            })
        })
    }

    /// Does any pattern match `line`?
    pub fn is_match(&self, line: &str) -> bool {
        self.matches(line).is_some()
    }

    /// `` `{name} piaoing` or `{name} is piaoing` `` for messages.
    pub fn describe(&self) -> String {
        let shown: Vec<String> = self
            .0
            .iter()
            .map(|(s, _)| match s.strip_prefix(REGEX_PREFIX) {
                Some(raw) => format!("a line matching `{raw}`"),
                None => format!("`{s}`"),
            })
            .collect();
        match shown.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
        }
    }

    /// The first pattern with `name` put in, for messages (`egon piaoing`).
    pub fn example(&self, name: &str) -> String {
        let first = self.0.first().map_or("", |(s, _)| s.as_str());
        first.replace("{name}", name)
    }
}

/// Compile one pattern (template or `re:`).
fn compile(source: &str) -> Result<Regex, String> {
    let regex = match source.strip_prefix(REGEX_PREFIX) {
        Some(raw) => raw.to_string(),
        None => template_to_regex(source),
    };
    Regex::new(&regex).map_err(|e| format!("pattern `{source}` does not compile: {e}"))
}

/// The regular expression of a template (see the module's doc).
pub fn template_to_regex(template: &str) -> String {
    let mut out = String::from(r"(?i)^\s*");
    let mut rest = template.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("{name}") {
            out.push_str(r"(?P<name>\S+?)");
            rest = after;
        } else if let Some(after) = rest.strip_prefix("{value}") {
            out.push_str(r"(?P<value>[-+]?\d+)");
            rest = after;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            match c {
                ':' | '：' => out.push_str(r"\s*[:：]?\s*"),
                c if c.is_whitespace() => {
                    // One or more spaces; none needed next to a colon.
                    let next = rest.trim_start().chars().next();
                    let after_colon = out.ends_with(r"[:：]?\s*");
                    if !after_colon && !matches!(next, Some(':' | '：')) {
                        out.push_str(r"\s+");
                    }
                    rest = rest.trim_start();
                    continue;
                }
                c => out.push_str(&regex::escape(&c.to_string())),
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out.push_str(r"[\s.。!！…]*$");
    out
}

/// Edit distance of two short strings (characters), for near misses of pinned names.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Is `seen` a near miss of `wanted` (a typo, not another name)?
pub fn near_miss(wanted: &str, seen: &str) -> bool {
    let distance = edit_distance(&wanted.to_lowercase(), &seen.to_lowercase());
    let longest = wanted.chars().count().max(seen.chars().count());
    distance > 0 && distance <= (longest / 3).max(1)
}
