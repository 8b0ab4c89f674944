//! The Rust peer of `peers/mp_start_join.py`: `mp-start-join METHOD N` starts and joins N
//! `multiprocessing` processes whose target does nothing, one after the other, and exits.
//! Timed as a whole program (launch to exit) against the Python script given the same
//! arguments, it makes the whole-process comparison: start-up, the forkserver's zygote
//! and its shutdown included on both sides. `mp-start-join raw N` does N raw `fork` +
//! `_exit` + `waitpid` instead: the same program around the bare system calls.

use multiprocessing::{Process, StartMethod};

fn noop(_: ()) {}

fn main() {
    let _guard = multiprocessing::init();
    let mut args = std::env::args().skip(1);
    let usage = "usage: mp-start-join raw|fork|spawn|forkserver N";
    let way = args.next().unwrap_or_else(|| panic!("{usage}"));
    let n: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{usage}"));
    if way == "raw" {
        for _ in 0..n {
            proclab_benches::peers::raw_fork_join().expect("raw fork");
        }
        return;
    }
    let method: StartMethod = way.parse().unwrap_or_else(|_| panic!("{usage}"));
    for _ in 0..n {
        let mut p = Process::with_args(noop, ()).with_start_method(method);
        p.start().expect("start");
        assert_eq!(p.join().expect("join"), 0, "the child failed");
    }
}
