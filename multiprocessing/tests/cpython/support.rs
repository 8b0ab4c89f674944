//! What CPython's tests take from `test.support` and `multiprocessing` that this crate
//! does not have: a temporary folder, an `Event` between processes (a file), timing.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A folder removed when dropped (by the process that made it: children `_exit`).
pub struct TempDir(PathBuf);

static COUNT: AtomicUsize = AtomicUsize::new(0);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("mp-cpython-{}-{n}-{tag}", std::process::id()));
        std::fs::create_dir_all(&path).expect("creating a temporary folder");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path in the folder, as a `String` (it travels to spawned children).
    pub fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `multiprocessing.Event`, as a file: set when it exists. Its path crosses any start method.
pub fn event_set(path: &str) {
    std::fs::write(path, b"").expect("setting the event");
}

pub fn event_is_set(path: &str) -> bool {
    Path::new(path).exists()
}

/// Waits until the event is set or `timeout` passed; returns whether it is set.
pub fn event_wait(path: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while !event_is_set(path) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// The lines of a file (empty if it does not exist).
pub fn lines(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Appends one line with a single `write` (`O_APPEND`): lines of several processes never mix.
pub fn append_line(path: &str, line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("opening for append");
    f.write_all(format!("{line}\n").as_bytes())
        .expect("appending a line");
}

/// Waits until the file has at least `n` lines (or `timeout`); returns its lines.
pub fn wait_lines(path: &str, n: usize, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let l = lines(path);
        if l.len() >= n || Instant::now() > deadline {
            return l;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `f` and tells how long it took (CPython's `TimingWrapper`).
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

/// CPython checks that a non-blocking call took ~0 s; here, well under a second (a loaded
/// machine with two cores).
pub const ALMOST_ZERO: Duration = Duration::from_millis(500);

/// Open file descriptors of the calling process (`os_helper.fd_count()`).
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// The pid of this process's forkserver zygote, found by its argv marker.
pub fn zygote_pid() -> Option<i32> {
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let ppid = rest.split(' ').nth(1).unwrap_or("");
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == me
            && cmdline
                .windows(28)
                .any(|w| w == b"--multiprocessing.forkserver")
        {
            return Some(pid);
        }
    }
    None
}
