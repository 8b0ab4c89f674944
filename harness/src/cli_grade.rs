//! `proclab grade EXERCISE [--format …] [--exercise-file F] -- COMMAND [ARGS…]` and
//! `proclab exercises`.
//!
//! Exit status of `grade`: 0 the submission passed every check, 1 it failed one, 2 it
//! could not be graded (bad arguments, unknown exercise, unreadable or malformed
//! exercise file; and, with a report of verdict `error` in the chosen format, a command
//! or interpreter not found, a port taken by another program on the host's network, a
//! resource of the grader's own exhausted), with a one-line error on stderr; 130 when proclab itself is interrupted (Ctrl-C, SIGTERM): the run is
//! still stopped and cleaned up.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::cli_trace::parse_duration;
use crate::exercise::spec::{self, Spec};
use crate::report::{self, Format, GradeReport};
use crate::trace::{CgroupMode, NetnsMode, RunAs};

/// Arguments of `proclab grade`.
#[derive(Debug, Clone, Args)]
pub struct GradeArgs {
    /// The exercise (`proclab exercises` lists them).
    pub exercise: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// An exercise file (TOML) that changes the exercise's parameters, limits or points.
    #[arg(long, value_name = "FILE")]
    pub exercise_file: Option<PathBuf>,
    /// Write the report to FILE instead of stdout (e.g. Gradescope's results.json).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Override the exercise's wall-clock limit (e.g. 30s, 2m).
    #[arg(long, value_parser = parse_duration)]
    pub time_limit: Option<Duration>,
    /// Override the exercise's orphan grace: how long processes the main process left
    /// running may go on after it exited (e.g. 5s, 500ms) before they are killed.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub orphan_grace: Option<Duration>,
    /// Run the command as this user when proclab runs as root (default: nobody when the
    /// command is within its reach). `--user root` keeps root.
    #[arg(long)]
    pub user: Option<String>,
    /// Working directory of the command.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Use the host's network instead of a private namespace.
    #[arg(long)]
    pub no_netns: bool,
    /// No cgroups (process cap through ptrace only, no memory cap).
    #[arg(long)]
    pub no_cgroup: bool,
    /// A directory the submission cannot read (repeatable): the class folder, so that it
    /// cannot read other students' submissions; `--expose` its own folder.
    #[arg(long, value_name = "DIR")]
    pub hide: Vec<std::path::PathBuf>,
    /// A directory inside a hidden one that stays visible (repeatable).
    #[arg(long, value_name = "DIR")]
    pub expose: Vec<std::path::PathBuf>,
    /// Do not pin the tracer and the traced tree to one CPU.
    #[arg(long)]
    pub no_pin_cpu: bool,
    /// Let the submission write anywhere it has permission to, not only its working
    /// directory (as `trace --writable-fs`).
    #[arg(long)]
    pub writable_fs: bool,
    /// Run the submission among the host's pids instead of a pid namespace of its own
    /// (as `trace --no-pidns`).
    #[arg(long)]
    pub no_pidns: bool,
    /// Also write the report in FORMAT to FILE (repeatable), e.g. `--report junit=r.xml`.
    #[arg(long, value_name = "FORMAT=FILE", value_parser = parse_report)]
    pub report: Vec<(Format, PathBuf)>,
    /// The clock the program runs on: `virtual` (time jumps over sleeps while nothing of
    /// the run can run; servers always run on the real clock), or `real`.
    #[arg(long, value_enum, default_value_t = crate::trace::ClockMode::Virtual)]
    pub clock: crate::trace::ClockMode,
    /// The submission's command and its arguments.
    #[arg(last = true, required = true, num_args = 1..)]
    pub command: Vec<String>,
}

/// Arguments of `proclab exercises`.
#[derive(Debug, Clone, Args)]
pub struct ExercisesArgs {
    /// Print the built-in spec (TOML) of this exercise instead of the list.
    #[arg(long, value_name = "EXERCISE")]
    pub show: Option<String>,
}

/// Could not grade: print a one-line error and exit 2.
fn cannot(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("proclab grade: {message}");
    ExitCode::from(2)
}

/// The spec to grade against: the built-in one, or the exercise file's.
fn load_spec(args: &GradeArgs) -> Result<Spec, String> {
    let builtin = spec::builtin(&args.exercise).map_err(|e| e.to_string())?;
    let Some(path) = &args.exercise_file else {
        return Ok(builtin);
    };
    let spec = spec::load(path).map_err(|e| e.to_string())?;
    if spec.id != builtin.id {
        return Err(format!(
            "{}: the file is for exercise `{}`, not `{}`",
            path.display(),
            spec.id,
            builtin.id
        ));
    }
    Ok(spec)
}

/// `FORMAT=FILE` of `--report`.
fn parse_report(s: &str) -> Result<(Format, PathBuf), String> {
    use clap::ValueEnum;
    let (format, file) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected FORMAT=FILE, e.g. junit=results.xml"))?;
    let format = Format::from_str(format, true).map_err(|_| {
        let names: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_string()))
            .collect();
        format!("`{format}`: unknown format (one of {})", names.join(", "))
    })?;
    Ok((format, PathBuf::from(file)))
}

/// Run `proclab grade`.
pub fn run_grade(args: GradeArgs) -> ExitCode {
    // A platform's results file must exist whatever happens to the grading: an outer
    // process grades in a child and writes it when the child cannot.
    if args.format.is_platform() && !crate::platform::grade::is_child() {
        return crate::platform::grade::supervise(&args);
    }
    let spec = match load_spec(&args) {
        Ok(spec) => spec,
        Err(e) => return cannot(e),
    };
    let mut opts = crate::grade::trace_options(&spec, args.command.clone());
    if let Some(limit) = args.time_limit {
        opts.limits.time_ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
    }
    if let Some(grace) = args.orphan_grace {
        opts.linger = grace;
    }
    opts.run_as = match args.user.as_deref() {
        None => RunAs::Auto,
        Some("root") if nix::unistd::Uid::effective().is_root() => RunAs::Current,
        Some(user) => RunAs::User(user.to_string()),
    };
    opts.cwd = args.cwd.clone();
    opts.hide = args.hide.clone();
    opts.expose = args.expose.clone();
    if args.no_netns {
        opts.netns = NetnsMode::Off;
    }
    if args.no_cgroup {
        opts.cgroup = CgroupMode::Off;
    }
    opts.pin_cpu = !args.no_pin_cpu;
    opts.clock = args.clock;
    opts.readonly_fs = !args.writable_fs;
    opts.pidns = !args.no_pidns;
    // Ctrl-C / SIGTERM to proclab: end the run cleanly (everything killed and reaped),
    // then exit 130 without a verdict.
    let interrupts = crate::interrupts::Interrupts::install();
    let started = std::time::Instant::now();
    let graded = crate::grade::grade_with_stop(&spec, opts, |run| interrupts.connect(run));
    if interrupts.raised() {
        eprintln!("proclab grade: interrupted; the run was stopped and cleaned up, no verdict");
        return ExitCode::from(130);
    }
    // Could not grade (the command could not start, or the run shows a fault of the
    // grader's environment): the reason on stderr and, in the chosen format, the report.
    let unrun = graded.as_ref().err().map(|e| {
        let reason = crate::cannot_grade::trace_error(e, &args.command);
        let elapsed = started.elapsed().as_secs_f64();
        eprintln!("proclab grade: could not grade: {reason}");
        GradeReport::could_not_grade(&spec, &args.command, reason, None, elapsed)
    });
    let render = |format| match (&graded, &unrun) {
        (Ok((report, ledger)), _) => report::render_run(report, ledger, format),
        (Err(_), Some(report)) => report::render_unrun(report, format),
        (Err(_), None) => Err("no report to render".to_string()),
    };
    let rendered = render(args.format);
    if let Ok((report, _)) = &graded
        && let Some(error) = &report.error
    {
        eprintln!("proclab grade: could not grade: {error}");
    }
    let exit = match &graded {
        Ok((report, _)) => report.exit_code(),
        Err(_) => 2,
    };
    let text = match rendered {
        Ok(text) => text,
        Err(e) => return cannot(format!("cannot render the report: {e}")),
    };
    let written = match &args.output {
        Some(path) => {
            let plain = anstream::adapter::strip_str(&text).to_string();
            std::fs::write(path, plain).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            let mut out = anstream::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| {
                    if text.ends_with('\n') {
                        Ok(())
                    } else {
                        out.write_all(b"\n")
                    }
                })
                // A reader that stops early (`| head`) is not a grading failure.
                .or_else(|e| match e.kind() {
                    std::io::ErrorKind::BrokenPipe => Ok(()),
                    _ => Err(e),
                })
                .map_err(|e| format!("cannot write the report: {e}"))
        }
    };
    if let Err(e) = written {
        return cannot(e);
    }
    for (format, path) in &args.report {
        let written = render(*format).and_then(|text| {
            let plain = anstream::adapter::strip_str(&text).to_string();
            std::fs::write(path, plain).map_err(|e| format!("cannot write {}: {e}", path.display()))
        });
        if let Err(e) = written {
            return cannot(e);
        }
    }
    ExitCode::from(exit)
}

/// Run `proclab exercises`.
pub fn run_exercises(args: ExercisesArgs) -> ExitCode {
    if let Some(id) = &args.show {
        return match crate::exercise::id::ExerciseId::parse(id) {
            Some(exercise) => {
                print!("{}", spec::builtin_text(exercise));
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("proclab exercises: unknown exercise `{id}`");
                ExitCode::from(2)
            }
        };
    }
    let specs = match spec::all_builtin() {
        Ok(specs) => specs,
        Err(e) => {
            eprintln!("proclab exercises: {e}");
            return ExitCode::from(2);
        }
    };
    let width = specs.iter().map(|s| s.id.as_str().len()).max().unwrap_or(0);
    let mut out = anstream::stdout().lock();
    for s in specs {
        let _ = writeln!(out, "{:<width$}  {}", s.id.as_str(), s.description);
    }
    ExitCode::SUCCESS
}
