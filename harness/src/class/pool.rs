//! A fixed pool of worker threads fed through a channel. Results come back to the calling
//! thread in completion order, so progress, records and the gradebook are written by one
//! thread only. A raised `stop` flag makes workers take no new job; jobs already running
//! are expected to watch the same flag and end early.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

/// Run `work` over `jobs` on `threads` threads, calling `done` on this thread with each
/// result as it arrives. `work` is also told its thread's slot (0..threads), which a job
/// can use to spread over the CPUs. Returns how many jobs were never started because of `stop`.
pub fn run<J, R>(
    jobs: Vec<J>,
    threads: usize,
    stop: &AtomicBool,
    work: impl Fn(usize, J) -> R + Sync,
    mut done: impl FnMut(R),
) -> usize
where
    J: Send,
    R: Send,
{
    let total = jobs.len();
    let threads = threads.clamp(1, total.max(1));
    let (job_tx, job_rx) = mpsc::channel::<J>();
    for job in jobs {
        // The receiver lives until the scope below ends; a send cannot fail here.
        let _ = job_tx.send(job);
    }
    drop(job_tx);
    let job_rx = Mutex::new(job_rx);
    let (result_tx, result_rx) = mpsc::channel::<R>();
    let mut finished = 0;
    std::thread::scope(|scope| {
        for slot in 0..threads {
            let result_tx = result_tx.clone();
            let job_rx = &job_rx;
            let work = &work;
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    // A poisoned lock means another worker panicked; stop taking jobs.
                    let next = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok(job) = next else { break };
                    if result_tx.send(work(slot, job)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(result_tx);
        for result in result_rx {
            finished += 1;
            done(result);
        }
    });
    total - finished
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn runs_every_job_in_parallel() {
        let stop = AtomicBool::new(false);
        let start = std::time::Instant::now();
        let mut results = Vec::new();
        let skipped = run(
            (0..8).collect(),
            4,
            &stop,
            |_, i: u32| {
                std::thread::sleep(Duration::from_millis(100));
                i * 2
            },
            |r| results.push(r),
        );
        results.sort();
        assert_eq!(skipped, 0);
        assert_eq!(results, (0..8).map(|i| i * 2).collect::<Vec<_>>());
        assert!(
            start.elapsed() < Duration::from_millis(700),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn each_thread_has_its_own_slot() {
        let stop = AtomicBool::new(false);
        let mut slots = std::collections::HashSet::new();
        run(
            (0..12).collect(),
            3,
            &stop,
            |slot, _: u32| {
                // Long enough that every thread takes a job.
                std::thread::sleep(Duration::from_millis(20));
                (slot, std::thread::current().id())
            },
            |r| {
                slots.insert(r);
            },
        );
        // Three threads, each always with the same slot, and the slots 0, 1, 2.
        let by_slot: std::collections::BTreeSet<usize> = slots.iter().map(|r| r.0).collect();
        assert_eq!(by_slot, (0..3).collect());
        assert_eq!(slots.len(), 3, "{slots:?}");
    }

    #[test]
    fn stop_leaves_remaining_jobs_unstarted() {
        let stop = AtomicBool::new(false);
        let mut seen = 0;
        let skipped = run(
            (0..10).collect(),
            1,
            &stop,
            |_, i: u32| {
                if i == 2 {
                    stop.store(true, Ordering::SeqCst);
                }
                i
            },
            |_| seen += 1,
        );
        assert_eq!(seen, 3);
        assert_eq!(skipped, 7);
    }
}
