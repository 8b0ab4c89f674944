//! The program's view of the file system: everything read-only but its working
//! directory, and a private `/dev/shm`.
//!
//! Why: a submission that stays root (its interpreter lives under a mode-0700 `/root`,
//! as pyenv's does) owns every root-owned file, so dropping capabilities alone does not
//! stop it writing into another student's folder, the grader's output folder or `/tmp`.
//! A private mount namespace (mount_namespaces(7)) whose mounts are all read-only stops
//! it whatever its uid, and costs one unshare and a few mount calls per run.
//!
//! In the child, before the uid change (it needs CAP_SYS_ADMIN):
//! 1. `unshare(CLONE_NEWNS)`, then make every mount private, so nothing propagates back
//!    to the grader's namespace (mount(2), MS_PRIVATE).
//! 2. Bind-mount the writable directory onto itself, so it is a mount of its own.
//! 3. `mount_setattr(/, AT_RECURSIVE, MOUNT_ATTR_RDONLY)` (mount_setattr(2), Linux 5.12),
//!    then clear the flag on the writable directory's mount.
//! 4. A fresh tmpfs on `/dev/shm` (POSIX semaphores and shared memory: Python's
//!    `multiprocessing.Lock` and `Queue` need it), capped in size.
//! 5. `chdir` to the writable directory again: the inherited working directory is the
//!    one on the read-only mount underneath the bind mount.
//!
//! Temporary files go to the working directory: the run's environment sets `TMPDIR` to
//! it. Device nodes (`/dev/null`) stay writable: a read-only mount only refuses writes to
//! regular files, directories and links.

use std::ffi::CString;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};

use super::error::TraceError;
use super::spawn::cstring;

/// Size cap of the private `/dev/shm`.
const SHM_OPTIONS: &str = "size=64m,mode=1777";

/// Paths and options for [`FsView::enter`], built before fork.
#[derive(Debug)]
pub(crate) struct FsView {
    writable: CString,
    root: CString,
    shm: CString,
    tmpfs: CString,
    shm_options: CString,
}

impl FsView {
    /// A view where only `writable` (an existing directory) can be written.
    pub(crate) fn new(writable: &Path) -> Result<FsView, TraceError> {
        Ok(FsView {
            writable: cstring("the writable directory", writable)?,
            root: cstring("/", "/")?,
            shm: cstring("/dev/shm", "/dev/shm")?,
            tmpfs: cstring("tmpfs", "tmpfs")?,
            shm_options: cstring("tmpfs options", SHM_OPTIONS)?,
        })
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
        mount(
            Some(self.writable.as_c_str()),
            self.writable.as_c_str(),
            none,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            none,
        )?;
        mount_setattr(&self.root, libc::MOUNT_ATTR_RDONLY, 0)?;
        mount_setattr(&self.writable, 0, libc::MOUNT_ATTR_RDONLY)?;
        mount(
            Some(self.tmpfs.as_c_str()),
            self.shm.as_c_str(),
            Some(self.tmpfs.as_c_str()),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(self.shm_options.as_c_str()),
        )?;
        // The inherited working directory still names the directory on the read-only
        // mount below the new bind mount: enter it again through its path.
        nix::unistd::chdir(self.writable.as_c_str())
    }
}

/// mount_setattr(2) on `path` and every mount below it. nix has no wrapper for it.
fn mount_setattr(path: &CString, set: u64, clear: u64) -> Result<(), Errno> {
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
            libc::AT_RECURSIVE as libc::c_uint,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(rc).map(drop)
}
