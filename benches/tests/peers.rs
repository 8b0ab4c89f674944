//! The peer programs work: each server answers the load generator correctly and leaves
//! nothing behind when stopped; the workloads exit 0; the report tolerates missing data.

use proclab_benches::load::{LoadConfig, run};
use proclab_benches::procstat::group_stats;
use proclab_benches::server::Server;
use std::process::Command;
use std::time::Duration;

fn check_server(mut cmd: Command) {
    cmd.args(["--port", "0"]);
    let server = Server::start(cmd, Duration::from_secs(20)).expect("server starts");
    let pgid = server.pid();
    for concurrency in [1, 4] {
        let cfg = LoadConfig {
            addr: server.addr(),
            concurrency,
            count: 40,
            timeout: Duration::from_secs(20),
        };
        let r = run(&cfg).expect("load runs");
        assert_eq!((r.completed, r.errors), (40, 0), "{r:?}");
        assert!(
            r.p50_us.is_some_and(|p| p > 0.0) && r.p99_us >= r.p50_us,
            "{r:?}"
        );
    }
    server.stop().expect("server stops");
    assert_eq!(
        group_stats(pgid).processes,
        0,
        "the server's group is empty after stop"
    );
}

#[test]
fn thread_server_serves_and_stops() {
    check_server(Command::new(env!("CARGO_BIN_EXE_thread-server")));
}

#[test]
fn fork_server_serves_and_stops() {
    check_server(Command::new(env!("CARGO_BIN_EXE_fork-server")));
}

#[test]
fn python_servers_serve_and_stop() {
    let Ok(py) = proclab_benches::env::python() else {
        eprintln!("no python3: skipping the Python peers");
        return;
    };
    for script in ["forking_server.py", "prefork_server.py"] {
        let mut cmd = Command::new(&py);
        // The scripts take the port as a positional argument.
        cmd.arg(proclab_benches::env::peers_dir().join(script))
            .arg("0");
        let server = Server::start(cmd, Duration::from_secs(20)).expect("python server starts");
        let cfg = LoadConfig {
            addr: server.addr(),
            concurrency: 2,
            count: 20,
            timeout: Duration::from_secs(20),
        };
        let r = run(&cfg).expect("load runs");
        assert_eq!((r.completed, r.errors), (20, 0), "{script}: {r:?}");
        let pgid = server.pid();
        server.stop().expect("stops");
        assert_eq!(
            group_stats(pgid).processes,
            0,
            "{script} left processes behind"
        );
    }
}

#[test]
fn loadgen_refuses_non_loopback() {
    let cfg = LoadConfig {
        addr: "192.0.2.1:80".parse().expect("addr"),
        concurrency: 1,
        count: 1,
        timeout: Duration::from_secs(1),
    };
    assert!(run(&cfg).is_err());
}

#[test]
fn workloads_exit_zero() {
    let w = env!("CARGO_BIN_EXE_workload");
    for args in [
        &["tree", "--sleep-ms", "1"][..],
        &["tcp", "--conns", "5", "--trips", "3"],
        &["writes", "--count", "100"],
        &["cpu", "--iters", "1000"],
    ] {
        let out = Command::new(w).args(args).output().expect("workload runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new(w).args(["tree"]).output().expect("tree runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 9, "4 children × 2 lines + 主: {text}");
}

#[test]
fn report_with_no_results_says_not_measured() {
    let dir = tempfile_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_bench-report"))
        .args(["--out", dir.to_str().expect("utf-8")])
        .env("CARGO_TARGET_DIR", &dir)
        .output()
        .expect("bench-report runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.join("results.md")).expect("results.md");
    assert!(md.contains("not measured"), "{md}");
    for chart in [
        "spawn_join.svg",
        "growth.svg",
        "fork_memory.svg",
        "servers.svg",
        "tracer.svg",
    ] {
        let svg = std::fs::read_to_string(dir.join(chart)).expect(chart);
        assert!(svg.starts_with("<svg"), "{chart}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("proclab-bench-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
