//! "Could not grade": faults of the grader's environment, told apart from the
//! student's mistakes. A port held by another program, an interpreter that is not
//! installed, a resource of the grader's own that ran out: none of these is the
//! submission's doing, so they give exit status 2 and a reason with what to do, never a
//! failed check.

use crate::exercise::Run;
use crate::ledger::{EventKind, ExitStatus, Ledger, Stream};
use crate::trace::TraceError;

/// Why a finished run cannot be judged, if its ledger shows a fault of the grader's
/// environment: [`port_taken`] or [`launcher_failed`].
pub fn diagnose(ledger: &Ledger) -> Option<String> {
    port_taken(ledger).or_else(|| launcher_failed(&Run::new(ledger)))
}

/// Did the run share the host's network (no private namespace)?
fn host_network(ledger: &Ledger) -> bool {
    !ledger.layers.iter().any(|l| l.name == "netns" && l.active)
}

fn port_of(addr: &str) -> Option<&str> {
    addr.rsplit_once(':').map(|(_, port)| port)
}

/// A bind that failed with EADDRINUSE on the host's network, on a port the run had not
/// listened on itself, and no listen afterwards: another program holds the port. In a
/// private namespace only the submission can hold it, so that stays the student's.
pub fn port_taken(ledger: &Ledger) -> Option<String> {
    if !host_network(ledger) {
        return None;
    }
    let events = &ledger.events;
    let (at, addr) = events.iter().enumerate().find_map(|(i, e)| match &e.kind {
        EventKind::BindFailed { addr, errno, .. } if *errno == libc::EADDRINUSE => {
            let own = events[..i].iter().any(|earlier| {
                matches!(&earlier.kind, EventKind::Listen { addr: a, .. }
                    if port_of(a) == port_of(addr))
            });
            (!own).then_some((i, addr))
        }
        _ => None,
    })?;
    let listened_later = events[at..]
        .iter()
        .any(|e| matches!(e.kind, EventKind::Listen { .. }));
    if listened_later {
        return None;
    }
    let port = port_of(addr).unwrap_or("?");
    Some(format!(
        "{addr} is taken by another program on this machine (the submission's bind failed: \
         address already in use) and the run shares the host's network; free the port \
         (`ss -ltnp 'sport = :{port}'` shows who holds it) or give each run a private network \
         namespace (run proclab as root, without --no-netns), then grade again"
    ))
}

/// The program never ran because its launcher could not start it: the main process is
/// still a launcher (`env`, a shell, a shim) that exited 126 (cannot execute) or 127
/// (not found), e.g. a `#!/usr/bin/env python9` line on a machine without python9.
pub fn launcher_failed(run: &Run) -> Option<String> {
    let main = run.main()?;
    let process = &run.tree.processes[main];
    let image = process.execs.last()?;
    let launcher = crate::ledger::roles::is_launcher_image(&image.path)
        || image
            .argv
            .first()
            .is_some_and(|a| crate::ledger::roles::is_launcher_image(a));
    let code = match process.exited?.1 {
        ExitStatus::Code { code } if launcher && (code == 126 || code == 127) => code,
        _ => return None,
    };
    let said = run
        .lines_of(main)
        .filter(|l| l.stream == Stream::Stderr)
        .last()
        .map(|l| format!(": {}", l.text.trim()))
        .unwrap_or_default();
    let what = if code == 127 {
        "not found"
    } else {
        "cannot be executed"
    };
    Some(format!(
        "`{}` could not start the program (exit {code}, command {what}{said}); install the \
         interpreter the submission names (its #! line or command) or fix the command, then \
         grade again",
        image.argv.join(" ")
    ))
}

/// Why the tracer could not run the command at all, and what to do.
pub fn trace_error(error: &TraceError, command: &[String]) -> String {
    use nix::errno::Errno;
    match error {
        TraceError::CommandNotFound(cmd) => format!(
            "command not found: {cmd}; install it, or give the full path of the submission's \
             program or interpreter"
        ),
        TraceError::NotExecutable { .. } => format!(
            "{error}; make it executable (chmod +x) or run it through its interpreter \
             (e.g. python3 FILE)"
        ),
        TraceError::UnknownUser(_) => format!("{error}; --user must name a user of this machine"),
        TraceError::OutOfReach { .. } => {
            format!("{error}; install it where that user can read it, or grade with --user root")
        }
        TraceError::Start {
            errno: Errno::ENOENT | Errno::EACCES | Errno::ENOEXEC,
            ..
        } => match shebang(command) {
            Some(line) => format!(
                "{error}; its interpreter line `{line}` names a program this machine does not \
                 have (or cannot run): install it, or run the file through an interpreter that \
                 exists (e.g. python3 FILE)"
            ),
            None => format!("{error}; check that the command exists and can be run"),
        },
        TraceError::Start { errno, .. } if exhausted(*errno) => {
            format!("{error}; {EXHAUSTED}")
        }
        TraceError::Setup { source, .. }
            if source
                .raw_os_error()
                .is_some_and(|e| exhausted(Errno::from_raw(e))) =>
        {
            format!("{error}; {EXHAUSTED}")
        }
        TraceError::Ptrace { .. } => format!(
            "{error}; this machine does not let proclab trace (a container's seccomp policy, \
             kernel.yama.ptrace_scope = 3): grade where ptrace is allowed"
        ),
        _ => format!("{error}; a fault of the grader, not of the submission: grade again"),
    }
}

const EXHAUSTED: &str = "the grading machine ran out of processes, memory or cgroups of its \
     own: grade again when it is less busy (fewer --jobs) or raise its limits";

fn exhausted(errno: nix::errno::Errno) -> bool {
    use nix::errno::Errno;
    matches!(
        errno,
        Errno::EAGAIN | Errno::ENOMEM | Errno::ENOSPC | Errno::EMFILE | Errno::ENFILE
    )
}

/// The `#!` line of the command's file, if it has one.
fn shebang(command: &[String]) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let mut file = std::fs::File::open(command.first()?).ok()?;
    let n = file.read(&mut head).ok()?;
    let text = String::from_utf8_lossy(&head[..n]);
    let line = text.lines().next()?;
    line.starts_with("#!").then(|| line.trim().to_string())
}

#[cfg(test)]
mod tests;
