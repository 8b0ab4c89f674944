//! The crate's layers, bottom to top, checked by a test: no module imports one above it.
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 0 | `sys`, `error`, `forklocal`, `inline` | system helpers, typed errors, statics a fork child finds fresh, values kept in place |
//! | 1 | `slots`, `report`, `body` | the parent/child channel: report slots, frames, the payload a child runs |
//! | 2 | `children`, `child` | this process: the children it started (and its zygote); its own state as a child, and the child's run and exit |
//! | 3 | `exec` | executing this program again, both sides |
//! | 4 | `start_method` (`fork`, `spawn`, `forkserver`) | one module per start method, parent and child side |
//! | 5 | `process`, then `construct`, `wait`, `signal`, `outcome`, `sentinel`, then `context` | the public `Process` type and what goes with it |
//! | 6 | `guard`, `lib` | `init()` and the guard, which only dispatch |

/// Rank of a module (by its first path segment under `crate::`); a higher rank may use a
/// lower one, never the reverse.
#[cfg(test)]
fn rank(module: &str) -> Option<u32> {
    Some(match module {
        "sys" | "error" | "forklocal" | "inline" => 0,
        "slots" => 10,
        "report" | "body" => 11,
        "children" => 20,
        "child" => 21,
        "exec" => 30,
        "start_method" => 40,
        "process" => 50,
        "construct" | "wait" | "signal" | "outcome" | "sentinel" => 51,
        "context" => 52,
        "guard" => 60,
        "layers" | "parity" | "lib" => 61,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::rank;
    use std::path::Path;

    /// The modules a line of code names as `crate::a`, `crate::a::…` or `crate::{a, b::…}`.
    fn named(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let first = item.trim().split("::").next().unwrap_or("");
                    out.push(first.to_string());
                }
            } else {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                out.push(rest[..end].to_string());
            }
        }
        out
    }

    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn no_module_imports_one_above_it() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut all = Vec::new();
        files(&src, &mut all);
        let mut wrong = Vec::new();
        for path in all {
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let module = rel.split(['/', '.']).next().unwrap().to_string();
            let own = rank(&module).unwrap_or_else(|| panic!("{rel}: no layer (add it to rank)"));
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue; // docs may point anywhere
                }
                for name in named(line) {
                    // A name re-exported at the crate root (`crate::Run`) counts as `lib`.
                    let other = rank(&name).unwrap_or(61);
                    if name != module && other > own {
                        wrong.push(format!("{rel}:{}: uses crate::{name}", n + 1));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "upward imports:\n{}", wrong.join("\n"));
    }
}
