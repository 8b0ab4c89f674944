//! CPython's tests of `multiprocessing.Process` (`Lib/test/_test_multiprocessing.py`),
//! ported; the table of what maps to what is in the crate's docs (`multiprocessing::parity`).
//!
//! As CPython runs each test once per start method, each case here runs under fork, spawn
//! and forkserver (unless its CPython test is for one method only), each in a fresh,
//! single-threaded copy of this binary (`init()` first, as any program of this library):
//! the runner itself is multi-threaded, and fork is refused there.
//!
//! `cargo test -p multiprocessing --test cpython [FILTER] [--skip NAME] [--exact] [--list]`

mod misc;
mod own;
mod process;
mod process_end;
mod subclass;
mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use multiprocessing::StartMethod;

/// One ported test: the CPython test it mirrors, and the start methods it runs under.
pub struct Case {
    pub name: &'static str,
    pub methods: &'static [StartMethod],
    /// Run without `multiprocessing::init()` (the "no fork bomb" test).
    pub no_init: bool,
    pub run: fn(StartMethod),
}

pub const ALL: &[StartMethod] = &StartMethod::ALL;

const CASE_ENV: &str = "MP_CPYTHON_CASE";
const NO_INIT_ENV: &str = "MP_CPYTHON_NO_INIT";
/// A case that runs longer than this has hung: it is killed and fails.
const CASE_TIMEOUT: Duration = Duration::from_secs(120);

fn cases() -> Vec<Case> {
    let mut all = process::cases();
    all.extend(subclass::cases());
    all.extend(misc::cases());
    all.extend(own::cases());
    all
}

fn main() {
    // First, as in every program of this library: a spawned child or the zygote stops here.
    let guard = match std::env::var_os(NO_INIT_ENV) {
        Some(_) => None,
        None => Some(multiprocessing::init()),
    };
    if let Ok(which) = std::env::var(CASE_ENV) {
        run_one(&which);
        drop(guard);
        return;
    }
    std::process::exit(run_all());
}

/// In the case's own process: `name/method`.
fn run_one(which: &str) {
    let (name, method) = which.rsplit_once('/').expect("case/method");
    let method: StartMethod = method.parse().expect("a start method");
    let case = cases()
        .into_iter()
        .find(|c| c.name == name)
        .expect("a known case");
    // As CPython's test modules set the start method for all their tests.
    multiprocessing::force_start_method(method);
    (case.run)(method);
}

struct Args {
    filters: Vec<String>,
    skips: Vec<String>,
    exact: bool,
    list: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        filters: Vec::new(),
        skips: Vec::new(),
        exact: false,
        list: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--skip" => a.skips.extend(it.next()),
            "--exact" => a.exact = true,
            "--list" => a.list = true,
            "--test-threads" | "--format" | "--color" | "-Z" | "--logfile" => {
                it.next();
            }
            s if s.starts_with('-') => {} // --nocapture, --quiet, …: nothing to change
            s => a.filters.push(s.to_string()),
        }
    }
    a
}

fn selected(a: &Args, full: &str) -> bool {
    let hit = |f: &String| match a.exact {
        true => full == f,
        false => full.contains(f.as_str()),
    };
    (a.filters.is_empty() || a.filters.iter().any(hit)) && !a.skips.iter().any(hit)
}

/// Runs every selected case × method, two at a time (the machine has two cores); prints
/// libtest's lines; returns the exit code.
fn run_all() -> i32 {
    let args = parse_args();
    let all = cases();
    let mut todo = Vec::new();
    for c in &all {
        for m in c.methods {
            let full = format!("{}/{m}", c.name);
            if selected(&args, &full) {
                todo.push((full, c.no_init));
            }
        }
    }
    let total = all.iter().map(|c| c.methods.len()).sum::<usize>();
    if args.list {
        for (full, _) in &todo {
            println!("{full}: test");
        }
        return 0;
    }
    println!("\nrunning {} tests", todo.len());
    let started = Instant::now();
    let queue = Mutex::new(todo.into_iter());
    let failures = Mutex::new(Vec::new());
    let passed = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap().next();
                    let Some((full, no_init)) = next else { break };
                    let outcome = run_case(&full, no_init);
                    let mut out = std::io::stdout().lock();
                    match outcome {
                        Ok(()) => {
                            *passed.lock().unwrap() += 1;
                            let _ = writeln!(out, "test {full} ... ok");
                        }
                        Err(why) => {
                            let _ = writeln!(out, "test {full} ... FAILED");
                            failures.lock().unwrap().push((full, why));
                        }
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let passed = passed.into_inner().unwrap();
    if !failures.is_empty() {
        println!("\nfailures:\n");
        for (full, why) in &failures {
            println!("---- {full} ----\n{why}\n");
        }
        println!("failures:");
        for (full, _) in &failures {
            println!("    {full}");
        }
    }
    let filtered = total - passed - failures.len();
    println!(
        "\ntest result: {}. {passed} passed; {} failed; 0 ignored; 0 measured; {filtered} filtered out; finished in {:.2}s\n",
        if failures.is_empty() { "ok" } else { "FAILED" },
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    i32::from(!failures.is_empty()) * 101
}

/// Runs one case in a fresh copy of this binary; its output is kept in files (a pipe
/// could fill up while we wait).
fn run_case(full: &str, no_init: bool) -> Result<(), String> {
    let dir = support::TempDir::new(&format!("runner-{}", full.replace('/', "-")));
    let out_path = dir.path().join("out");
    let out = std::fs::File::create(&out_path).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
    cmd.env(CASE_ENV, full)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if no_init {
        cmd.env(NO_INIT_ENV, "1");
    }
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + CASE_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let output = std::fs::read_to_string(&out_path).unwrap_or_default();
            return Err(format!("timed out after {CASE_TIMEOUT:?}\n{output}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if status.success() {
        Ok(())
    } else {
        let output = std::fs::read_to_string(&out_path).unwrap_or_default();
        Err(format!("{status}\n{output}"))
    }
}
