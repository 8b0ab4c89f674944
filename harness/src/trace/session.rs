//! The tracer thread's side of a run: pin, fork, seize, put the child in its cgroups,
//! release it, trace to the end, tear down, and hand back the outcome.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Instant;

use nix::fcntl::OFlag;
use nix::sys::ptrace::Options;
use nix::unistd::Pid;

use super::child_spec;
use super::drain;
use super::error::TraceError;
use super::fds::OurPipes;
use super::pidns::PidNs;
use super::pin::pin_cpu;
use super::prepare::{Prepared, layer};
use super::recorder::{Recorder, Shared};
use super::seccomp;
use super::sockets::SocketTable;
use super::spawn;
use super::teardown::StopHandle;
use super::tracer_loop::Tracer;
use super::watchdog;
use super::writes::Gates;
use crate::ledger::{ExitStatus, Layer, LimitKind, Pid as LedgerPid};

/// What the tracer thread reports once the child runs.
pub(crate) struct Started {
    pub root: Pid,
    pub stopper: StopHandle,
    /// The run's clock origin (events' `t_ns` count from it).
    pub start: Instant,
}

/// Everything of the ledger but the events (which stay in [`Shared`]).
pub(crate) struct Outcome {
    pub root: LedgerPid,
    pub root_status: Option<ExitStatus>,
    pub limit_hit: Option<LimitKind>,
    pub output_truncated: bool,
    pub leftovers: Vec<LedgerPid>,
    pub layers: Vec<Layer>,
    pub wall_ns: u64,
}

/// The tracer thread's body. Sends `Started` (or the error) through `started` as soon
/// as the child is released, then traces to the end.
pub(crate) fn tracer_main(
    prepared: Prepared,
    shared: Arc<Shared>,
    started: Sender<Result<Started, TraceError>>,
) -> Result<Outcome, TraceError> {
    match trace(prepared, shared, &started) {
        Ok(outcome) => Ok(outcome),
        Err((e, sent)) => {
            if !sent {
                let _ = started.send(Err(e));
                return Err(TraceError::TracerPanicked);
            }
            Err(e)
        }
    }
}

type Failure = (TraceError, bool);

fn trace(
    mut p: Prepared,
    shared: Arc<Shared>,
    started: &Sender<Result<Started, TraceError>>,
) -> Result<Outcome, Failure> {
    let early = |e: TraceError| (e, false);
    p.timings.mark("tracer-thread-start");
    let opts = p.opts.clone();
    let pipe = |what| {
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| early(TraceError::setup(what)(e.into())))
    };
    let (out_r, out_w) = pipe("creating the stdout pipe")?;
    let (err_r, err_w) = pipe("creating the stderr pipe")?;
    let (out_r, err_r) = (File::from(out_r), File::from(err_r));
    let pipes = OurPipes::of(&out_r, &err_r, [&out_w, &err_w])
        .map_err(|e| early(TraceError::setup("inspecting pipes")(e)))?;
    // The helper threads start before the pin and the fork: unpinned, they neither take
    // the tree's CPU nor delay the child's exec (measured: their start-up on the pinned
    // CPU held the root's exec stop for up to 3 ms). They need no ptrace stops.
    let drain = drain::spawn(
        out_r,
        err_r,
        opts.capture_dir.as_deref(),
        opts.limits.output_bytes,
    )
    .map_err(|e| early(TraceError::setup("starting the output drain")(e)))?;
    p.timings.mark("drain-thread");
    let watchdog = watchdog::spawn(opts.limits.clone(), opts.linger);
    p.timings.mark("watchdog-thread");
    // The child inherits this thread's affinity.
    let mut unpin = None;
    if opts.pin_cpu {
        p.layers.push(match pin_cpu(opts.cpu_turn) {
            Ok((cpu, allowed)) => {
                unpin = Some(allowed);
                layer("pin-cpu", true, format!("tracer and tree on CPU {cpu}"))
            }
            Err(e) => layer("pin-cpu", false, format!("cannot pin: {e}")),
        });
    }
    p.timings.mark("pin-cpu");
    let mut cgroups = std::mem::take(&mut p.cgroups);
    let stdin: OwnedFd = File::open("/dev/null")
        .map_err(|e| early(TraceError::setup("opening /dev/null")(e)))?
        .into();
    let virtual_clock = opts.clock == super::vclock::ClockMode::Virtual;
    let filters = seccomp::build(virtual_clock).map_err(|e| {
        early(TraceError::setup("building the seccomp filter")(
            std::io::Error::other(e),
        ))
    })?;
    let joins = cgroups.joins();
    // The spec borrows `p`; the timings are marked meanwhile.
    let mut timings = std::mem::replace(&mut p.timings, super::timings::Timings::off());
    let spec = child_spec::build(&p, &joins, filters, [stdin, out_w, err_w]).map_err(early)?;
    timings.mark("child-spec");
    let forked_at = timings.on().then(super::timings::now_ns);
    let start = Instant::now();
    let forked = spawn::fork_child(spec).map_err(early)?;
    p.timings = timings;
    let (root, pidns) = match &forked.pids {
        None => (forked.pid, None),
        Some(report) => match PidNs::attach(forked.pid, report) {
            Ok((ns, root)) => (root, Some(ns)),
            Err(errno) => {
                let _ = nix::sys::signal::kill(forked.pid, nix::sys::signal::Signal::SIGKILL);
                let _ = nix::sys::wait::waitpid(forked.pid, None);
                return Err(early(match forked.failure() {
                    Some((stage, errno)) => TraceError::Start {
                        command: p.argv.first().cloned().unwrap_or_default(),
                        stage,
                        errno,
                    },
                    None => TraceError::setup("starting the pid namespace")(errno.into()),
                }));
            }
        },
    };
    // Kill what was started and reap it, before the tracer loop owns it.
    let abandon = |pidns: &Option<PidNs>| match pidns {
        Some(ns) => ns.reap(),
        None => {
            let _ = nix::sys::signal::kill(root, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(root, None);
        }
    };
    p.timings.mark("fork");
    // PTRACE_O_EXITKILL: if this thread dies, the kernel kills every tracee.
    let options = Options::PTRACE_O_TRACESYSGOOD
        | Options::PTRACE_O_TRACEFORK
        | Options::PTRACE_O_TRACEVFORK
        | Options::PTRACE_O_TRACECLONE
        | Options::PTRACE_O_TRACEEXEC
        | Options::PTRACE_O_TRACEEXIT
        | Options::PTRACE_O_TRACESECCOMP
        | Options::PTRACE_O_EXITKILL;
    if let Err(errno) = nix::sys::ptrace::seize(root, options) {
        abandon(&pidns);
        return Err(early(TraceError::Ptrace {
            what: "seize",
            errno,
        }));
    }
    p.timings.mark("seize");
    let mut rec = Recorder::new(Arc::clone(&shared), start);
    rec.push(crate::ledger::EventKind::Root { pid: root.as_raw() });
    cgroups.add(root.as_raw(), forked.joined(), forked.in_cgroup);
    p.timings.mark("cgroups-add");
    p.layers.extend(cgroups.layers.iter().cloned());
    p.layers.push(layer(
        "signal-fence",
        cfg!(target_arch = "x86_64"),
        "signals to processes outside the run fail with EPERM",
    ));
    p.layers.push(layer(
        "exitkill",
        true,
        "PTRACE_O_EXITKILL and a parent-death signal",
    ));
    let has_pids_cgroup = cgroups
        .layers
        .iter()
        .any(|l| l.name == "pids-cgroup" && l.active);
    p.layers.push(layer(
        "ptrace-process-cap",
        true,
        format!(
            "at most {} live processes{}",
            opts.limits.max_processes,
            if has_pids_cgroup {
                ""
            } else {
                " (the only process cap: no pids cgroup)"
            }
        ),
    ));
    let cgroups = Arc::new(cgroups);
    let stopper = StopHandle {
        shared: Arc::clone(&shared),
        kill_file: cgroups.kill_file(),
    };
    shared.lock().live.insert(root.as_raw(), root.as_raw());

    if let Err(e) = forked.release() {
        abandon(&pidns);
        return Err(early(e));
    }
    p.timings.mark("release");
    let memory_poll = !cgroups
        .layers
        .iter()
        .any(|l| l.name == "memory-cgroup" && l.active);
    if memory_poll {
        p.layers.push(layer(
            "memory-poll",
            true,
            "no memory cgroup: the tree's resident memory is sampled every 100 ms",
        ));
    }
    let watchdog = watchdog.and_then(|(handle, go)| {
        go.send(watchdog::Go {
            memory_poll,
            stopper: stopper.clone(),
            cgroups: Arc::clone(&cgroups),
            start,
        })
        .map_err(|_| std::io::Error::other("the watchdog thread ended"))?;
        Ok(handle)
    });

    let mut tracer = Tracer {
        stops: Default::default(),
        rec,
        shared: Arc::clone(&shared),
        tasks: HashMap::new(),
        expected: Default::default(),
        early: Default::default(),
        gates: Gates::new(),
        sockets: SocketTable::default(),
        pipes,
        pidfds: Default::default(),
        limits: opts.limits.clone(),
        max_events: opts.max_events,
        cgroups: Arc::clone(&cgroups),
        root,
        root_execd: false,
        root_status: None,
        live_procs: 1,
        output_bytes: 0,
        output_truncated: false,
        limit_hit: None,
        stopping: false,
        leftovers: Vec::new(),
        seen: Default::default(),
        marks: Default::default(),
        sigchld: Default::default(),
        pidns,
        vclock: virtual_clock.then(|| {
            super::vclock::VClock::new(start, Arc::clone(&shared), opts.linger, opts.limits.time_ms)
        }),
    };
    if let Some(vc) = tracer.vclock.as_mut() {
        vc.dice.born(tracer.root);
    }
    if let Some(vc) = &tracer.vclock {
        p.layers.push(layer(
            "virtual-clock",
            vc.ticking(),
            if vc.ticking() {
                "sleeps jump while nothing of the run can run"
            } else {
                "no ticker: the clock jumps only at ptrace stops"
            },
        ));
    }
    tracer.add_task(root, root);
    tracer.sigchld.root(root);
    let _ = started.send(Ok(Started {
        root,
        stopper: stopper.clone(),
        start,
    }));
    if watchdog.is_err() {
        p.layers.push(layer(
            "time-limit",
            false,
            "cannot start the watchdog thread",
        ));
    }

    p.timings.mark("started");
    let result = tracer.run();
    if let Some(vc) = tracer.vclock.as_mut() {
        vc.stop_ticking();
    }
    p.timings
        .mark_at("run:to-root-exec", tracer.marks.root_exec);
    p.timings
        .mark_at("run:to-root-exit", tracer.marks.root_exit);
    p.timings.mark("run:to-last-exit");
    // The tree is gone: the teardown may use every CPU again.
    if let Some(allowed) = unpin {
        let _ = nix::sched::sched_setaffinity(Pid::from_raw(0), &allowed);
    }
    // Every tracee is gone; sweep the cgroups for anything that escaped tracing.
    if let Some(ns) = &tracer.pidns {
        // Normally C was reaped by the loop already; after a tracer fault, not.
        ns.reap();
    }
    let escaped = tracer.sweep_cgroups();
    tracer.leftovers.extend(escaped.iter().copied());
    tracer.leftovers.sort_unstable();
    tracer.leftovers.dedup();
    p.timings.mark("sweep-cgroups");
    cgroups.remove();
    p.timings.mark("cgroups-remove");
    drain.finish();
    p.timings.mark("drain-finish");
    {
        let mut state = shared.lock();
        state.finished = true;
        state.live.clear();
    }
    shared.events_cv.notify_all();
    shared.control_cv.notify_all();
    if let Ok(handle) = watchdog {
        let _ = handle.join();
    }
    p.timings.mark("watchdog-join");
    result.map_err(|e| (e, true))?;
    if !tracer.root_execd
        && let Some((stage, errno)) = forked.failure()
    {
        return Err((
            TraceError::Start {
                command: p.argv.first().cloned().unwrap_or_default(),
                stage,
                errno,
            },
            true,
        ));
    }
    drop(p.workdir.take());
    p.timings.mark("workdir-remove");
    p.timings.print();
    super::timings::print("tracer:end-at", super::timings::now_ns() / 1000);
    if let Some(forked_at) = forked_at {
        // The child's setup runs alongside the tracer's: its marks, from the fork.
        let marks = forked.marks();
        for (name, at) in spawn::CHILD_MARKS.iter().zip(marks) {
            super::timings::print(name, at.saturating_sub(forked_at) / 1000);
        }
    }
    Ok(Outcome {
        root: root.as_raw(),
        root_status: tracer.root_status,
        limit_hit: tracer.limit_hit,
        output_truncated: tracer.output_truncated,
        leftovers: tracer.leftovers,
        layers: p.layers,
        wall_ns: u64::try_from(start.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(
                shared
                    .clock_offset_ns
                    .load(std::sync::atomic::Ordering::Acquire),
            ),
    })
}
