//! Exercises: their specs (TOML), their checks (pure functions over a finished ledger and,
//! for servers, what the grader's clients saw), and the clients themselves.
//!
//! Check definitions, one per id, are documented on each check function; the overview
//! lives in `harness/exercises/README.md`.

pub mod check;
pub mod clients;
pub mod common;
pub mod daemon;
pub mod id;
pub mod isolation;
pub mod named;
pub mod orphans;
pub mod params;
pub mod pattern;
pub mod pool_server;
pub mod server_common;
pub mod session;
pub mod socket_server;
pub mod spec;
pub mod start;
pub mod terminate;

#[cfg(test)]
mod tests_common;
#[cfg(test)]
mod tests_lifecycle;
#[cfg(test)]
mod tests_names;
#[cfg(test)]
mod tests_pool;
#[cfg(test)]
mod tests_servers;
#[cfg(test)]
mod tests_simple;
#[cfg(test)]
mod tests_spec;
#[cfg(test)]
mod tests_start;

pub use check::{CheckResult, Outcome, Run};
pub use id::ExerciseId;
pub use session::ServerSession;
pub use spec::{Spec, SpecError};

use crate::ledger::Ledger;
use params::Params;

/// Run every check of `spec` over a finished run. `session` is what the clients saw
/// (servers only; an empty session when absent).
pub fn evaluate(spec: &Spec, ledger: &Ledger, session: Option<&ServerSession>) -> Vec<CheckResult> {
    let run = Run::new(ledger);
    let empty = ServerSession {
        startup_error: Some("the grader's clients did not run".into()),
        ..ServerSession::default()
    };
    let session = session.unwrap_or(&empty);
    spec.id
        .check_ids()
        .iter()
        .map(|&id| {
            let outcome = outcome(spec, &run, session, id);
            let max_points = spec.points.get(id).copied().unwrap_or(0);
            CheckResult {
                id: id.to_string(),
                passed: outcome.passed,
                message: outcome.message,
                points: if outcome.passed { max_points } else { 0 },
                max_points,
            }
        })
        .collect()
}

/// The outcome of check `id` of `spec`.
fn outcome(spec: &Spec, run: &Run, session: &ServerSession, id: &str) -> Outcome {
    if id == id::LIMITS {
        return common::limits(run);
    }
    // Orphans killed at the end of the grace are no-leftovers' finding alone.
    let orphans_elsewhere = spec.id.check_ids().contains(&"no-leftovers");
    match (&spec.params, spec.id) {
        (Params::Start(p), ExerciseId::JoinOrder) => match id {
            "child-count" => start::child_count(run, p),
            "child-lines" => start::child_lines(run, p),
            "concurrent" => start::concurrent(run, p),
            "main-after-children" => start::main_after_children(run, p),
            "exit-codes" => common::exit_codes(run, orphans_elsewhere),
            _ => unknown(id),
        },
        (Params::Start(p), _) => match id {
            "child-count" => start::child_count(run, p),
            "child-lines" => start::child_lines(run, p),
            "parent-line" => start::parent_line(run, p),
            "concurrent" => start::concurrent(run, p),
            "start-nonblocking" => start::start_nonblocking(run, p),
            "exit-codes" => common::exit_codes(run, orphans_elsewhere),
            "no-leftovers" => orphans::no_leftovers(run),
            _ => unknown(id),
        },
        (Params::Isolation(p), _) => match id {
            "child-count" => isolation::child_count(run, p),
            "child-value" => isolation::child_value(run, p),
            "parent-value" => isolation::parent_value(run, p),
            "exit-codes" => common::exit_codes(run, orphans_elsewhere),
            _ => unknown(id),
        },
        (Params::Daemon(p), _) => match id {
            "child-count" => daemon::child_count(run),
            "daemon-ended" => daemon::daemon_ended(run),
            "daemon-no-end-line" => daemon::daemon_no_end_line(run, p),
            "normal-completes" => daemon::normal_completes(run, p),
            "no-leftovers" => orphans::no_leftovers(run),
            _ => unknown(id),
        },
        (Params::Terminate(p), _) => match id {
            "child-count" => terminate::child_count(run),
            "sigterm-sent" => terminate::sigterm_sent(run, p),
            "child-died-sigterm" => terminate::child_died(run, p),
            "exitcode-printed" => terminate::exitcode_printed(run, p),
            "child-reaped" => terminate::child_reaped(run),
            _ => unknown(id),
        },
        (Params::Server(_), ExerciseId::PoolServer) => match id {
            "answers" => server_common::answers(run, session, true),
            "no-spawn-while-serving" => pool_server::no_spawn_while_serving(run, session),
            "parallel-workers" => pool_server::parallel_workers(run, session),
            "teardown" => server_common::teardown(run, session),
            _ => unknown(id),
        },
        (Params::Server(p), _) => match id {
            "answers" => server_common::answers(run, session, false),
            "concurrent-clients" => socket_server::concurrent_clients(run, session),
            "process-per-client" => socket_server::process_per_client(run, session),
            "second-wave" => socket_server::second_wave(run, session),
            "zombies-bounded" => socket_server::zombies_bounded(run, session, p.clients as usize),
            "children-exit" => socket_server::children_exit(run, session, p.child_exit_ms),
            "teardown" => server_common::teardown(run, session),
            _ => unknown(id),
        },
    }
}

/// A check id the exercise does not know: a programming error, reported, never a panic.
fn unknown(id: &str) -> Outcome {
    Outcome::fail(format!("internal error: no check `{id}` for this exercise"))
}
