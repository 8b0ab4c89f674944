//! Running one helper process (a build, a grading worker) under supervision: its own
//! session and process group, a deadline, and the batch's stop flag. Output is captured with a cap.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// Captured output beyond this many bytes per stream keeps only its tail.
const CAPTURE_CAP: usize = 1 << 20;
/// How long a child gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);

/// How a supervised child ended.
#[derive(Debug)]
pub enum End {
    Exited(ExitStatus),
    /// Killed at the deadline.
    TimedOut,
    /// Killed because the batch was stopped.
    Stopped,
}

/// A finished child and what it wrote.
#[derive(Debug)]
pub struct Finished {
    pub end: End,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Which processes a stop or deadline signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The child only (it tears down what it started itself).
    Child,
    /// The child's whole process group (a build and its compilers).
    Group,
}

/// Spawn `command` in a new process group and wait for it, ending it (SIGTERM, then
/// SIGKILL after a grace period) at `deadline` or when `stop` is raised.
pub fn supervise(
    mut command: Command,
    deadline: Duration,
    stop: &AtomicBool,
    target: Target,
) -> std::io::Result<Finished> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A session of its own (so a process group of its own, out of the terminal's reach):
    // with the kernel's autogroups, a session is also a scheduling group, and a build
    // hogging the CPU in the grader's group starved virtual-clock runs for seconds
    // (docs/virtual-clock.md, "A kernel caveat").
    // SAFETY: setsid(2) is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| nix::unistd::setsid().map(drop).map_err(Into::into));
    }
    let mut child = command.spawn()?;
    let pid = Pid::from_raw(child.id() as i32);
    let stdout = child.stdout.take().map(reader);
    let stderr = child.stderr.take().map(reader);
    let started = Instant::now();
    let mut ending: Option<(End, Instant)> = None;
    let mut killed = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if ending.is_none() {
            let why = if stop.load(Ordering::SeqCst) {
                Some(End::Stopped)
            } else if started.elapsed() >= deadline {
                Some(End::TimedOut)
            } else {
                None
            };
            if let Some(why) = why {
                signal(pid, target, Signal::SIGTERM);
                ending = Some((why, Instant::now()));
            }
        } else if let Some((_, since)) = &ending
            && !killed
            && since.elapsed() >= GRACE
        {
            signal(pid, target, Signal::SIGKILL);
            killed = true;
        }
        std::thread::sleep(POLL);
    };
    // Whatever the child left in its group (a build's compilers) goes with it.
    if target == Target::Group {
        let _ = killpg(pid, Signal::SIGKILL);
    }
    let stdout = stdout.map(join).unwrap_or_default();
    let stderr = stderr.map(join).unwrap_or_default();
    let end = match ending {
        Some((why, _)) => why,
        None => End::Exited(status),
    };
    Ok(Finished {
        end,
        stdout,
        stderr,
    })
}

fn signal(pid: Pid, target: Target, sig: Signal) {
    // ESRCH (already gone) is the expected race here.
    let _ = match target {
        Target::Child => kill(pid, sig),
        Target::Group => killpg(pid, sig),
    };
}

fn reader(mut stream: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&buf[..n]);
            if kept.len() > 2 * CAPTURE_CAP {
                kept.drain(..kept.len() - CAPTURE_CAP);
            }
        }
        if kept.len() > CAPTURE_CAP {
            kept.drain(..kept.len() - CAPTURE_CAP);
        }
        kept
    })
}

fn join(handle: std::thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    handle.join().unwrap_or_default()
}

/// The last `lines` lines of `bytes`, lossily decoded.
pub fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.trim_end().lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let stop = AtomicBool::new(false);
        let mut command = Command::new("sh");
        command.args(["-c", "echo out; echo err >&2; exit 3"]);
        let done = supervise(command, Duration::from_secs(10), &stop, Target::Group).unwrap();
        assert!(matches!(done.end, End::Exited(s) if s.code() == Some(3)));
        assert_eq!(done.stdout, b"out\n");
        assert_eq!(done.stderr, b"err\n");
    }

    #[test]
    fn deadline_kills_the_group() {
        let stop = AtomicBool::new(false);
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 30 & sleep 30"]);
        let start = Instant::now();
        let done = supervise(command, Duration::from_millis(200), &stop, Target::Group).unwrap();
        assert!(matches!(done.end, End::TimedOut));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail(b"a\nb\nc\n", 2), "b\nc");
    }
}
