//! The process tree as nested lists: pid, role, argv, how it ended and who reaped it.

use std::fmt::Write as _;

use super::escape::escape;
use super::labels::exit_text;
use crate::ledger::{Ledger, ProcId, ProcessTree, Role};

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
    let reaped = match p.reaped_by {
        Some(_) if p.reaped_by_kernel => {
            ", reaped by the kernel (the parent ignores SIGCHLD)".to_string()
        }
        Some((r, _)) => format!(", waited for by pid {}", tree.processes[r].pid),
        None => String::new(),
    };
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
    // Deep trees (a fork bomb's chain) are cut past this depth.
    if !p.children.is_empty() && depth < 64 {
        // A launcher's side processes (pyenv's shim helpers) fold away: they are noise
        // next to the program's own processes.
        let main_line: Vec<ProcId> = tree
            .main
            .map_or_else(Vec::new, |m| tree.ancestors(m).collect());
        let (side, own): (Vec<ProcId>, Vec<ProcId>) = p.children.iter().partition(|&&c| {
            // Fold only beside the line from the root to the main process.
            main_line.contains(&id)
                && tree.processes[c].role == Role::Launcher
                && !main_line.contains(&c)
        });
        out.push_str("<ul>");
        for &child in &own {
            item(out, tree, child, depth + 1);
        }
        if !side.is_empty() {
            let count: usize = side.iter().map(|&c| subtree(tree, c)).sum();
            let _ = write!(
                out,
                "<li><details><summary>{count} launcher processes (a shell or version-manager \
                 shim's helpers)</summary><ul>"
            );
            for &child in &side {
                item(out, tree, child, depth + 1);
            }
            out.push_str("</ul></details></li>");
        }
        out.push_str("</ul>");
    }
    out.push_str("</li>");
}

fn subtree(tree: &ProcessTree, id: ProcId) -> usize {
    1 + tree.processes[id]
        .children
        .iter()
        .map(|&c| subtree(tree, c))
        .sum::<usize>()
}
