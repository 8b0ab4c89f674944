//! One run from start to ledger: preparation on the caller's thread (everything that can
//! fail with a clear message), then the tracer thread: fork, seize, trace, tear down.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::Instant;

use nix::fcntl::OFlag;
use nix::sys::ptrace::Options;
use nix::unistd::Pid;

use super::cgroup::Cgroups;
use super::drain;
use super::error::TraceError;
use super::fds::OurPipes;
use super::netns::Netns;
use super::options::{NetnsMode, TraceOptions};
use super::privileges::{self, Workdir};
use super::recorder::{Recorder, Shared};
use super::seccomp;
use super::sockets::SocketTable;
use super::spawn::{self, ChildSpec};
use super::teardown::StopHandle;
use super::tracer_loop::Tracer;
use super::watchdog;
use super::writes::Gates;
use crate::ledger::{ExitStatus, Layer, LimitKind, Pid as LedgerPid};

/// Everything prepared before the tracer thread starts.
pub(crate) struct Prepared {
    pub opts: TraceOptions,
    pub program: std::path::PathBuf,
    pub argv: Vec<String>,
    pub env: Vec<(OsString, OsString)>,
    pub identity: Option<privileges::Identity>,
    pub workdir: Option<Workdir>,
    pub netns: Option<Arc<Netns>>,
    pub layers: Vec<Layer>,
}

fn layer(name: &str, active: bool, detail: impl Into<String>) -> Layer {
    Layer {
        name: name.into(),
        active,
        detail: detail.into(),
    }
}

/// Resolve the command, pick the user, make the namespace: all on the caller's thread.
pub(crate) fn prepare(opts: TraceOptions) -> Result<Prepared, TraceError> {
    let first = opts.command.first().ok_or(TraceError::EmptyCommand)?;
    let path_var = opts
        .extra_env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| OsString::from(v))
        .or_else(|| std::env::var_os("PATH"));
    let program = privileges::resolve_command(first, path_var.as_deref())?;
    let mut layers = Vec::new();
    let (identity, uid_layer) = privileges::choose_identity(&opts.run_as, &program)?;
    layers.push(uid_layer);
    let workdir = match (&opts.cwd, &identity) {
        (None, Some(who)) => Some(Workdir::create(who)?),
        _ => None,
    };
    layers.push(match (&opts.cwd, &workdir) {
        (Some(dir), _) => layer("workdir", false, format!("given: {}", dir.display())),
        (None, Some(w)) => layer("workdir", true, format!("private: {}", w.path.display())),
        (None, None) => layer("workdir", false, "the tracer's current directory"),
    });
    let mut argv = opts.command.clone();
    if workdir.is_some() {
        let rest = privileges::absolutize_args(&argv[1..]);
        argv.truncate(1);
        argv.extend(rest);
    }

    // PYTHONUNBUFFERED=1: a Python child's print() reaches the pipe when it is called,
    // as on a terminal, instead of when a block buffer fills or the process exits. An
    // environment variable works through any launcher (shims, shells, `env`), has none
    // of a pty's side effects (echo, \r\n, job control, isatty() changing behaviour),
    // and keeps stdout and stderr apart.
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| k != "PYTHONUNBUFFERED")
        .collect();
    env.push(("PYTHONUNBUFFERED".into(), "1".into()));
    for (k, v) in &opts.extra_env {
        env.retain(|(ek, _)| ek != k.as_str());
        env.push((k.into(), v.into()));
    }

    let is_root = nix::unistd::Uid::effective().is_root();
    let netns = match opts.netns {
        NetnsMode::Off => {
            layers.push(layer("netns", false, "host network (option)"));
            None
        }
        NetnsMode::Auto if !is_root => {
            layers.push(layer("netns", false, "host network: not root"));
            None
        }
        mode => match Netns::create() {
            Ok(ns) => {
                layers.push(layer("netns", true, "private namespace, loopback only"));
                Some(Arc::new(ns))
            }
            Err(e) if mode == NetnsMode::Auto => {
                layers.push(layer("netns", false, format!("host network: {e}")));
                None
            }
            Err(e) => return Err(TraceError::setup("creating the network namespace")(e)),
        },
    };
    Ok(Prepared {
        opts,
        program,
        argv,
        env,
        identity,
        workdir,
        netns,
        layers,
    })
}

/// What the tracer thread reports once the child runs.
pub(crate) struct Started {
    pub root: Pid,
    pub stopper: StopHandle,
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

fn pin_to_current_cpu() -> Result<usize, nix::errno::Errno> {
    let cpu = nix::sched::sched_getcpu()?;
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu)?;
    nix::sched::sched_setaffinity(Pid::from_raw(0), &set)?;
    Ok(cpu)
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
    let opts = p.opts.clone();
    // The child and the helper threads started below inherit this thread's affinity.
    if opts.pin_cpu {
        p.layers.push(match pin_to_current_cpu() {
            Ok(cpu) => layer("pin-cpu", true, format!("tracer and tree on CPU {cpu}")),
            Err(e) => layer("pin-cpu", false, format!("cannot pin: {e}")),
        });
    }
    let mut cgroups = Cgroups::create(&opts.limits, opts.cgroup);
    let pipe = |what| {
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| early(TraceError::setup(what)(e.into())))
    };
    let (out_r, out_w) = pipe("creating the stdout pipe")?;
    let (err_r, err_w) = pipe("creating the stderr pipe")?;
    let (out_r, err_r) = (File::from(out_r), File::from(err_r));
    let pipes = OurPipes::of(&out_r, &err_r)
        .map_err(|e| early(TraceError::setup("inspecting pipes")(e)))?;
    let stdin: OwnedFd = File::open("/dev/null")
        .map_err(|e| early(TraceError::setup("opening /dev/null")(e)))?
        .into();
    let filters = seccomp::build().map_err(|e| {
        early(TraceError::setup("building the seccomp filter")(
            std::io::Error::other(e),
        ))
    })?;
    let c = |what, s: &dyn AsRef<std::ffi::OsStr>| spawn::cstring(what, s).map_err(early);
    let spec = ChildSpec {
        program: c("the program path", &p.program)?,
        argv: p
            .argv
            .iter()
            .map(|a| c("an argument", a))
            .collect::<Result<_, _>>()?,
        envp: p
            .env
            .iter()
            .map(|(k, v)| {
                let mut kv = k.clone();
                kv.push("=");
                kv.push(v);
                c("the environment", &kv)
            })
            .collect::<Result<_, _>>()?,
        cwd: match (&opts.cwd, &p.workdir) {
            (Some(dir), _) => Some(c("the working directory", dir)?),
            (None, Some(w)) => Some(c("the working directory", &w.path)?),
            (None, None) => None,
        },
        identity: p.identity.as_ref().map(|who| (who.uid, who.gid)),
        netns: p.netns.as_ref().map(|ns| ns.fd()),
        filters,
        stdin,
        stdout: out_w,
        stderr: err_w,
    };

    let start = Instant::now();
    let forked = spawn::fork_child(spec).map_err(early)?;
    let root = forked.pid;
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
        let _ = nix::sys::signal::kill(root, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(root, None);
        return Err(early(TraceError::Ptrace {
            what: "seize",
            errno,
        }));
    }
    let mut rec = Recorder::new(Arc::clone(&shared), start);
    rec.push(crate::ledger::EventKind::Root { pid: root.as_raw() });
    cgroups.add(root.as_raw());
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

    let drain = drain::spawn(
        out_r,
        err_r,
        opts.capture_dir.as_deref(),
        opts.limits.output_bytes,
    )
    .map_err(|e| early(TraceError::setup("starting the output drain")(e)));
    let drain = match drain {
        Ok(d) => d,
        Err(e) => {
            let _ = nix::sys::signal::kill(root, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(root, None);
            return Err(e);
        }
    };
    if let Err(e) = forked.release() {
        let _ = nix::sys::signal::kill(root, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(root, None);
        return Err(early(e));
    }
    let watchdog = watchdog::spawn(
        stopper.clone(),
        Arc::clone(&cgroups),
        opts.limits.clone(),
        start,
        opts.linger,
    );

    let mut tracer = Tracer {
        rec,
        shared: Arc::clone(&shared),
        tasks: HashMap::new(),
        expected: Default::default(),
        early: Default::default(),
        gates: Gates::new(),
        sockets: SocketTable::default(),
        pipes,
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
    };
    tracer.add_task(root, root);
    let _ = started.send(Ok(Started {
        root,
        stopper: stopper.clone(),
    }));
    if watchdog.is_err() {
        p.layers.push(layer(
            "time-limit",
            false,
            "cannot start the watchdog thread",
        ));
    }

    let result = tracer.run();
    // Every tracee is gone; sweep the cgroups for anything that escaped tracing.
    let escaped = tracer.sweep_cgroups();
    tracer.leftovers.extend(escaped.iter().copied());
    tracer.leftovers.sort_unstable();
    tracer.leftovers.dedup();
    cgroups.remove();
    drain.finish();
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
    result.map_err(|e| (e, true))?;
    if !tracer.root_execd {
        if let Some((stage, errno)) = forked.failure() {
            return Err((
                TraceError::Start {
                    command: p.argv.first().cloned().unwrap_or_default(),
                    stage,
                    errno,
                },
                true,
            ));
        }
    }
    drop(p.workdir.take());
    Ok(Outcome {
        root: root.as_raw(),
        root_status: tracer.root_status,
        limit_hit: tracer.limit_hit,
        output_truncated: tracer.output_truncated,
        leftovers: tracer.leftovers,
        layers: p.layers,
        wall_ns: u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
    })
}
