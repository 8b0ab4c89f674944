use super::*;
use crate::ledger::builder::LedgerBuilder;
use crate::ledger::{Layer, Ledger};

fn with_netns(mut ledger: Ledger, active: bool) -> Ledger {
    ledger.layers.push(Layer {
        name: "netns".into(),
        active,
        detail: String::new(),
    });
    ledger
}

fn bind_failed(b: &mut LedgerBuilder, pid: i32, addr: &str) {
    b.push(EventKind::BindFailed {
        pid,
        addr: addr.into(),
        errno: libc::EADDRINUSE,
    });
}

fn listen(b: &mut LedgerBuilder, pid: i32, addr: &str) {
    b.push(EventKind::Listen {
        pid,
        addr: addr.into(),
    });
}

#[test]
fn a_port_taken_on_the_host_network_cannot_be_graded() {
    let mut b = LedgerBuilder::new(10, &["python3", "server.py"]);
    bind_failed(&mut b, 10, "127.0.0.1:8080");
    b.exit(10, 1);
    let why = diagnose(&with_netns(b.build(), false)).expect("could not grade");
    assert!(
        why.contains("127.0.0.1:8080") && why.contains("sport = :8080"),
        "{why}"
    );
    // In a private namespace only the submission could hold the port.
    assert_eq!(diagnose(&with_netns(b.build(), true)), None);
}

#[test]
fn a_port_the_run_took_itself_or_a_later_listen_is_graded() {
    let mut own = LedgerBuilder::new(10, &["python3", "server.py"]);
    own.fork(10, 11);
    listen(&mut own, 10, "0.0.0.0:8080");
    bind_failed(&mut own, 11, "127.0.0.1:8080");
    own.exit(11, 1).exit(10, 0);
    assert_eq!(diagnose(&with_netns(own.build(), false)), None);

    let mut retried = LedgerBuilder::new(10, &["python3", "server.py"]);
    bind_failed(&mut retried, 10, "127.0.0.1:8080");
    listen(&mut retried, 10, "127.0.0.1:8081");
    retried.exit(10, 0);
    assert_eq!(diagnose(&with_netns(retried.build(), false)), None);

    let mut other = LedgerBuilder::new(10, &["python3", "server.py"]);
    other.push(EventKind::BindFailed {
        pid: 10,
        addr: "127.0.0.1:80".into(),
        errno: libc::EACCES,
    });
    other.exit(10, 1);
    assert_eq!(diagnose(&with_netns(other.build(), false)), None);
}

#[test]
fn a_launcher_that_finds_no_interpreter_cannot_grade() {
    let mut b = LedgerBuilder::new(10, &["/usr/bin/env", "python9", "x.py"]);
    b.write(
        10,
        Stream::Stderr,
        "/usr/bin/env: 'python9': No such file or directory\n",
    );
    b.exit(10, 127);
    let why = diagnose(&b.build()).expect("could not grade");
    assert!(why.contains("exit 127") && why.contains("python9"), "{why}");
}

#[test]
fn a_student_program_exiting_127_is_its_own_doing() {
    let mut b = LedgerBuilder::new(10, &["python3", "x.py"]);
    b.exit(10, 127);
    assert_eq!(diagnose(&b.build()), None);
    // A launcher whose program ran and failed: the program's verdict.
    let mut sh = LedgerBuilder::new(10, &["sh", "-c", "python3 x.py"]);
    sh.fork(10, 11).exec(11, &["python3", "x.py"]).exit(11, 1);
    sh.exit(10, 127);
    assert_eq!(diagnose(&sh.build()), None);
}

#[test]
fn trace_errors_say_what_to_do() {
    let missing = TraceError::CommandNotFound("python9".into());
    let text = trace_error(&missing, &["python9".into()]);
    assert!(
        text.contains("python9") && text.contains("install"),
        "{text}"
    );
    let eagain = TraceError::Start {
        command: "prog".into(),
        stage: "fork",
        errno: nix::errno::Errno::EAGAIN,
    };
    assert!(trace_error(&eagain, &["prog".into()]).contains("ran out"));
}
