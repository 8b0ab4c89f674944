//! The hardening tests' scratch folder: a temp dir every user can enter, with a FIFO the
//! submission appends its pids to, read on a thread of the test.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// A temp dir every user can enter, with the pids file every user can append to.
pub struct Scratch {
    dir: tempfile::TempDir,
    /// A FIFO the submission appends its pids to: the run's file system is read-only but
    /// for its working directory, and a FIFO (like a device) stays writable there.
    pub pids: PathBuf,
    /// What came through the FIFO so far.
    noted: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Scratch {
    pub fn new() -> Scratch {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let pids = dir.path().join("pids");
        let noted = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let scratch = Scratch { dir, pids, noted };
        scratch.listen(&scratch.pids);
        scratch
    }

    /// A FIFO at `path` whose lines are noted with the others.
    pub fn listen(&self, path: &Path) {
        use std::io::Read;
        use std::os::unix::fs::PermissionsExt;
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).unwrap();
        // Read and write: the reader never sees end-of-file between writers, and a
        // writer's open never blocks for want of a reader.
        let mut fifo = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        let sink = std::sync::Arc::clone(&self.noted);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // A note is one write shorter than PIPE_BUF: each read holds whole lines.
            while let Ok(n) = fifo.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The pids written so far, with their tags.
    pub fn noted(&self) -> Vec<(i32, String)> {
        self.noted
            .lock()
            .unwrap()
            .lines()
            .filter_map(|l| {
                let (pid, tag) = l.split_once(' ')?;
                Some((pid.parse().ok()?, tag.to_string()))
            })
            .collect()
    }

    /// Wait until `n` pids were noted (the submission is fully up).
    pub fn wait_for(&self, n: usize, child: &mut Child) -> Vec<i32> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let noted = self.noted();
            if noted.len() >= n {
                return noted.into_iter().map(|(p, _)| p).collect();
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("proclab ended before the submission was up: {status}");
            }
            assert!(Instant::now() < deadline, "only {noted:?} after 60 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
