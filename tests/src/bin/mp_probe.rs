//! A small program driving the `multiprocessing` library, for the tests in
//! `tests/library.rs` (`cargo test` is multi-threaded, so the library is exercised from this
//! single-threaded binary). Each subcommand prints one JSON object on stdout.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use multiprocessing::{Error, Process, Run, Signal, StartMethod};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Parser)]
struct Cli {
    /// fork, spawn or forkserver.
    #[arg(long, default_value = "fork", global = true)]
    method: StartMethod,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The child calls `multiprocessing::exit(code)`.
    Exit {
        #[arg(long)]
        code: i32,
    },
    /// The parent sends signal N to a sleeping child.
    Signal {
        #[arg(long)]
        signal: i32,
    },
    /// `join_timeout(timeout)` on a child sleeping `child_ms`.
    Timeout {
        #[arg(long)]
        child_ms: u64,
        #[arg(long)]
        timeout_ms: u64,
    },
    /// N children, each returning its index and pid.
    Many {
        #[arg(long)]
        n: usize,
    },
    /// A child writes values into a global the parent set to `initial`.
    Isolation {
        #[arg(long, allow_negative_numbers = true)]
        initial: i64,
        #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
        writes: Vec<i64>,
    },
    /// Starts a daemon child that sleeps; prints its pid; returns (or hangs).
    DaemonPid {
        #[arg(long)]
        hang: bool,
    },
    /// Every misuse, with the error it gives.
    Errors,
    /// A panicking child next to a child that exits 1.
    Panic,
    /// Default names, in the parent and in a child.
    Names,
    /// A return value larger than a pipe buffer.
    Big {
        #[arg(long)]
        bytes: usize,
        #[arg(long)]
        timeout: bool,
    },
}

static GLOBAL: AtomicI64 = AtomicI64::new(0);

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn exit_with(code: i32) {
    multiprocessing::exit(code)
}

fn sleeper(ms: u64) -> u64 {
    sleep_ms(ms);
    7
}

fn whoami(index: usize) -> (usize, i32) {
    (index, std::process::id() as i32)
}

fn write_global((initial, writes): (i64, Vec<i64>)) -> i64 {
    // Under spawn/forkserver the child starts from fresh globals: begin where fork would.
    if multiprocessing::current_process().name != "MainProcess"
        && GLOBAL.load(Ordering::SeqCst) == 0
    {
        GLOBAL.store(initial, Ordering::SeqCst);
    }
    for w in writes {
        GLOBAL.store(w, Ordering::SeqCst);
    }
    GLOBAL.load(Ordering::SeqCst)
}

fn boom(n: u32) {
    panic!("boom {n}");
}

fn start_grandchild(_: ()) -> String {
    let mut p = Process::with_args(sleep_ms, 1);
    match p.start() {
        Ok(()) => "started".into(),
        Err(e) => e.to_string(),
    }
}

fn names_in_child(_: ()) -> (String, String) {
    let p = Process::with_args(sleep_ms, 1);
    (
        multiprocessing::current_process().name,
        p.name().to_string(),
    )
}

fn big(bytes: usize) -> String {
    "x".repeat(bytes)
}

#[derive(Serialize, Deserialize)]
struct Piao {
    name: String,
}

impl Run for Piao {
    fn run(&mut self) {}
}

fn err<T>(r: Result<T, Error>) -> Value {
    match r {
        Ok(_) => Value::Null,
        Err(e) => Value::String(e.to_string()),
    }
}

fn errors(m: StartMethod) -> anyhow::Result<Value> {
    let mut out = serde_json::Map::new();
    let mut p = Process::with_args(sleep_ms, 2000).with_start_method(m);
    out.insert("join_before_start".into(), err(p.join()));
    out.insert("terminate_before_start".into(), err(p.terminate()));
    out.insert("exitcode_before_start".into(), json!(p.exitcode()));
    out.insert("is_alive_before_start".into(), json!(p.is_alive()));
    out.insert(
        "pid_before_start".into(),
        json!(p.pid().map(|p| p.as_raw())),
    );
    p.start()?;
    out.insert("start_twice".into(), err(p.start()));
    out.insert("set_daemon_after_start".into(), err(p.set_daemon(true)));
    out.insert(
        "set_start_method_after_start".into(),
        err(p.set_start_method(m)),
    );
    out.insert("exitcode_while_running".into(), json!(p.exitcode()));
    out.insert("result_while_running".into(), err(p.result::<()>()));
    out.insert("close_running".into(), err(p.close()));
    p.kill()?;
    out.insert("kill_exitcode".into(), json!(p.join()?));
    out.insert("join_again".into(), json!(p.join()?));
    out.insert("terminate_after_end".into(), err(p.terminate()));
    let mut q = Process::with_args(sleep_ms, 2000).with_start_method(m);
    q.start()?;
    q.interrupt()?;
    out.insert("interrupt_exitcode".into(), json!(q.join()?));
    // A process object inherited by a child is not the child's to wait for.
    let mut sibling = Process::with_args(sleep_ms, 300).with_start_method(m);
    sibling.start()?;
    let mut c = Process::new(move || {
        (
            sibling.join().err().map(|e| e.to_string()),
            sibling.is_alive(),
        )
    });
    c.start()?;
    c.join()?;
    out.insert(
        "join_inherited".into(),
        json!(c.result::<(Option<String>, bool)>()?),
    );
    out.insert("close_after_join".into(), err(p.close()));
    out.insert("join_after_close".into(), err(p.join()));
    out.insert("start_after_close".into(), err(p.start()));

    let mut d = Process::with_args(start_grandchild, ()).with_start_method(m);
    d.set_daemon(true)?;
    d.start()?;
    d.join()?;
    out.insert("daemon_children".into(), json!(d.result::<String>()?));

    // A second thread: fork is refused and says how many threads there are.
    let parked = std::thread::spawn(|| std::thread::park_timeout(Duration::from_secs(30)));
    let mut f = Process::new(|| ());
    out.insert("threads".into(), err(f.start()));
    f.set_allow_threads(true);
    f.start()?;
    out.insert("threads_allowed_exitcode".into(), json!(f.join()?));
    let mut other = Process::with_args(sleep_ms, 1).with_start_method(m);
    out.insert(
        "threads_other_method".into(),
        err(other.start().and_then(|()| other.join())),
    );
    parked.thread().unpark();
    let _ = parked.join();
    Ok(Value::Object(out))
}

fn main() -> anyhow::Result<()> {
    let _guard = multiprocessing::init();
    let cli = Cli::parse();
    let m = cli.method;
    let out = match cli.command {
        Command::Exit { code } => {
            let mut p = Process::with_args(exit_with, code).with_start_method(m);
            p.start()?;
            json!({"exitcode": p.join()?, "result": err(p.result::<()>())})
        }
        Command::Signal { signal } => {
            let sig = Signal::try_from(signal)?;
            // No core files from SIGQUIT, SIGABRT, …: the child inherits the limit.
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0)?;
            let mut p = Process::with_args(sleep_ms, 30_000).with_start_method(m);
            p.start()?;
            p.send_signal(sig)?;
            json!({"exitcode": p.join()?})
        }
        Command::Timeout {
            child_ms,
            timeout_ms,
        } => {
            let mut p = Process::with_args(sleeper, child_ms).with_start_method(m);
            p.start()?;
            let t0 = Instant::now();
            let first = p.join_timeout(Duration::from_millis(timeout_ms))?;
            let elapsed = t0.elapsed().as_millis() as u64;
            let alive_after = p.is_alive();
            let exitcode = p.join()?;
            json!({"first": first, "elapsed_ms": elapsed, "alive_after": alive_after,
                   "exitcode": exitcode, "result": p.result::<u64>()?})
        }
        Command::Many { n } => {
            let mut ps: Vec<_> = (0..n)
                .map(|i| Process::with_args(whoami, i).with_start_method(m))
                .collect();
            for p in &mut ps {
                p.start()?;
            }
            let mut rows = Vec::new();
            for (i, p) in ps.iter_mut().enumerate() {
                let code = p.join()?;
                let (index, pid) = p.result::<(usize, i32)>()?;
                rows.push(json!({"index": i, "exitcode": code, "result_index": index,
                                 "result_pid": pid, "pid": p.pid().map(|p| p.as_raw())}));
            }
            Value::Array(rows)
        }
        Command::Isolation { initial, writes } => {
            GLOBAL.store(initial, Ordering::SeqCst);
            let mut p = Process::with_args(write_global, (initial, writes)).with_start_method(m);
            p.start()?;
            p.join()?;
            json!({"parent": GLOBAL.load(Ordering::SeqCst), "child": p.result::<i64>()?})
        }
        Command::DaemonPid { hang } => {
            let mut p = Process::with_args(sleep_ms, 60_000).with_start_method(m);
            p.set_daemon(true)?;
            p.start()?;
            let pid = p.pid().map(|p| p.as_raw());
            println!("{}", json!({"daemon": pid}));
            if hang {
                sleep_ms(60_000);
            }
            return Ok(());
        }
        Command::Errors => errors(m)?,
        Command::Panic => {
            let mut p = Process::with_args(boom, 42).with_start_method(m);
            p.start()?;
            let code = p.join()?;
            let report = p.panic_report();
            let mut q = Process::with_args(exit_with, 1).with_start_method(m);
            q.start()?;
            let code1 = q.join()?;
            json!({"exitcode": code, "panic": report, "result": err(p.result::<()>()),
                   "exit1_exitcode": code1, "exit1_panic": q.panic_report(),
                   "exit1_result": err(q.result::<()>())})
        }
        Command::Names => {
            let a = Process::with_args(sleep_ms, 1);
            let b = Process::from_run(Piao {
                name: "egon".into(),
            });
            let c = Process::new(|| ());
            let mut d = Process::with_args(names_in_child, ()).with_start_method(m);
            d.start()?;
            d.join()?;
            let (child_name, grandchild_name) = d.result::<(String, String)>()?;
            json!({"a": a.name(), "b": b.name(), "c": c.name(), "d": d.name(),
                   "child_sees": child_name, "child_creates": grandchild_name,
                   "main": multiprocessing::current_process().name})
        }
        Command::Big { bytes, timeout } => {
            let mut p = Process::with_args(big, bytes).with_start_method(m);
            p.start()?;
            let code = if timeout {
                p.join_timeout(Duration::from_secs(20))?
            } else {
                Some(p.join()?)
            };
            json!({"exitcode": code, "len": p.result::<String>()?.len()})
        }
    };
    println!("{out}");
    Ok(())
}
