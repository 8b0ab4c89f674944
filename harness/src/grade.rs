//! Grading one submission: trace the command under the exercise's limits — for the
//! servers with the grader's clients talking to it during the trace, then SIGTERM and
//! SIGKILL — evaluate the exercise's checks over the ledger, and assemble the report.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::exercise::clients::{self, ServerUnderTest};
use crate::exercise::params::Params;
use crate::exercise::{Spec, evaluate};
use crate::ledger::{Event, Ledger, Limits};
use crate::report::GradeReport;
use crate::trace::{self, RunningTrace, StopHandle, TraceError, TraceOptions};

/// Tracer options for grading `command` against `spec`: its limits, default containment.
pub fn trace_options(spec: &Spec, command: Vec<String>) -> TraceOptions {
    let mut opts = TraceOptions::new(command);
    opts.limits = Limits {
        time_ms: spec.limits.time_ms,
        max_processes: spec.limits.max_processes,
        memory_bytes: spec.limits.memory_mb.saturating_mul(1 << 20),
        output_bytes: spec.limits.output_kb.saturating_mul(1 << 10),
    };
    opts.linger = Duration::from_millis(spec.limits.orphan_grace_ms);
    opts
}

/// Grade one run of `opts.command` against `spec`. Errors are the tracer's: the command
/// could not be run at all (missing, not executable) or tracing failed.
pub fn grade(spec: &Spec, opts: TraceOptions) -> Result<GradeReport, TraceError> {
    grade_traced(spec, opts).map(|(report, _)| report)
}

/// [`grade`], also returning the run's ledger (the HTML report draws its timeline).
pub fn grade_traced(spec: &Spec, opts: TraceOptions) -> Result<(GradeReport, Ledger), TraceError> {
    grade_with_stop(spec, opts, |_| {})
}

/// [`grade_traced`], handing the run's [`StopHandle`] to `on_start` once it runs (so a
/// signal handler can end it cleanly when the grader is interrupted).
pub fn grade_with_stop(
    spec: &Spec,
    opts: TraceOptions,
    on_start: impl FnOnce(StopHandle),
) -> Result<(GradeReport, Ledger), TraceError> {
    let started = Instant::now();
    let mut opts = opts;
    if matches!(spec.params, Params::Server(_)) {
        // The grader's clients run outside the traced world, on the real clock: a
        // server's timeouts and the clients' waits must agree (docs/VIRTUAL_CLOCK.md).
        opts.clock = trace::ClockMode::Real;
    }
    let running = trace::start(opts)?;
    on_start(running.stop_handle());
    let (ledger, session) = match &spec.params {
        Params::Server(params) => {
            let session = clients::drive(&Traced(&running), spec.id, params);
            let ledger = running.terminate(Duration::from_millis(params.teardown_grace_ms))?;
            (ledger, Some(session))
        }
        _ => (running.wait()?, None),
    };
    // A fault of the grader's environment (a port held by another program, a missing
    // interpreter) is not judged: no checks, exit status 2.
    if let Some(reason) = crate::cannot_grade::diagnose(&ledger) {
        let elapsed = started.elapsed().as_secs_f64();
        let report =
            GradeReport::could_not_grade(spec, &ledger.command, reason, Some(&ledger), elapsed);
        return Ok((report, ledger));
    }
    let checks = evaluate(spec, &ledger, session.as_ref());
    let report = GradeReport::new(
        spec,
        &ledger,
        checks,
        session,
        started.elapsed().as_secs_f64(),
    );
    Ok((report, ledger))
}

/// The running trace as the clients see it.
struct Traced<'a>(&'a RunningTrace);

impl ServerUnderTest for Traced<'_> {
    fn events(&self) -> Vec<Event> {
        self.0.events()
    }

    fn wait_for(&self, timeout: Duration, pred: &dyn Fn(&[Event]) -> bool) -> bool {
        self.0.wait_for(timeout, pred)
    }

    fn is_finished(&self) -> bool {
        self.0.is_finished()
    }

    fn clock_ns(&self) -> u64 {
        self.0.clock_ns()
    }

    fn connect(&self, addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        self.0.connect_tcp(addr, timeout)
    }
}
