//! The start gate: on the virtual clock, new tasks and due sleeps start one at a time.
//!
//! Without it, four children started at once race for the CPU before their first sleep
//! (whose `piaoing` comes first is the scheduler's choice), and two sleeps that come due
//! while a process still runs wake together. With it, a new task waits at its first
//! ptrace stop (a vfork child: at its exec, when its parent runs again), in a FIFO, and
//! the tick releases one gated task, else one due sleep or timed wait, only when no task
//! of the run can run (`quiescence.rs`). So what runs next is decided by the order the
//! program made its tasks and by the deadlines, never by the load: the run is one
//! interleaving the real program can produce (the parent runs on after `start()` until
//! it blocks, as it usually does), the same on every run.
//!
//! Backstops keep a program that computes (or spins, waiting for a child it made) from
//! holding the gate shut: once the run has spent `CPU_BACKSTOP` of CPU time since a task
//! was gated or a sleep came due, or real time passed `START_BACKSTOP` (gated tasks) or
//! `DUE_BACKSTOP` (due sleeps and waits), everything of that kind starts at once, as it
//! would on the real clock.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::trace::calls::ExitWait;
use crate::trace::stops;
use crate::trace::tracer_loop::Tracer;

/// CPU time the run may spend while something waits to start: well above what the
/// lesson's programs compute between two blocking calls (a spawned Python child's
/// start-up is ~40 ms of CPU), so the backstop fires only for real computing; and CPU
/// time, unlike real time, does not stretch with the machine's load.
pub(crate) const CPU_BACKSTOP: Duration = Duration::from_millis(150);

/// Real time after which a gated task starts anyway (tasks in uninterruptible sleep, or
/// in a kernel wait on the real clock, neither run nor let the run be called idle).
pub(crate) const START_BACKSTOP: Duration = Duration::from_secs(1);

/// Real time a sleep may be overdue while the run computes: a sleeper whose deadline
/// passes while another process computes wakes at most this late (on the real clock it
/// would wake on time, and the order it then makes with the computing process is the
/// real clock's). Far above the few milliseconds a released child needs to print and
/// exit, even on a loaded machine, so a tie of deadlines still starts one at a time.
pub(crate) const DUE_BACKSTOP: Duration = Duration::from_millis(100);

/// How often a busy run's tasks' CPU times are sampled for the backstops: far below
/// what they wait for (150 ms of CPU, 100 ms real), far above the 200 µs tick.
const BACKSTOP_SAMPLE: Duration = Duration::from_millis(5);

/// Since when something waits to start: the real time, and each free task's CPU time.
#[derive(Debug)]
struct Window {
    since: Instant,
    base: HashMap<Pid, u64>,
}

impl Window {
    fn open(cpu: &[(Pid, u64)]) -> Window {
        Window {
            since: Instant::now(),
            base: cpu.iter().copied().collect(),
        }
    }

    /// Has the run spent `CPU_BACKSTOP` of CPU, or `real` of real time, since it opened?
    fn over(&self, cpu: &[(Pid, u64)], real: Duration) -> bool {
        let spent: u64 = cpu
            .iter()
            .map(|(tid, ran)| ran.saturating_sub(self.base.get(tid).copied().unwrap_or(0)))
            .sum();
        spent >= CPU_BACKSTOP.as_nanos() as u64 || self.since.elapsed() >= real
    }
}

/// New tasks waiting to start, and the backstops' windows.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    queue: VecDeque<Pid>,
    /// Announced children to gate at their first stop.
    at_first_stop: HashSet<Pid>,
    /// vfork children to gate at their exec.
    at_exec: HashSet<Pid>,
    /// Since when a task waits at the gate, and since when a sleep or wait is due.
    start_window: Option<Window>,
    due_window: Option<Window>,
    /// When the backstops last sampled every task's CPU time.
    sampled: Option<Instant>,
    /// When a busy run's held tasks were last looked at for waiting signals.
    signals_checked: Option<Instant>,
    /// A task ended since the last look for waiting signals (`signals_may_wait`).
    task_ended: bool,
    /// Processes whose exit the tracer collected and no wait4 of the run has reaped
    /// since (a kernel reap never enters; a waitid's reap, or an orphan reaped by the
    /// pid namespace's init, is not seen leaving): while empty, no process of the run
    /// has a child to reap, and a blocking wait needs no `/proc` look.
    pub zombies: HashSet<Pid>,
}

/// Where a signal the tracer did not see sent may be waiting (`Gate::signals_may_wait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Look {
    Nothing,
    Held,
    HeldAndGated,
}

impl Gate {
    pub(crate) fn is_gated(&self, tid: Pid) -> bool {
        self.queue.contains(&tid)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// A task is gone: forget it.
    pub(crate) fn forget(&mut self, tid: Pid) {
        self.queue.retain(|t| *t != tid);
        self.at_first_stop.remove(&tid);
        self.at_exec.remove(&tid);
    }

    /// Is it time to sample every task's CPU time for the backstops (every
    /// `BACKSTOP_SAMPLE`)? Marks the sample taken.
    pub(crate) fn sample_due(&mut self) -> bool {
        every(&mut self.sampled, BACKSTOP_SAMPLE)
    }

    /// Is it time to look for signals waiting for held tasks while the run is busy
    /// (every `BACKSTOP_SAMPLE`)? Marks the look taken.
    pub(crate) fn signal_check_due(&mut self) -> bool {
        every(&mut self.signals_checked, BACKSTOP_SAMPLE)
    }

    /// Which held or gated tasks could have a signal waiting that the tracer did not see
    /// sent? A signal the run sends is looked for at its kill's exit
    /// (`after_signal_sent`). A task's end can signal a sleeper (SIGCHLD to its parent,
    /// a parent-death signal to its children) but not a task at the gate, which has never
    /// run (no children, no parent-death signal: fork clears it). Timers and senders
    /// outside the run are looked for every `BACKSTOP_SAMPLE`. (Reading every held and
    /// gated task's `/proc/<tid>/status` at each child's start was most of the tracer's
    /// extra cost on a tree that never sleeps.)
    pub(crate) fn signals_may_wait(&mut self) -> Look {
        let ended = std::mem::take(&mut self.task_ended);
        if self.signal_check_due() {
            Look::HeldAndGated
        } else if ended {
            Look::Held
        } else {
            Look::Nothing
        }
    }

    /// A task of the run ended: its parent or children may have a signal waiting.
    pub(crate) fn ended(&mut self) {
        self.task_ended = true;
    }

    /// The run was idle (and one thing started): what waits next gets backstop windows
    /// of its own.
    pub(crate) fn clear_windows(&mut self) {
        self.start_window = None;
        self.due_window = None;
    }

    /// Which backstops fired: (start the gated tasks, release the due sleeps). `cpu` is
    /// each free task's CPU time now (ns); `due`: a sleep or wait is due. A window opens
    /// at the first call that finds something waiting, and closes when nothing does.
    pub(crate) fn backstops(&mut self, cpu: &[(Pid, u64)], due: bool) -> (bool, bool) {
        fn check(
            window: &mut Option<Window>,
            waiting: bool,
            cpu: &[(Pid, u64)],
            real: Duration,
        ) -> bool {
            match window {
                _ if !waiting => {
                    *window = None;
                    false
                }
                None => {
                    *window = Some(Window::open(cpu));
                    false
                }
                Some(w) => w.over(cpu, real),
            }
        }
        let start = check(
            &mut self.start_window,
            !self.queue.is_empty(),
            cpu,
            START_BACKSTOP,
        );
        let due = check(&mut self.due_window, due, cpu, DUE_BACKSTOP);
        (start, due)
    }
}

impl Tracer {
    /// `child` was just announced by its parent's event (`via`: how it was made).
    /// Returns true if the gate takes it: the caller must then not resume it.
    /// `first_stop_seen`: its first stop came already (it is held there).
    pub(crate) fn gate_new_task(&mut self, child: Pid, vfork: bool, first_stop_seen: bool) -> bool {
        let Some(vc) = self.vclock.as_mut() else {
            return false;
        };
        if vfork {
            // Its parent sleeps (uninterruptibly) until it execs or exits: let it run to
            // its exec, and gate it there.
            vc.gate.at_exec.insert(child);
            return false;
        }
        if first_stop_seen {
            vc.gate.queue.push_back(child);
            vc.pace(super::Pace::Fast);
        } else {
            vc.gate.at_first_stop.insert(child);
        }
        true
    }

    /// A new task's first stop, after its parent's event: true if it is gated now.
    pub(crate) fn gate_at_first_stop(&mut self, tid: Pid) -> bool {
        self.gate_if(tid, |gate| &mut gate.at_first_stop)
    }

    /// A vfork child's exec stop: true if it is gated now.
    pub(crate) fn gate_at_exec(&mut self, tid: Pid) -> bool {
        self.gate_if(tid, |gate| &mut gate.at_exec)
    }

    /// Gate `tid` now if it is in the set `which` picks (and take it out of it).
    fn gate_if(&mut self, tid: Pid, which: fn(&mut Gate) -> &mut HashSet<Pid>) -> bool {
        let Some(vc) = self.vclock.as_mut() else {
            return false;
        };
        let gated = which(&mut vc.gate).remove(&tid);
        if gated {
            vc.gate.queue.push_back(tid);
            vc.pace(super::Pace::Fast);
        }
        gated
    }

    /// The exit of a kill/tkill/tgkill/pidfd_send_signal on the virtual clock. On a real
    /// kernel the signal wakes a sleeping target at once; here the target is held by the
    /// tracer, so it is released now (EINTR), and the sender waits at the front of the
    /// gate until the run is idle again: the target has acted on the signal (died, or run
    /// its handler) before the sender goes on, on every run. (Without this, whether a
    /// terminated daemon was dead by the time `multiprocessing` looked again at exit was
    /// the scheduler's choice.)
    pub(crate) fn after_signal_sent(&mut self, sender: Pid) {
        let waiting = |vc: &super::VClock| vc.held.len() + vc.gate.queue.len();
        let before = self.vclock.as_ref().map_or(0, waiting);
        let _ = self.release_signalled(true);
        let Some(vc) = self.vclock.as_mut() else {
            return stops::resume(sender, 0);
        };
        if self.stopping || waiting(vc) == before {
            return stops::resume(sender, 0);
        }
        vc.gate.queue.push_front(sender);
        vc.pace(super::Pace::Fast);
    }

    /// `tid` entered a wait that sleeps until a child exits. If every task of the run is
    /// now held by the tracer (a sleep, the gate) or in such a wait, and none of them has
    /// a child to reap, nothing can run once `tid` is in the kernel: the run is idle by
    /// construction, and the first gated task starts at once. The tick would find the
    /// same, a tick and two /proc sweeps later, for every started child: that was the
    /// tracer's whole extra cost on a process tree that never sleeps.
    pub(crate) fn on_blocking_wait(&mut self, tid: Pid) {
        let Some(vc) = self.vclock.as_ref() else {
            return;
        };
        if self.stopping || vc.gate.is_empty() || !self.early.is_empty() || self.stops.pending() {
            return;
        }
        let idle = self.tasks.iter().all(|(&t, task)| {
            let waits = matches!(task.exit_wait, Some(ExitWait::Reap { blocking: true, .. }));
            vc.held.contains_key(&t)
                || vc.gate.is_gated(t)
                || (waits
                    && (vc.gate.zombies.is_empty() || !has_child_to_reap(task.tgid, &self.tasks)))
        });
        if std::env::var_os("PROCLAB_VCLOCK_DEBUG").is_some() {
            eprintln!("vclock: {tid} waits for a child; idle by construction: {idle}");
        }
        if !idle || !self.tasks.contains_key(&tid) {
            return;
        }
        // A signal waiting for a held task wakes it: then the run is not idle.
        let look = self
            .vclock
            .as_mut()
            .map_or(Look::Nothing, |vc| vc.gate.signals_may_wait());
        let woken = match look {
            Look::Nothing => false,
            Look::Held => self.release_signalled(false),
            Look::HeldAndGated => self.release_signalled(true),
        };
        if !woken {
            if let Some(vc) = self.vclock.as_mut() {
                vc.gate.clear_windows();
            }
            self.open_gate_once();
        }
    }

    /// Start the first gated task. False if none waits.
    pub(crate) fn open_gate_once(&mut self) -> bool {
        let Some(vc) = self.vclock.as_mut() else {
            return false;
        };
        let Some(tid) = vc.gate.queue.pop_front() else {
            return false;
        };
        vc.gate.start_window = None;
        stops::resume(tid, 0);
        true
    }

    /// Start every gated task (the backstop, or tasks a signal waits for).
    pub(crate) fn open_gate_all(&mut self, only: impl Fn(Pid) -> bool) {
        let Some(vc) = self.vclock.as_mut() else {
            return;
        };
        let (go, stay): (VecDeque<Pid>, VecDeque<Pid>) =
            vc.gate.queue.drain(..).partition(|&t| only(t));
        vc.gate.queue = stay;
        if !go.is_empty() {
            vc.gate.start_window = None;
        }
        for tid in go {
            stops::resume(tid, 0);
        }
    }
}

/// True (and `last` set to now) if `period` has passed since `last`, or never set.
fn every(last: &mut Option<Instant>, period: Duration) -> bool {
    let due = last.is_none_or(|at| at.elapsed() >= period);
    if due {
        *last = Some(Instant::now());
    }
    due
}

/// Has the process `tgid` a child that exited and is not reaped, which its wait would
/// return at once? Called with no stop waiting to be collected, so a child the tracer
/// still traces has not exited; one it no longer traces (its exit collected) and that
/// is still listed among the children is a zombie. Any thread's children count (wait(2)
/// without __WNOTHREAD): the tracer knows every thread of the run, so no directory of
/// `/proc/<tgid>/task` is listed. True when /proc cannot tell.
fn has_child_to_reap(tgid: Pid, traced: &HashMap<Pid, crate::trace::tracer_loop::Task>) -> bool {
    traced
        .iter()
        .filter(|(_, task)| task.tgid == tgid)
        .any(|(tid, _)| {
            let path = format!("/proc/{tgid}/task/{tid}/children");
            let Some(children) = crate::trace::procfs::read_small(path) else {
                return true;
            };
            children.split_whitespace().any(|c| {
                c.parse()
                    .map_or(true, |c| !traced.contains_key(&Pid::from_raw(c)))
            })
        })
}
