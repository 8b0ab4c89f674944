//! The program's view of the file system: everything read-only but its working
//! directory, and a private `/dev/shm`.
//!
//! Why: a submission that stays root (its interpreter lives under a mode-0700 `/root`,
//! as pyenv's does) owns every root-owned file, so dropping capabilities alone does not
//! stop it writing into another student's folder, the grader's output folder or `/tmp`.
//! A private mount namespace (mount_namespaces(7)) whose mounts are all read-only stops
//! it whatever its uid, and costs one unshare and a few mount calls per run.
//!
//! In the child, before the uid change (it needs CAP_SYS_ADMIN, in the grader's user
//! namespace or in the run's own, `userns.rs`):
//! 1. `unshare(CLONE_NEWNS)`, then make every mount private, so nothing propagates back
//!    to the grader's namespace (mount(2), MS_PRIVATE).
//! 2. Bind-mount the writable directory onto itself, so it is a mount of its own.
//! 3. `mount_setattr(/, AT_RECURSIVE, MOUNT_ATTR_RDONLY)` (mount_setattr(2), Linux 5.12),
//!    then clear the flag on the writable directory's mount.
//! 4. A fresh tmpfs on `/dev/shm` (POSIX semaphores and shared memory: Python's
//!    `multiprocessing.Lock` and `Queue` need it), capped in size.
//! 5. `chdir` to the writable directory again (the child does, after the uid change):
//!    the inherited working directory is the one on the read-only mount underneath.
//!
//! Hiding: directories the program must not even read (the other students' folders of
//! a class, the grader's output folder) are covered with an empty tmpfs before step 3.
//! Paths inside them that the program needs (its own folder, its working directory) are
//! cloned beforehand with open_tree(2) and moved back on top with move_mount(2).
//!
//! A private `/tmp`: the host's `/tmp` is covered the same way, but with a writable,
//! size-capped tmpfs (like `/dev/shm`), so a run can neither read nor write other runs'
//! or other users' files there. What the run needs from the host's `/tmp` is exposed
//! again at the same path, read-only: its working directory (writable, as everywhere),
//! the program's folder, the script's folder (the first argument, for an interpreter)
//! and every other argument that names an existing path (`needed_paths`). The run's
//! environment sets `TMPDIR` to `/tmp` then (to the working directory without it).
//! Device nodes (`/dev/null`) stay writable: a read-only mount only refuses writes to
//! regular files, directories and links.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};

use super::error::TraceError;
use super::spawn::cstring;

/// Size cap of the private `/dev/shm`.
const SHM_OPTIONS: &str = "size=64m,mode=1777";
/// What covers a hidden directory: an empty tmpfs (read-only after step 3).
const COVER_OPTIONS: &str = "size=1m,mode=0755";
/// The private `/tmp`: writable by everyone (sticky), capped in size and inodes.
const TMP_OPTIONS: &str = "size=64m,nr_inodes=16384,mode=1777";
/// The directory a run gets privately.
pub(crate) const TMP: &str = "/tmp";
/// At most this many paths can be exposed inside hidden directories (the child keeps
/// their descriptors on its stack: no allocation after fork).
pub(crate) const MAX_EXPOSED: usize = 16;

/// A path put back inside a hidden directory.
#[derive(Debug)]
struct Exposed {
    path: CString,
    /// Directories to create in the cover, outermost first, ending with `path` (with
    /// its parent when `file`: then `path` itself is created as an empty file).
    mkdirs: Vec<CString>,
    file: bool,
}

/// Paths and options for [`FsView::enter`], built before fork.
#[derive(Debug)]
pub(crate) struct FsView {
    writable: CString,
    hidden: Vec<CString>,
    exposed: Vec<Exposed>,
    cover_options: CString,
    empty: CString,
    root: CString,
    shm: CString,
    tmpfs: CString,
    shm_options: CString,
    /// The private `/tmp`, if the run has one.
    tmp: Option<CString>,
    tmp_options: CString,
}

impl FsView {
    /// A view where only `writable` (an existing directory) can be written, `hide`
    /// (directories) cannot be read, except `expose` (directories) and `writable`. With
    /// `private_tmp`, the host's `/tmp` is replaced by an empty writable tmpfs, in which
    /// `writable`, `expose` and `needed` (paths the program needs, from `needed_paths`)
    /// stay visible; `needed` paths inside a directory of `hide` stay hidden.
    pub(crate) fn new(
        writable: &Path,
        hide: &[PathBuf],
        expose: &[PathBuf],
        needed: &[PathBuf],
        private_tmp: bool,
    ) -> Result<FsView, TraceError> {
        let absolute = |p: &Path| {
            std::path::absolute(p).map_err(TraceError::setup("resolving a hidden or exposed path"))
        };
        let mut hide: Vec<PathBuf> = hide.iter().map(|p| absolute(p)).collect::<Result<_, _>>()?;
        // A folder inside another hidden one is hidden already (and its mount point is
        // gone under the cover); a folder that does not exist has nothing to hide.
        hide.retain(|h| h.is_dir());
        let user_hidden = hide.clone();
        let tmp = Path::new(TMP);
        // Only a real directory (not a symbolic link) that no hidden folder covers.
        let tmp = (private_tmp
            && std::fs::symlink_metadata(tmp).is_ok_and(|m| m.is_dir())
            && !hide.iter().any(|h| tmp.starts_with(h)))
        .then_some(tmp);
        hide.extend(tmp.map(Path::to_path_buf));
        let all = hide.clone();
        hide.retain(|h| !all.iter().any(|other| h != other && h.starts_with(other)));
        hide.dedup();
        let mut wanted: Vec<PathBuf> = expose
            .iter()
            .map(|p| absolute(p))
            .chain([absolute(writable)])
            .collect::<Result<_, _>>()?;
        if let Some(tmp) = tmp {
            for path in needed {
                let path = absolute(path)?;
                if path.starts_with(tmp) && !user_hidden.iter().any(|h| path.starts_with(h)) {
                    wanted.push(path);
                }
            }
        }
        // A path inside another exposed one comes back with it (the clone is recursive).
        let all = wanted.clone();
        wanted.retain(|w| !all.iter().any(|other| w != other && w.starts_with(other)));
        wanted.sort();
        wanted.dedup();
        let mut exposed = Vec::new();
        for path in wanted {
            let Some(cover) = hide.iter().find(|h| path.starts_with(h) && path != **h) else {
                continue;
            };
            let file = !path.is_dir();
            let mut mkdirs = Vec::new();
            let mut prefix = cover.clone();
            for part in path
                .strip_prefix(cover)
                .into_iter()
                .flat_map(|rest| rest.components())
            {
                prefix.push(part);
                mkdirs.push(cstring("an exposed path", &prefix)?);
            }
            if file {
                mkdirs.pop();
            }
            exposed.push(Exposed {
                path: cstring("an exposed path", &path)?,
                mkdirs,
                file,
            });
        }
        if exposed.len() > MAX_EXPOSED && tmp.is_some() {
            // Too many paths the program needs in /tmp: the host's /tmp it is (the
            // layer's detail then names no private /tmp).
            return FsView::new(writable, &user_hidden, expose, needed, false);
        }
        if exposed.len() > MAX_EXPOSED {
            return Err(TraceError::setup(
                "exposing paths inside hidden directories",
            )(std::io::Error::other(format!(
                "more than {MAX_EXPOSED} paths"
            ))));
        }
        Ok(FsView {
            writable: cstring("the writable directory", writable)?,
            hidden: hide
                .iter()
                .filter(|h| Some(h.as_path()) != tmp)
                .map(|h| cstring("a hidden directory", h))
                .collect::<Result<_, _>>()?,
            exposed,
            cover_options: cstring("tmpfs options", COVER_OPTIONS)?,
            empty: cstring("empty path", "")?,
            root: cstring("/", "/")?,
            shm: cstring("/dev/shm", "/dev/shm")?,
            tmpfs: cstring("tmpfs", "tmpfs")?,
            shm_options: cstring("tmpfs options", SHM_OPTIONS)?,
            tmp: tmp.map(|t| cstring("/tmp", t)).transpose()?,
            tmp_options: cstring("tmpfs options", TMP_OPTIONS)?,
        })
    }

    /// Does the run get a private `/tmp`?
    pub(crate) fn private_tmp(&self) -> bool {
        self.tmp.is_some()
    }

    /// Enter the view. Async-signal-safe: raw syscalls on data built by [`FsView::new`].
    pub(crate) fn enter(&self) -> Result<(), Errno> {
        unshare(CloneFlags::CLONE_NEWNS)?;
        let none: Option<&std::ffi::CStr> = None;
        mount(
            none,
            self.root.as_c_str(),
            none,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            none,
        )?;
        self.hide()?;
        mount(
            Some(self.writable.as_c_str()),
            self.writable.as_c_str(),
            none,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            none,
        )?;
        mount_setattr(&self.root, libc::MOUNT_ATTR_RDONLY, 0)?;
        mount_setattr(&self.writable, 0, libc::MOUNT_ATTR_RDONLY)?;
        if let Some(tmp) = &self.tmp {
            // The tmpfs alone: the paths exposed inside it stay read-only.
            mount_setattr_flags(tmp, 0, libc::MOUNT_ATTR_RDONLY, 0)?;
        }
        mount(
            Some(self.tmpfs.as_c_str()),
            self.shm.as_c_str(),
            Some(self.tmpfs.as_c_str()),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(self.shm_options.as_c_str()),
        )
        .map(drop)
    }

    /// The writable directory. The inherited working directory still names the
    /// directory on the read-only mount below the bind mount: the child enters it again
    /// through this path, after the uid change (a container's root without
    /// CAP_DAC_OVERRIDE cannot enter a private directory given to `nobody`).
    pub(crate) fn writable(&self) -> &std::ffi::CStr {
        &self.writable
    }
}

impl FsView {
    /// Cover the hidden directories, then put the exposed paths back. Async-signal-safe.
    fn hide(&self) -> Result<(), Errno> {
        let mut clones = [-1; MAX_EXPOSED];
        for (slot, exposed) in clones.iter_mut().zip(&self.exposed) {
            // SAFETY: open_tree(2) with a valid C string; returns a new descriptor.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_open_tree,
                    libc::AT_FDCWD,
                    exposed.path.as_ptr(),
                    libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as u32,
                )
            };
            *slot = Errno::result(fd)? as i32;
        }
        let tmp = self.tmp.iter().map(|t| (t, &self.tmp_options));
        for (hidden, options) in self
            .hidden
            .iter()
            .map(|h| (h, &self.cover_options))
            .chain(tmp)
        {
            mount(
                Some(self.tmpfs.as_c_str()),
                hidden.as_c_str(),
                Some(self.tmpfs.as_c_str()),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(options.as_c_str()),
            )?;
        }
        for (&fd, exposed) in clones.iter().zip(&self.exposed) {
            for dir in &exposed.mkdirs {
                match nix::unistd::mkdir(
                    dir.as_c_str(),
                    nix::sys::stat::Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e),
                }
            }
            if exposed.file {
                // A file is mounted onto a file.
                let fd = nix::fcntl::open(
                    exposed.path.as_c_str(),
                    OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::from_bits_truncate(0o644),
                )?;
                drop(fd);
            }
            // SAFETY: move_mount(2) of the detached tree `fd` onto a directory we made.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_move_mount,
                    fd,
                    self.empty.as_ptr(),
                    libc::AT_FDCWD,
                    exposed.path.as_ptr(),
                    libc::MOVE_MOUNT_F_EMPTY_PATH,
                )
            };
            Errno::result(rc)?;
            let _ = nix::unistd::close(fd);
        }
        Ok(())
    }
}

/// mount_setattr(2) on `path` and every mount below it. nix has no wrapper for it.
pub(crate) fn mount_setattr(path: &CString, set: u64, clear: u64) -> Result<(), Errno> {
    mount_setattr_flags(path, set, clear, libc::AT_RECURSIVE as libc::c_uint)
}

/// mount_setattr(2) with `flags` (0: the mount at `path` alone).
fn mount_setattr_flags(
    path: &CString,
    set: u64,
    clear: u64,
    flags: libc::c_uint,
) -> Result<(), Errno> {
    // SAFETY: an all-zero mount_attr is valid; the fields are plain integers.
    let mut attr: libc::mount_attr = unsafe { std::mem::zeroed() };
    attr.attr_set = set;
    attr.attr_clr = clear;
    // SAFETY: `path` is a valid C string and `attr` lives across the call, whose size
    // argument is the struct's size (MOUNT_ATTR_SIZE_VER0).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(rc).map(drop)
}

/// The paths in the host's `/tmp` a run needs to see at the same place in its private
/// one: the program's folder, the script's folder (the first argument, when it is a
/// file: an interpreter's script, whose sibling modules it imports) and every other
/// argument that names an existing path. Relative arguments are taken from `cwd`. A file
/// directly in `/tmp` is exposed alone, not `/tmp` itself.
pub(crate) fn needed_paths(program: &Path, args: &[String], cwd: &Path) -> Vec<PathBuf> {
    let folder_of = |file: &Path| match file.parent() {
        Some(dir) if dir != Path::new(TMP) && dir != Path::new("") => dir.to_path_buf(),
        _ => file.to_path_buf(),
    };
    let mut needed = vec![folder_of(program)];
    for (i, arg) in args.iter().enumerate() {
        if arg.starts_with('-') {
            continue;
        }
        // Canonical: no `..` may climb out of the exposed path.
        let Ok(path) = std::fs::canonicalize(cwd.join(arg)) else {
            continue;
        };
        if i == 0 && path.is_file() {
            needed.push(folder_of(&path));
        } else {
            needed.push(path);
        }
    }
    needed
}

#[cfg(test)]
#[path = "fsview_tests.rs"]
mod tests;
