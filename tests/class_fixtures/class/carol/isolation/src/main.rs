//! Class fixture, correct isolation in Rust with std only: the child is this program
//! run again with `child`; its change to the counter stays in its own memory.
use std::sync::atomic::{AtomicI32, Ordering};

static N: AtomicI32 = AtomicI32::new(100);

fn main() {
    if std::env::args().nth(1).as_deref() == Some("child") {
        N.store(0, Ordering::SeqCst);
        println!("子进程内:  {}", N.load(Ordering::SeqCst));
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    let status = std::process::Command::new(exe)
        .arg("child")
        .status()
        .expect("start the child");
    assert!(status.success());
    println!("主进程内:  {}", N.load(Ordering::SeqCst));
}
