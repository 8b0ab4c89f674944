//! `proclab grade --format gradescope|prairielearn`: the platform contract of one run.
//!
//! A platform needs a results file whatever happens, and keeps a partial score only when
//! the grader exits 0. So the grading runs in a child `proclab grade` (same arguments);
//! this outer process passes its report on and exits 0 on a verdict, and when the child
//! could not grade (exit 2, a crash) writes the platform's could-not-grade results with
//! the child's reason instead. Only an outer process can promise that: a tracer that
//! fails, or a grader that panics, cannot be trusted to report its own failure.

use std::io::{Read, Write};
use std::process::{Command, ExitCode, Stdio};

use crate::cli_grade::GradeArgs;

/// Set in the child's environment: grade as usual, without another supervisor.
pub const CHILD_ENV: &str = "PROCLAB_PLATFORM_CHILD";

/// Is this process the supervised child?
pub fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Grade in a child and make sure a results file comes out.
pub fn supervise(args: &GradeArgs) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return fallback(args, &format!("cannot find proclab itself: {e}")),
    };
    let mut cmd = Command::new(exe);
    cmd.args(std::env::args_os().skip(1))
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return fallback(args, &format!("cannot start the grader: {e}")),
    };
    forward_signals(child.id());
    // stderr passes through as it comes (and is kept for the reason); stdout is the
    // report, passed on only when the child graded.
    let mut err = child.stderr.take().expect("piped");
    let echo = std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            let _ = std::io::stderr().write_all(&buf[..n]);
            kept.extend_from_slice(&buf[..n]);
        }
        kept
    });
    let mut report = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_end(&mut report);
    }
    let status = child.wait();
    let stderr = echo.join().unwrap_or_default();
    match status.as_ref().map(|s| s.code()) {
        Ok(Some(0 | 1)) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(&report).and_then(|()| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("proclab grade: cannot write the report: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Ok(Some(130)) => ExitCode::from(130),
        _ => {
            let reason =
                reason(&String::from_utf8_lossy(&stderr)).unwrap_or_else(|| match status {
                    Ok(s) => format!("the grader ended with {s}"),
                    Err(e) => format!("the grader could not be waited for: {e}"),
                });
            fallback(args, &reason)
        }
    }
}

/// The child's reason: its last `proclab grade:` line, else a panic's line, else its
/// last line.
fn reason(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("proclab grade: "))
        .map(str::to_string)
        .or_else(|| {
            // A panic: its location line and the message under it.
            let at = lines.iter().rposition(|l| l.contains("panicked"))?;
            Some(lines[at..lines.len().min(at + 2)].join(" "))
        })
        .or_else(|| lines.last().map(|l| l.to_string()))
}

/// Write the platform's could-not-grade results; exit 0 so the platform records them.
fn fallback(args: &GradeArgs, reason: &str) -> ExitCode {
    let Some(text) = args.format.could_not_grade(&args.exercise, reason) else {
        eprintln!("proclab grade: {reason}");
        return ExitCode::from(2);
    };
    let written = match &args.output {
        Some(path) => std::fs::write(path, format!("{text}\n"))
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => writeln!(std::io::stdout(), "{text}").map_err(|e| format!("cannot write: {e}")),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proclab grade: {e}");
            ExitCode::from(2)
        }
    }
}

/// SIGINT and SIGTERM to this process go to the child, which stops its run cleanly.
fn forward_signals(child: u32) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    let pid = nix::unistd::Pid::from_raw(child as i32);
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if let Ok(signal) = nix::sys::signal::Signal::try_from(signal) {
                let _ = nix::sys::signal::kill(pid, signal);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::reason;

    #[test]
    fn the_reason_is_the_graders_own_line() {
        let stderr = "warning: x\nproclab grade: cannot start python9: not found\n";
        assert_eq!(
            reason(stderr).as_deref(),
            Some("cannot start python9: not found")
        );
        let panic =
            "thread 'main' panicked at src/x.rs:1:1:\nboom\nnote: run with RUST_BACKTRACE=1\n";
        assert_eq!(
            reason(panic).as_deref(),
            Some("thread 'main' panicked at src/x.rs:1:1: boom")
        );
        assert_eq!(reason(""), None);
    }
}
