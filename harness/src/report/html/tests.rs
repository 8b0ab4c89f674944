use super::*;
use crate::ledger::builder::LedgerBuilder;

fn start_target_ledger() -> Ledger {
    let mut b = LedgerBuilder::new(100, &["python3", "good.py"]);
    for (i, name) in ["egon", "alex"].iter().enumerate() {
        let pid = 101 + i as i32;
        b.fork(100, pid);
        b.out(pid, &format!("{name} piaoing\n"));
    }
    b.out(100, "主\n");
    b.out(101, "<script>alert(1)</script> piao end\n");
    b.exit(101, 0);
    b.reap(100, 101);
    b.signal(100, 102, 15);
    b.killed(102, 15);
    b.reap(100, 102);
    b.exit(100, 0);
    b.build()
}

fn page<'a>(ledger: &'a Ledger, checks: &'a [Check<'a>]) -> Page<'a> {
    Page {
        title: "start-target — alice",
        exercise: "start-target",
        verdict: "fail",
        score: 3.0,
        max_score: 5.0,
        detail: "",
        checks,
        ledger: Some(ledger),
    }
}

#[test]
fn report_has_lanes_arrows_and_checks() {
    let ledger = start_target_ledger();
    let checks = [
        Check {
            id: "four-children",
            passed: true,
            message: "4 children",
            points: 3.0,
            max_points: 3.0,
        },
        Check {
            id: "main-first",
            passed: false,
            message: "主 came after <the children>",
            points: 0.0,
            max_points: 2.0,
        },
    ];
    let html = render(&page(&ledger, &checks));
    assert_eq!(
        html.matches("class=\"lane ").count(),
        3,
        "one lane per process"
    );
    assert_eq!(html.matches("class=\"fork-arrow\"").count(), 2);
    assert_eq!(html.matches("class=\"reap-arrow\"").count(), 2);
    assert_eq!(html.matches("class=\"signal-arrow\"").count(), 1);
    assert!(html.contains("class=\"check pass\""));
    assert!(html.contains("class=\"check fail\""));
    assert!(html.contains("主"));
    assert!(html.contains("killed by SIGTERM"));
    assert!(
        html.contains("main-guide"),
        "the main process's lines are marked across lanes"
    );
}

#[test]
fn everything_from_the_submission_is_escaped() {
    let ledger = start_target_ledger();
    let checks = [Check {
        id: "x\"><b>",
        passed: false,
        message: "<img src=x>",
        points: 0.0,
        max_points: 1.0,
    }];
    let html = render(&page(&ledger, &checks));
    assert!(!html.contains("<script>alert"), "output escaped");
    assert!(!html.contains("<img src=x>"), "messages escaped");
    assert!(!html.contains("x\"><b>"), "ids escaped");
    assert!(html.contains("&lt;script&gt;"));
    assert!(!html.contains("<script"), "no script at all in the page");
    assert!(
        !html.contains("http://")
            || html
                .matches("http://")
                .all(|_| html.contains("xmlns=\"http://www.w3.org/2000/svg\""))
    );
}

#[test]
fn report_without_a_run_still_renders() {
    let p = Page {
        title: "socket-server — bob",
        exercise: "socket-server",
        verdict: "build-error",
        score: 0.0,
        max_score: 10.0,
        detail: "error[E0425]: cannot find value `x`",
        checks: &[],
        ledger: None,
    };
    let html = render(&p);
    assert!(html.contains("build-error"));
    assert!(html.contains("cannot find value `x`"));
    assert!(!html.contains("id=\"timeline\""));
}

#[test]
fn pauses_show_their_length() {
    let mut b = LedgerBuilder::new(1, &["prog"]);
    b.push(crate::ledger::EventKind::Write {
        pid: 1,
        tid: 1,
        stream: Stream::Stdout,
        text: "a\n".into(),
        len: 2,
    });
    let mut ledger = b.build();
    ledger.events.push(crate::ledger::Event {
        seq: 10,
        t_ns: 2_000_000_000,
        kind: crate::ledger::EventKind::Exit {
            pid: 1,
            status: crate::ledger::ExitStatus::Code { code: 0 },
        },
    });
    let html = render(&page(&ledger, &[]));
    assert!(html.contains("+2.00 s"), "gap label");
}

#[test]
fn kernel_reaps_are_labelled_not_drawn_as_waits_or_zombies() {
    let mut b = LedgerBuilder::new(100, &["python3", "server.py"]);
    b.sigchld(100, true, false)
        .fork(100, 101)
        .exit(101, 0)
        .kernel_reap(100, 101)
        .fork(100, 102)
        .exit(102, 0)
        .out(100, "still serving\n")
        .exit(100, 0);
    let ledger = b.build();
    let html = render(&page(&ledger, &[]));
    assert!(html.contains("ignores SIGCHLD (SIG_IGN)"), "{html}");
    assert_eq!(
        html.matches("class=\"kernel-reap\"").count(),
        1,
        "one label on the reaped child's lane"
    );
    assert!(html.contains("reaped by the kernel (the parent ignores SIGCHLD)"));
    assert_eq!(
        html.matches("class=\"reap-arrow\"").count(),
        0,
        "no wait call"
    );
    assert_eq!(
        html.matches("class=\"zombie\"").count(),
        0,
        "a kernel reap leaves no zombie time; 102 was never reaped, so no reap row either"
    );
}
