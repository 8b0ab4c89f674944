//! `pool-server`: a fixed pool of workers, started before the first client, serves
//! every client; no process is created while clients are served.

use crate::ledger::ProcId;

use super::check::{Outcome, Run};
use super::server_common::{servers_by_client, startup_failure};
use super::session::ServerSession;

/// `no-spawn-while-serving`: no program process was created between the first
/// client's connect and teardown.
pub fn no_spawn_while_serving(run: &Run, session: &ServerSession) -> Outcome {
    if let Some(failure) = startup_failure(run, session) {
        return failure;
    }
    let (from, to) = (session.marks.before_clients, session.marks.before_teardown);
    let spawned: Vec<ProcId> = run
        .program()
        .into_iter()
        .filter(|&id| {
            let seq = run.tree.processes[id].started.seq;
            seq > from && seq <= to
        })
        .collect();
    let clients = session.all_clients().count();
    if spawned.is_empty() {
        let pool = run
            .program()
            .into_iter()
            .filter(|&id| Some(id) != run.main() && run.tree.processes[id].alive_at(from))
            .count();
        return Outcome::pass(format!(
            "no process was created while {clients} clients were served ({pool} worker(s) \
             were running before the first client)"
        ));
    }
    Outcome::fail(format!(
        "expected the pool's workers to exist before the first client and no process to be \
         created while clients are served; {} process(es) were created while {clients} \
         clients were served (pids {}): a process per client is what a pool replaces — start \
         the workers first and let each accept() and serve in a loop",
        spawned.len(),
        run.pids(&spawned)
    ))
}

/// `parallel-workers`: two clients held connected at once were both answered, by two
/// different processes.
pub fn parallel_workers(run: &Run, session: &ServerSession) -> Outcome {
    if let Some(failure) = startup_failure(run, session) {
        return failure;
    }
    let Some(wave) = &session.parallel else {
        return Outcome::fail("expected clients held connected together; none ran");
    };
    if let Some(client) = wave.clients.iter().find(|c| !c.all_answered()) {
        return Outcome::fail(format!(
            "expected {} clients connected at the same time to be served in parallel by \
             different workers; client {} was not answered while the others stayed connected \
             ({}): only one worker serves at a time — a pool of one, or workers serving in turn",
            wave.clients.len(),
            client.client,
            client.problem().unwrap_or_default()
        ));
    }
    let served = servers_by_client(run, session);
    let parallel: Vec<&Vec<ProcId>> = served
        .iter()
        .filter(|(w, ..)| *w == wave.number)
        .map(|(.., s)| s)
        .collect();
    let mut distinct: Vec<ProcId> = Vec::new();
    for servers in &parallel {
        if servers.is_empty() {
            return Outcome::fail(
                "expected each held connection's serving process in the ledger; it shows no \
                 process reading or writing one of them",
            );
        }
        for s in servers.iter() {
            if !distinct.contains(s) {
                distinct.push(*s);
            }
        }
    }
    if distinct.len() >= 2 && parallel.len() >= 2 {
        Outcome::pass(format!(
            "{} clients connected at once were served in parallel by different processes (pids {})",
            parallel.len(),
            run.pids(&distinct)
        ))
    } else {
        Outcome::fail(format!(
            "expected clients connected at the same time to be served by different workers; \
             they were all served by {}",
            run.pids(&distinct)
        ))
    }
}
