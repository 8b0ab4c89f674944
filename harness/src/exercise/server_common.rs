//! Checks shared by the two servers: answers, teardown, and how a server that never
//! came up is reported.

use crate::ledger::{ExitStatus, ProcId, net};

use super::check::{Outcome, Run, describe_status};
use super::session::{Reply, ServerSession, client_label};

/// When no client could run, every client-based check fails with this reason.
pub fn startup_failure(run: &Run, session: &ServerSession) -> Option<Outcome> {
    let reason = session.startup_error.as_ref()?;
    let mut message = format!("no client could be served: {reason}");
    if let Some(main) = run.main()
        && let Some((at, status)) = run.tree.processes[main].exited
        && at.seq <= session.marks.before_teardown
    {
        message.push_str(&format!(
            "; the server's main process ended on its own ({})",
            describe_status(Some(status))
        ));
    }
    Some(Outcome::fail(message))
}

/// `answers`: every reply that came back was the message upper-cased, at least one
/// came back, and, with `require_all`, every message of every client was answered.
pub fn answers(run: &Run, session: &ServerSession, require_all: bool) -> Outcome {
    if let Some(failure) = startup_failure(run, session) {
        return failure;
    }
    let mut correct = 0;
    let mut total = 0;
    for (wave, client) in session.all_clients() {
        for exchange in &client.exchanges {
            total += 1;
            match &exchange.reply {
                Reply::Correct => correct += 1,
                Reply::Wrong { got } => {
                    let hint = if *got == exchange.sent {
                        ": the bytes came back unchanged — upper-case them (`data.upper()`)"
                    } else {
                        ""
                    };
                    return Outcome::fail(format!(
                        "expected every message answered with the same bytes upper-cased; {} \
                         sent `{}`, expected `{}`, got `{got}`{hint}",
                        client_label(wave.number, client.client),
                        exchange.sent,
                        exchange.sent.to_ascii_uppercase()
                    ));
                }
                _ => {}
            }
        }
    }
    if correct == 0 {
        let why = session
            .all_clients()
            .find_map(|(_, c)| c.problem())
            .unwrap_or_else(|| "no client exchanged a message".into());
        return Outcome::fail(format!(
            "expected messages answered upper-cased; none was answered ({why})"
        ));
    }
    // The held pair is judged by parallel-workers; here, the clients that come and go.
    if require_all
        && let Some((wave, client)) = session
            .waves
            .iter()
            .flat_map(|w| w.clients.iter().map(move |c| (w, c)))
            .find(|(_, c)| !c.all_correct())
    {
        return Outcome::fail(format!(
            "expected every client answered, more clients than workers included; {}: {}",
            client_label(wave.number, client.client),
            client.problem().unwrap_or_default()
        ));
    }
    Outcome::pass(format!(
        "{correct} of {total} messages were answered, every reply the message upper-cased"
    ))
}

/// `teardown`: after the grader's SIGTERM, every process of the server ended within
/// the grace period; none was left for containment to SIGKILL.
///
/// Left behind = a program process that never exited, or that ended after teardown
/// began by SIGKILL or by containment's kill (status `killed`), or a pid the ledger
/// lists as a leftover.
pub fn teardown(run: &Run, session: &ServerSession) -> Outcome {
    let start = session.marks.before_teardown;
    let left: Vec<ProcId> = run
        .program()
        .into_iter()
        .filter(|&id| match run.tree.processes[id].exited {
            None | Some((_, ExitStatus::Killed)) => true,
            Some((at, ExitStatus::Signal { signal, .. })) => {
                signal == libc::SIGKILL && at.seq > start
            }
            Some(_) => false,
        })
        .collect();
    let leftovers = &run.program_leftovers();
    if left.is_empty() && leftovers.is_empty() {
        let early = run.main().and_then(|m| {
            let (at, status) = run.tree.processes[m].exited?;
            (at.seq <= start).then(|| describe_status(Some(status)))
        });
        return Outcome::pass(match early {
            Some(status) => {
                format!("nothing was left running (the server had already ended: {status})")
            }
            None => {
                "after SIGTERM every process of the server ended; nothing was left behind".into()
            }
        });
    }
    let mut names: Vec<String> = left.iter().map(|&id| run.who(id)).collect();
    for pid in leftovers {
        if !left.iter().any(|&id| run.tree.processes[id].pid == *pid) {
            names.push(format!("pid {pid}"));
        }
    }
    Outcome::fail(format!(
        "expected every process to end after SIGTERM; still running after the grace period \
         and killed with SIGKILL: {} (workers or children that outlive the main process: end \
         them when it gets SIGTERM — daemon=True, or terminate() them in a handler)",
        names.join(", ")
    ))
}

/// The processes serving each client connection of `session` (per wave, per client),
/// from the ledger's socket traffic.
pub fn servers_by_client(run: &Run, session: &ServerSession) -> Vec<(u32, u32, Vec<ProcId>)> {
    let conns = net::connections(run.ledger, &run.tree);
    session
        .all_clients()
        .filter_map(|(wave, client)| {
            let local = client.local.as_ref()?;
            let servers = net::connection_from(&conns, local)
                .map(|c| c.servers())
                .unwrap_or_default();
            Some((wave.number, client.client, servers))
        })
        .collect()
}

/// The processes that listened.
pub fn listener_processes(run: &Run) -> Vec<ProcId> {
    let mut out: Vec<ProcId> = net::listeners(run.ledger, &run.tree)
        .into_iter()
        .map(|l| l.process)
        .collect();
    out.dedup();
    out
}
