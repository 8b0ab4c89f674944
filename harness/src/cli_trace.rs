//! `proclab trace [options] -- COMMAND [ARGS…]`: run a command under the tracer and
//! print its process tree and timeline (or the ledger as JSON).
//!
//! Exit status: 0 when the command was traced (whatever its own exit status, which is
//! printed), 2 when it could not be (missing or non-executable command, bad option),
//! 130 when the grader was interrupted (the run is still torn down and printed).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::ledger::Limits;
use crate::trace::{self, CgroupMode, DEFAULT_LIMITS, NetnsMode, RunAs, TraceOptions};

/// Output format of `proclab trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum TraceFormat {
    /// Process tree and timeline, for people.
    #[default]
    Text,
    /// The full ledger (versioned schema, see `ledger::event`).
    Json,
}

/// Arguments of `proclab trace`.
#[derive(Debug, Clone, Args)]
pub struct TraceArgs {
    /// Wall-clock limit (e.g. 30s, 500ms, 2m).
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub time_limit: Duration,
    /// Most live processes (threads excluded).
    #[arg(long, default_value_t = DEFAULT_LIMITS.max_processes)]
    pub max_procs: u32,
    /// Memory cap for the whole tree (e.g. 512M, 1G).
    #[arg(long, value_parser = parse_size, default_value = "512M")]
    pub memory: u64,
    /// Cap on captured output (e.g. 8M).
    #[arg(long, value_parser = parse_size, default_value = "8M")]
    pub max_output: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: TraceFormat,
    /// Use the host's network instead of a private namespace.
    #[arg(long)]
    pub no_netns: bool,
    /// No cgroups: the process cap through ptrace only, memory by sampling the tree's RSS.
    #[arg(long)]
    pub no_cgroup: bool,
    /// Let the program write anywhere it has permission to, not only its working directory.
    #[arg(long)]
    pub writable_fs: bool,
    /// Run the program among the host's pids instead of a pid namespace of its own.
    #[arg(long)]
    pub no_pidns: bool,
    /// A directory the program cannot read (repeatable): other students' submissions.
    #[arg(long, value_name = "DIR")]
    pub hide: Vec<std::path::PathBuf>,
    /// A directory inside a hidden one that stays visible (repeatable).
    #[arg(long, value_name = "DIR")]
    pub expose: Vec<std::path::PathBuf>,
    /// Run the command as this user when proclab runs as root (default: nobody, if the
    /// command is within its reach). `--user root` keeps root.
    #[arg(long)]
    pub user: Option<String>,
    /// Working directory of the command.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Do not pin the tracer and the traced tree to one CPU.
    #[arg(long)]
    pub no_pin_cpu: bool,
    /// Write the raw bytes of the command's stdout/stderr to DIR/stdout, DIR/stderr.
    #[arg(long, value_name = "DIR")]
    pub capture: Option<PathBuf>,
    /// How long the processes the root left running may go on after it exited (orphans
    /// finishing their work) before they are killed as leftovers; the run ends as soon as
    /// they are gone, and never after the time limit. The same default as `grade`'s
    /// `--orphan-grace`.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub linger: Duration,
    /// The clock the program runs on: `real`, or `virtual` (time jumps over sleeps while
    /// nothing of the run can run).
    #[arg(long, value_enum, default_value_t)]
    pub clock: crate::trace::ClockMode,
    /// The command and its arguments.
    #[arg(last = true, required = true, num_args = 1..)]
    pub command: Vec<String>,
}

/// "30s", "500ms", "2m", "1.5s", or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "s"), |i| s.split_at(i));
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        _ => return Err(format!("unknown unit in {s:?} (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("not a duration: {s:?}"))
}

/// "512M", "8M", "1G", "64K", or plain bytes (binary multiples).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, ""), |i| s.split_at(i));
    let value: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a size: {s:?}"))?;
    let mult: u64 = match unit
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return Err(format!("unknown unit in {s:?} (use K, M or G)")),
    };
    value
        .checked_mul(mult)
        .ok_or_else(|| format!("too large: {s:?}"))
}

impl TraceArgs {
    /// The tracer options these arguments ask for.
    pub fn options(&self) -> TraceOptions {
        let mut opts = TraceOptions::new(self.command.clone());
        opts.limits = Limits {
            time_ms: u64::try_from(self.time_limit.as_millis()).unwrap_or(u64::MAX),
            max_processes: self.max_procs,
            memory_bytes: self.memory,
            output_bytes: self.max_output,
        };
        opts.netns = if self.no_netns {
            NetnsMode::Off
        } else {
            NetnsMode::Auto
        };
        opts.readonly_fs = !self.writable_fs;
        opts.pidns = !self.no_pidns;
        opts.hide = self.hide.clone();
        opts.expose = self.expose.clone();
        opts.cgroup = if self.no_cgroup {
            CgroupMode::Off
        } else {
            CgroupMode::Auto
        };
        opts.run_as = match self.user.as_deref() {
            None => RunAs::Auto,
            Some("root") if nix::unistd::Uid::effective().is_root() => RunAs::Current,
            Some(user) => RunAs::User(user.to_string()),
        };
        opts.cwd = self.cwd.clone();
        opts.pin_cpu = !self.no_pin_cpu;
        opts.capture_dir = self.capture.clone();
        opts.linger = self.linger;
        opts.clock = self.clock;
        opts
    }
}

/// Run `proclab trace`.
pub fn run(args: TraceArgs) -> ExitCode {
    // With PROCLAB_TRACE_TIMINGS=1: absolute CLOCK_MONOTONIC µs at entry and exit, so a
    // benchmark that notes when it spawned proclab can tell the process start-up cost.
    trace::print_timing("cli:entry-at", trace::now_ns() / 1000);
    // Ctrl-C / SIGTERM to proclab: end the run cleanly (kill, reap, print the ledger).
    let interrupts = crate::interrupts::Interrupts::install();
    let running = match trace::start(args.options()) {
        Ok(running) => running,
        Err(e) => {
            eprintln!("proclab trace: {e}");
            return ExitCode::from(if e.is_bad_input() { 2 } else { 1 });
        }
    };
    interrupts.connect(running.stop_handle());
    let ledger = match running.wait() {
        Ok(ledger) => ledger,
        Err(e) => {
            eprintln!("proclab trace: {e}");
            return ExitCode::from(if e.is_bad_input() { 2 } else { 1 });
        }
    };
    let report_start = trace::now_ns();
    trace::print_timing("cli:report-start-at", report_start / 1000);
    let text = match args.format {
        TraceFormat::Text => crate::report::trace_text::render(&ledger),
        TraceFormat::Json => match serde_json::to_string_pretty(&ledger) {
            Ok(json) => json + "\n",
            Err(e) => {
                eprintln!("proclab trace: cannot serialize the ledger: {e}");
                return ExitCode::from(1);
            }
        },
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if trace::timings_enabled() {
        let now = trace::now_ns();
        trace::print_timing("cli:report", now.saturating_sub(report_start) / 1000);
        trace::print_timing("cli:exit-at", now / 1000);
    }
    if interrupts.raised() {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3h").is_err());
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }

    #[test]
    fn the_default_linger_is_the_tracers() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            trace: TraceArgs,
        }
        let cli = <Cli as clap::Parser>::parse_from(["trace", "--", "true"]);
        assert_eq!(cli.trace.linger, crate::trace::DEFAULT_LINGER);
    }
}
