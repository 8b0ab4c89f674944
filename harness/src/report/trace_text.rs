//! `proclab trace`'s text output: the process tree (pid, role, argv, lifetime, exit),
//! then a timeline of events with the output lines in place, then the containment
//! layers.

use std::fmt::Write as _;

use crate::ledger::{
    self, Event, EventKind, ExitStatus, IoDir, Ledger, ProcId, ProcessTree, SpawnVia, Stream,
};

fn seconds(ns: u64) -> String {
    format!("{:.3}s", ns as f64 / 1e9)
}

/// `exit 0`, `killed by SIGTERM (core dumped)`, `killed by containment`.
pub fn status_text(status: ExitStatus) -> String {
    match status {
        ExitStatus::Code { code } => format!("exit {code}"),
        ExitStatus::Signal { signal, core } => {
            format!(
                "killed by {}{}",
                signal_name(signal),
                if core { " (core dumped)" } else { "" }
            )
        }
        ExitStatus::Killed => "killed by containment".into(),
    }
}

/// "SIGTERM" for 15, etc.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_string())
}

/// What a SIGCHLD disposition change means for the process's children.
pub fn sigchld_text(ignore: bool, nocldwait: bool) -> &'static str {
    match (ignore, nocldwait) {
        (true, false) => "ignores SIGCHLD (SIG_IGN): the kernel reaps its children",
        (true, true) => "ignores SIGCHLD (SIG_IGN, SA_NOCLDWAIT): the kernel reaps its children",
        (false, true) => "sets SA_NOCLDWAIT on SIGCHLD: the kernel reaps its children",
        (false, false) => "stops ignoring SIGCHLD: its children wait to be reaped",
    }
}

fn quote_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("{a:?}")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Render a ledger for a person.
pub fn render(ledger: &Ledger) -> String {
    let tree = ProcessTree::from_ledger(ledger);
    let mut out = String::new();
    let _ = writeln!(out, "command: {}", quote_argv(&ledger.command));
    let root = ledger
        .root_status
        .map_or("did not finish".to_string(), status_text);
    let _ = writeln!(
        out,
        "root: pid {}, {root}; wall time {}",
        ledger.root,
        seconds(ledger.wall_ns)
    );
    if let Some(limit) = ledger.limit_hit {
        let detail = ledger.events.iter().find_map(|e| match &e.kind {
            EventKind::Limit { detail, .. } => Some(detail.as_str()),
            _ => None,
        });
        let _ = writeln!(out, "LIMIT: {limit} ({})", detail.unwrap_or(""));
    }
    if !ledger.leftovers.is_empty() {
        let pids: Vec<String> = ledger.leftovers.iter().map(i32::to_string).collect();
        let _ = writeln!(
            out,
            "still running at the end, then killed: {}",
            pids.join(", ")
        );
    }

    let _ = writeln!(out, "\nprocesses ({}):", tree.processes.len());
    if let Some(root) = tree.root {
        render_process(&mut out, &tree, root, 0);
    }

    let _ = writeln!(out, "\ntimeline:");
    render_timeline(&mut out, ledger, &tree);

    let _ = writeln!(out, "\ncontainment:");
    for layer in &ledger.layers {
        let _ = writeln!(
            out,
            "  {:<20} {:<3} {}",
            layer.name,
            if layer.active { "on" } else { "off" },
            layer.detail
        );
    }
    out
}

fn render_process(out: &mut String, tree: &ProcessTree, id: ProcId, depth: usize) {
    let p = &tree.processes[id];
    let end = p.exited.map_or("?".to_string(), |(m, _)| seconds(m.t_ns));
    let exit = p
        .exited
        .map_or("still running".to_string(), |(_, s)| status_text(s));
    let threads = if p.threads.is_empty() {
        String::new()
    } else {
        format!(" +{} thread(s)", p.threads.len())
    };
    let _ = writeln!(
        out,
        "  {:indent$}{:<7} {:<8} {}–{} {}{}  {}",
        "",
        p.pid,
        p.role.to_string(),
        seconds(p.started.t_ns),
        end,
        exit,
        threads,
        quote_argv(image_at_start(tree, id)),
        indent = depth * 2
    );
    for &child in &p.children {
        render_process(out, tree, child, depth + 1);
    }
}

/// The argv a process runs: its last exec, or, if it never exec'd, the image its
/// parent ran when it forked (not the parent's later execs).
fn image_at_start(tree: &ProcessTree, id: ProcId) -> &[String] {
    let mut current = &tree.processes[id];
    let mut before = u64::MAX;
    loop {
        if let Some(exec) = current.execs.iter().rev().find(|e| e.seq < before) {
            return &exec.argv;
        }
        before = current.started.seq;
        match current.parent {
            Some(parent) => current = &tree.processes[parent],
            None => return &[],
        }
    }
}

fn render_timeline(out: &mut String, ledger: &Ledger, tree: &ProcessTree) {
    let lines = ledger::lines(&ledger.events, tree);
    let mut next_line = lines.iter().peekable();
    for event in &ledger.events {
        while let Some(line) = next_line.next_if(|l| l.at.seq <= event.seq) {
            let pid = tree.processes[line.process].pid;
            let mark = if line.stream == Stream::Stderr {
                "!"
            } else {
                "|"
            };
            let _ = writeln!(
                out,
                "  {:>8}  {pid:<7} {mark} {}",
                seconds(line.at.t_ns),
                line.text
            );
        }
        if let Some(text) = describe(event) {
            let _ = writeln!(out, "  {:>8}  {text}", seconds(event.t_ns));
        }
    }
    for line in next_line {
        let pid = tree.processes[line.process].pid;
        let _ = writeln!(
            out,
            "  {:>8}  {pid:<7} | {}",
            seconds(line.at.t_ns),
            line.text
        );
    }
}

/// One timeline row for a non-output event (threads are left out).
fn describe(event: &Event) -> Option<String> {
    Some(match &event.kind {
        EventKind::Root { pid } => format!("{pid:<7} started"),
        EventKind::Spawn { thread: true, .. }
        | EventKind::ThreadExit { .. }
        | EventKind::Write { .. } => {
            return None;
        }
        EventKind::Spawn {
            parent, child, via, ..
        } => {
            let via = match via {
                SpawnVia::Fork => "fork",
                SpawnVia::Vfork => "vfork",
                SpawnVia::Clone => "clone",
            };
            format!("{parent:<7} created {child} ({via})")
        }
        EventKind::Exec { pid, path, argv } => {
            format!("{pid:<7} exec {path}  [{}]", quote_argv(argv))
        }
        EventKind::Exit { pid, status } => format!("{pid:<7} {}", status_text(*status)),
        EventKind::Reap { reaper, reaped } => format!("{reaper:<7} reaped {reaped}"),
        EventKind::KernelReap { parent, reaped } => {
            format!("{parent:<7} {reaped} reaped by the kernel (the parent ignores SIGCHLD)")
        }
        EventKind::SigchldDisposition {
            pid,
            ignore,
            nocldwait,
        } => format!("{pid:<7} {}", sigchld_text(*ignore, *nocldwait)),
        EventKind::Signal { from, to, signal } => {
            format!("{from:<7} sent {} to {to}", signal_name(*signal))
        }
        EventKind::BindFailed { pid, addr, errno } => format!(
            "{pid:<7} bind {addr} failed: {}",
            nix::errno::Errno::from_raw(*errno).desc()
        ),
        EventKind::Listen { pid, addr } => format!("{pid:<7} listening on {addr}"),
        EventKind::Accept { pid, local, peer } => format!("{pid:<7} accepted {peer} on {local}"),
        EventKind::SocketIo {
            pid,
            peer,
            dir,
            len,
        } => {
            let verb = match dir {
                IoDir::Read => "read",
                IoDir::Write => "wrote",
            };
            format!("{pid:<7} {verb} {len} bytes on the connection from {peer}")
        }
        EventKind::Limit { limit, detail } => format!("LIMIT   {limit}: {detail}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::builder::LedgerBuilder;

    #[test]
    fn renders_tree_timeline_lines_and_signals() {
        let mut b = LedgerBuilder::new(10, &["python3", "prog.py"]);
        b.fork(10, 11)
            .out(11, "child line\n")
            .out(10, "parent line\n")
            .signal(10, 11, 15)
            .killed(11, 15)
            .reap(10, 11)
            .exit(10, 0);
        let text = render(&b.build());
        assert!(text.contains("command: python3 prog.py"), "{text}");
        assert!(text.contains("processes (2):"), "{text}");
        // The child never exec'd: it shows the image its parent ran when it forked.
        assert!(
            text.lines()
                .any(|l| l.contains("11") && l.contains("python3 prog.py")),
            "{text}"
        );
        assert!(text.contains("11      | child line"), "{text}");
        assert!(text.contains("sent SIGTERM to 11"), "{text}");
        assert!(text.contains("killed by SIGTERM"), "{text}");
        assert!(text.contains("reaped 11"), "{text}");
    }

    #[test]
    fn renders_dispositions_and_kernel_reaps() {
        let mut b = LedgerBuilder::new(10, &["python3", "server.py"]);
        b.sigchld(10, true, false)
            .fork(10, 11)
            .exit(11, 0)
            .kernel_reap(10, 11)
            .sigchld(10, false, true)
            .exit(10, 0);
        let text = render(&b.build());
        assert!(
            text.contains("10      ignores SIGCHLD (SIG_IGN): the kernel reaps its children"),
            "{text}"
        );
        assert!(
            text.contains("10      11 reaped by the kernel (the parent ignores SIGCHLD)"),
            "{text}"
        );
        assert!(
            text.contains("10      sets SA_NOCLDWAIT on SIGCHLD"),
            "{text}"
        );
    }

    #[test]
    fn signal_names_cover_realtime_signals() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(40), "signal 40");
    }
}
