//! The process tree as nested lists: pid, role, argv, how it ended and who reaped it.

use std::fmt::Write as _;

use super::escape::escape;
use super::timeline::exit_text;
use crate::ledger::{Ledger, ProcId, ProcessTree};

/// Nested `<ul>` of the run's processes, threads counted per process.
pub fn list(ledger: &Ledger) -> String {
    let tree = ProcessTree::from_ledger(ledger);
    let mut out = String::from("<ul class=\"ptree\">");
    if let Some(root) = tree.root {
        item(&mut out, &tree, root, 0);
    }
    out.push_str("</ul>");
    if !ledger.leftovers.is_empty() {
        let pids: Vec<String> = ledger.leftovers.iter().map(|p| p.to_string()).collect();
        let _ = write!(
            out,
            "<p class=\"limit\">Still running at the end, then killed: pid {}.</p>",
            pids.join(", ")
        );
    }
    out
}

fn item(out: &mut String, tree: &ProcessTree, id: ProcId, depth: usize) {
    let p = &tree.processes[id];
    let role = if tree.main == Some(id) {
        "main".to_string()
    } else {
        p.role.to_string()
    };
    let ended = p
        .exited
        .map_or_else(|| "never exited".to_string(), |(_, s)| exit_text(s).0);
    let reaped = p
        .reaped_by
        .map(|(r, _)| format!(", waited for by pid {}", tree.processes[r].pid))
        .unwrap_or_default();
    let threads = if p.threads.is_empty() {
        String::new()
    } else {
        format!(", {} extra threads", p.threads.len())
    };
    let _ = write!(
        out,
        "<li><span class=\"pid\">pid {}</span> <span class=\"role role-{role}\">{role}</span> \
         <code>{}</code> <span class=\"ended\">— {}{}{}</span>",
        p.pid,
        escape(&p.argv(tree).join(" ")),
        escape(&ended),
        escape(&reaped),
        threads
    );
    // Deep trees (a fork bomb's chain) are flattened past this depth.
    if !p.children.is_empty() && depth < 64 {
        out.push_str("<ul>");
        for &child in &p.children {
            item(out, tree, child, depth + 1);
        }
        out.push_str("</ul>");
    }
    out.push_str("</li>");
}
