//! `socket-server`: one process per client, several clients at once, a second wave,
//! finished children that do not pile up as zombies, and serving children that end when
//! their client leaves.

use crate::ledger::ProcId;

use super::check::{Outcome, Run};
use super::server_common::{listener_processes, servers_by_client, startup_failure};
use super::session::{ServerSession, client_label};

/// `concurrent-clients`: in every wave, all clients connected at once were all
/// answered before any of them closed.
pub fn concurrent_clients(run: &Run, session: &ServerSession) -> Outcome {
    if let Some(failure) = startup_failure(run, session) {
        return failure;
    }
    for wave in &session.waves {
        let answered: Vec<u32> = wave
            .clients
            .iter()
            .filter(|c| c.all_answered())
            .map(|c| c.client)
            .collect();
        if answered.len() == wave.clients.len() {
            continue;
        }
        let waiting: Vec<String> = wave
            .clients
            .iter()
            .filter(|c| !c.all_answered())
            .map(|c| format!("client {} ({})", c.client, c.problem().unwrap_or_default()))
            .collect();
        let diagnosis = if answered.len() == 1 {
            format!(
                ": client {} was answered while the others waited — a server that answers one \
                 client at a time. Serve each accepted connection in a new Process and go back to \
                 accept() at once",
                answered[0]
            )
        } else {
            String::new()
        };
        return Outcome::fail(format!(
            "expected all {} clients of wave {}, connected at the same time, to be answered \
             before any of them left; {} answered, not answered: {}{diagnosis}",
            wave.clients.len(),
            wave.number,
            answered.len(),
            waiting.join("; ")
        ));
    }
    let per_wave = session.waves.first().map_or(0, |w| w.clients.len());
    Outcome::pass(format!(
        "in each of {} wave(s), {per_wave} clients connected at once were all answered",
        session.waves.len()
    ))
}

/// `process-per-client`: each connection was served (read and written) by its own
/// program process, never the listening one.
pub fn process_per_client(run: &Run, session: &ServerSession) -> Outcome {
    if let Some(failure) = startup_failure(run, session) {
        return failure;
    }
    let listeners = listener_processes(run);
    let served = servers_by_client(run, session);
    if served.is_empty() {
        return Outcome::fail(
            "expected each client served by its own process; no client connected",
        );
    }
    let mut owner: Vec<(ProcId, u32, u32)> = Vec::new();
    let mut unseen = Vec::new();
    let mut by_listener = Vec::new();
    let mut shared = Vec::new();
    for (wave, client, servers) in &served {
        let label = client_label(*wave, *client);
        if servers.is_empty() {
            unseen.push(label);
        } else if servers.iter().any(|s| listeners.contains(s)) {
            by_listener.push(label);
        } else {
            for &s in servers {
                match owner.iter().find(|(o, ..)| *o == s) {
                    Some((_, w, c)) => shared.push(format!(
                        "{} served both {} and {label}",
                        run.who(s),
                        client_label(*w, *c)
                    )),
                    None => owner.push((s, *wave, *client)),
                }
            }
        }
    }
    if unseen.is_empty() && by_listener.is_empty() && shared.is_empty() {
        return Outcome::pass(format!(
            "each of the {} connections was served by its own process, none by the listener",
            served.len()
        ));
    }
    let mut problems = Vec::new();
    if !by_listener.is_empty() {
        let who = listeners.first().map(|&l| run.who(l)).unwrap_or_default();
        problems.push(format!(
            "{} of {} connections were served by the listening process, {who} ({})",
            by_listener.len(),
            served.len(),
            by_listener.join(", ")
        ));
    }
    problems.extend(shared);
    if !unseen.is_empty() {
        problems.push(format!(
            "the ledger shows no process reading or writing the connection of {}",
            unseen.join(", ")
        ));
    }
    let hint = if !by_listener.is_empty() && owner.is_empty() {
        ". Likely mistake: a server that answers one client at a time in its listening \
         process; start a Process for each accepted connection"
    } else {
        ""
    };
    Outcome::fail(format!(
        "expected each client served by its own process, not the listening one; {}{hint}",
        problems.join("; ")
    ))
}

/// `second-wave`: after every client of the first wave left, the server answered a
/// client of a later wave.
pub fn second_wave(run: &Run, session: &ServerSession) -> Outcome {
    if let Some(failure) = startup_failure(run, session) {
        return failure;
    }
    let later: Vec<_> = session.waves.iter().skip(1).collect();
    let answered = later
        .iter()
        .flat_map(|w| w.clients.iter())
        .filter(|c| c.exchanges.iter().any(|e| e.reply.answered()))
        .count();
    if answered > 0 {
        return Outcome::pass(format!(
            "after the first wave left, {answered} client(s) of later waves were answered"
        ));
    }
    let why = later
        .iter()
        .flat_map(|w| w.clients.iter())
        .find_map(|c| c.problem())
        .unwrap_or_else(|| "no later wave ran".into());
    let ended = run
        .main()
        .and_then(|m| run.tree.processes[m].exited)
        .filter(|(at, _)| at.seq <= session.marks.before_teardown)
        .map(|_| " The server's main process had exited: a server loops on accept() forever.")
        .unwrap_or("");
    Outcome::fail(format!(
        "expected the server to answer a second wave of clients after the first left; none \
         was answered ({why}).{ended}"
    ))
}

/// Program processes exited but not yet reaped at `seq` (by a wait, or by the kernel
/// because the parent ignores SIGCHLD).
pub fn zombies_at(run: &Run, seq: u64) -> Vec<ProcId> {
    run.program()
        .into_iter()
        .filter(|&id| {
            let p = &run.tree.processes[id];
            let exited = p.exited.is_some_and(|(at, _)| at.seq <= seq);
            let reaped = p.reaped_by.is_some_and(|(_, at)| at.seq <= seq);
            exited && !reaped
        })
        .collect()
}

/// `zombies-bounded`: after each wave, finished children waiting to be reaped number
/// at most one wave's worth of clients, so they do not grow with clients served.
pub fn zombies_bounded(run: &Run, session: &ServerSession, per_wave: usize) -> Outcome {
    if let Some(failure) = startup_failure(run, session) {
        return failure;
    }
    if session.marks.after_wave.is_empty() {
        return Outcome::fail("expected waves of clients to count zombies after; none ran");
    }
    let counts: Vec<usize> = session
        .marks
        .after_wave
        .iter()
        .map(|&seq| zombies_at(run, seq).len())
        .collect();
    let shown = counts
        .iter()
        .enumerate()
        .map(|(i, n)| format!("after wave {}: {n}", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    if counts.iter().all(|&n| n <= per_wave) {
        let by_kernel = run
            .program()
            .into_iter()
            .filter(|&id| run.tree.processes[id].reaped_by_kernel)
            .count();
        let kernel = match by_kernel {
            0 => String::new(),
            1 => "; 1 child was reaped by the kernel (the parent ignores SIGCHLD)".into(),
            n => format!("; {n} children were reaped by the kernel (the parent ignores SIGCHLD)"),
        };
        return Outcome::pass(format!(
            "unreaped finished children stayed within one wave's worth ({per_wave}): {shown}{kernel}"
        ));
    }
    Outcome::fail(format!(
        "expected finished children to be reaped, so that zombies stay within one wave's worth \
         ({per_wave}); exited but never reaped — {shown}: a server whose finished children \
         pile up as zombies. Reap them: join() finished Processes (multiprocessing does it on \
         the next start()), or os.waitpid(-1, os.WNOHANG) in the accept loop"
    ))
}

/// `children-exit`: every process that served a client (other than the listening one)
/// ended within `bound_ms` of its client closing the connection, by itself. A serving
/// loop that never ends when its client leaves (`recv` returns empty bytes forever)
/// keeps the process alive until the grader's teardown; only exited processes would
/// otherwise be judged.
pub fn children_exit(run: &Run, session: &ServerSession, bound_ms: u64) -> Outcome {
    if let Some(failure) = startup_failure(run, session) {
        return failure;
    }
    let listeners = listener_processes(run);
    // Each serving process, with the latest close among the clients it served.
    let mut serving: Vec<(ProcId, u64)> = Vec::new();
    for (wave, client, servers) in servers_by_client(run, session) {
        let closed = session
            .waves
            .iter()
            .filter(|w| w.number == wave)
            .flat_map(|w| w.clients.iter())
            .find(|c| c.client == client)
            .and_then(|c| c.closed_ns);
        let Some(closed) = closed else { continue };
        for s in servers.into_iter().filter(|s| !listeners.contains(s)) {
            match serving.iter_mut().find(|(id, _)| *id == s) {
                Some((_, at)) => *at = (*at).max(closed),
                None => serving.push((s, closed)),
            }
        }
    }
    if serving.is_empty() {
        return Outcome::pass(
            "no process other than the listener served a client, so none had to end (see \
             process-per-client)",
        );
    }
    let bound_ns = bound_ms.saturating_mul(1_000_000);
    let secs = |ns: u64| ns as f64 / 1e9;
    let mut running = Vec::new();
    let mut slow = Vec::new();
    let mut slowest = 0;
    for &(id, closed) in &serving {
        // Ended by itself: before the grader's teardown began.
        let ended = run.tree.processes[id]
            .exited
            .filter(|(at, _)| at.seq <= session.marks.before_teardown)
            .map(|(at, _)| at.t_ns.saturating_sub(closed));
        match ended {
            None => running.push(id),
            Some(after) if after > bound_ns => slow.push(format!(
                "{} ended {:.1} s after its client left",
                run.who(id),
                secs(after)
            )),
            Some(after) => slowest = slowest.max(after),
        }
    }
    if running.is_empty() && slow.is_empty() {
        return Outcome::pass(format!(
            "all {} serving process(es) ended after their client closed (the slowest {} ms \
             after, within {:.1} s)",
            serving.len(),
            slowest / 1_000_000,
            secs(bound_ns)
        ));
    }
    let mut problems = Vec::new();
    running.sort_by_key(|&id| run.tree.processes[id].pid);
    if !running.is_empty() {
        problems.push(format!(
            "pid(s) {} kept running after their client left, until the grader's teardown",
            run.pids(&running)
        ));
    }
    problems.extend(slow);
    Outcome::fail(format!(
        "expected each serving process to end within {:.1} s of its client closing the \
         connection; {}. Likely mistake: the serving loop does not end when the client \
         closes — recv() then returns empty bytes (b'') at once, forever; leave the loop on \
         it (`if not data: break`) and close the connection",
        secs(bound_ns),
        problems.join("; ")
    ))
}
