//! Paired timing of one start+join: raw `fork` + `_exit` + `waitpid` against the library's
//! fork and forkserver, interleaved round by round; prints the median of per-round ratios.
//! `cargo run --release -p multiprocessing --example start_join_timing -- [rounds] [per_round]`

use std::time::Instant;

use multiprocessing::{Process, StartMethod};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

fn noop(_: ()) {}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(n: usize, mut op: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..n)
        .map(|_| {
            let t0 = Instant::now();
            op();
            t0.elapsed().as_nanos() as f64
        })
        .collect();
    median(&mut t)
}

fn raw() {
    // SAFETY: the child only calls _exit.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => unsafe { libc::_exit(0) },
        ForkResult::Parent { child } => {
            waitpid(child, None).expect("waitpid");
        }
    }
}

/// Raw fork with what the library adds around it: the thread check's `stat` and the
/// report pipe (for attributing the library's cost).
fn raw_plus(stat: bool, pipe: bool) {
    use std::os::fd::AsFd;
    if stat {
        nix::sys::stat::stat("/proc/self/task").expect("stat");
    }
    let p = pipe.then(|| {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
            .expect("pipe2")
    });
    // SAFETY: the child only writes and calls _exit.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            if let Some((_, w)) = &p {
                let _ = nix::unistd::write(w.as_fd(), &[1, 0, 0, 0, 0]);
            }
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            let r = p.map(|(r, w)| {
                drop(w);
                r
            });
            waitpid(child, None).expect("waitpid");
            if let Some(r) = r {
                let mut b = [0u8; 48];
                let _ = nix::unistd::read(r.as_fd(), &mut b);
            }
        }
    }
}

fn mp(method: StartMethod) {
    let mut p = Process::with_args(noop, ()).with_start_method(method);
    p.start().expect("start");
    assert_eq!(p.join().expect("join"), 0);
}

/// `CHECK=1`: many unit children at once (several report-slot mappings), a panic, an
/// exit code, and a child that starts children of its own (its own slots).
fn check() {
    fn nap(ms: u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    fn boom(_: ()) {
        panic!("{}", "x".repeat(10_000));
    }
    fn code(c: i32) {
        multiprocessing::exit(c)
    }
    fn nested(n: usize) -> usize {
        let mut kids: Vec<Process> = (0..n).map(|i| Process::with_args(code, i as i32)).collect();
        kids.iter_mut().for_each(|k| k.start().expect("start"));
        let codes: Vec<i32> = kids.iter_mut().map(|k| k.join().expect("join")).collect();
        assert_eq!(codes, (0..n as i32).collect::<Vec<_>>());
        n
    }
    let mut kids: Vec<Process> = (0..40).map(|i| Process::with_args(nap, i % 5)).collect();
    kids.iter_mut().for_each(|k| k.start().expect("start"));
    let mut p = Process::with_args(boom, ());
    p.start().expect("start");
    let mut e = Process::with_args(code, 3);
    e.start().expect("start");
    let mut n = Process::with_args(nested, 20);
    n.start().expect("start");
    for k in &mut kids {
        assert_eq!(k.join().expect("join"), 0);
        k.result::<()>().expect("unit result");
    }
    assert_eq!(p.join().expect("join"), 1);
    let report = p.panic_report().expect("a panic report");
    assert!(report.message.len() < 4096 && report.message.ends_with("..."));
    assert!(report.location.is_some());
    assert_eq!(e.join().expect("join"), 3);
    assert!(e.result::<()>().is_err());
    assert_eq!(n.join().expect("join"), 0);
    assert_eq!(n.result::<usize>().expect("nested result"), 20);
    println!("check: ok");
}

fn main() {
    let _guard = multiprocessing::init();
    if std::env::var("CHECK").is_ok() {
        return check();
    }
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    mp(StartMethod::ForkServer);
    // `ONLY=raw|fork|forkserver`: run just that way (for perf stat / perf record).
    if let Ok(only) = std::env::var("ONLY") {
        let op: Box<dyn Fn()> = match only.as_str() {
            "raw" => Box::new(raw),
            "fork" => Box::new(|| mp(StartMethod::Fork)),
            "raw_stat" => Box::new(|| raw_plus(true, false)),
            "raw_pipe" => Box::new(|| raw_plus(false, true)),
            "raw_both" => Box::new(|| raw_plus(true, true)),
            _ => Box::new(|| mp(StartMethod::ForkServer)),
        };
        println!("{only}: {:.1} µs", time(rounds * n, op) / 1e3);
        return;
    }
    if std::env::var("PARTS").is_ok() {
        let mut ratios: [Vec<f64>; 4] = Default::default();
        for _ in 0..rounds {
            let r = time(n, raw);
            let t = [
                time(n, || raw_plus(true, false)),
                time(n, || raw_plus(false, true)),
                time(n, || raw_plus(true, true)),
                time(n, || mp(StartMethod::Fork)),
            ];
            for (v, x) in ratios.iter_mut().zip(t) {
                v.push(x / r);
            }
        }
        let m: Vec<String> = ratios
            .iter_mut()
            .map(|v| format!("{:.2}", median(v)))
            .collect();
        println!(
            "x raw: +stat {}  +pipe {}  +both {}  mp_fork {}",
            m[0], m[1], m[2], m[3]
        );
        return;
    }
    let (mut fork_r, mut fs_r) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let r = time(n, raw);
        let f = time(n, || mp(StartMethod::Fork));
        let s = time(n, || mp(StartMethod::ForkServer));
        println!(
            "raw {:6.1} µs  mp_fork {:6.1} µs ({:.2}x)  mp_forkserver {:6.1} µs ({:.2}x)",
            r / 1e3,
            f / 1e3,
            f / r,
            s / 1e3,
            s / r
        );
        fork_r.push(f / r);
        fs_r.push(s / r);
    }
    println!(
        "median ratio: mp_fork {:.2}x  mp_forkserver {:.2}x",
        median(&mut fork_r),
        median(&mut fs_r)
    );
}
