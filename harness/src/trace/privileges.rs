//! Who the command runs as, where, and whether its file can be run at all.
//!
//! As root, a submission runs as an unprivileged user (default `nobody`) in a private
//! working directory: it then cannot signal the grader (kill(2): the sender's uid must
//! match the target's) nor write into the grader's files. The command is resolved here,
//! before fork, so a missing or non-executable command is a clear error (exit status 2)
//! instead of an exec failure inside the child.

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{AccessFlags, Gid, Uid, User, access};

use super::caps;
use super::error::TraceError;
use super::options::RunAs;
use crate::ledger::Layer;

/// The user a run drops to.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub uid: Uid,
    pub gid: Gid,
    pub name: String,
}

/// Find the program to exec: `name` itself if it has a `/` (made absolute: the child
/// may change directory), else the first executable file of that name in `path_var`.
pub(crate) fn resolve_command(name: &str, path_var: Option<&OsStr>) -> Result<PathBuf, TraceError> {
    if name.is_empty() {
        return Err(TraceError::EmptyCommand);
    }
    if name.contains('/') {
        let path =
            std::path::absolute(name).map_err(|_| TraceError::CommandNotFound(name.into()))?;
        return check_executable(&path).map(|()| path);
    }
    let mut not_executable = None;
    for dir in std::env::split_paths(path_var.unwrap_or_else(|| OsStr::new("/usr/bin:/bin"))) {
        let candidate = dir.join(name);
        if !candidate.exists() {
            continue;
        }
        match check_executable(&candidate) {
            Ok(()) => return Ok(std::path::absolute(&candidate).unwrap_or(candidate)),
            Err(e) => not_executable = not_executable.or(Some(e)),
        }
    }
    Err(not_executable.unwrap_or_else(|| TraceError::CommandNotFound(name.into())))
}

fn check_executable(path: &Path) -> Result<(), TraceError> {
    let not_exec = |reason: &str| TraceError::NotExecutable {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TraceError::CommandNotFound(path.display().to_string()));
        }
        Err(e) => return Err(not_exec(&e.to_string())),
    };
    if meta.is_dir() {
        return Err(not_exec("is a directory"));
    }
    if !meta.is_file() {
        return Err(not_exec("not a regular file"));
    }
    // access(2) with X_OK succeeds for root only if some execute bit is set.
    if meta.permissions().mode() & 0o111 == 0 || access(path, AccessFlags::X_OK).is_err() {
        return Err(not_exec("permission denied (no execute permission)"));
    }
    Ok(())
}

/// Look up a user by name or numeric uid.
pub(crate) fn lookup_user(spec: &str) -> Result<Identity, TraceError> {
    let user = match spec.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(spec),
    }
    .ok()
    .flatten()
    .ok_or_else(|| TraceError::UnknownUser(spec.into()))?;
    Ok(Identity {
        uid: user.uid,
        gid: user.gid,
        name: user.name,
    })
}

/// Can `who` execute `path` (every directory on the way searchable, the file executable,
/// and readable if it is a `#!` script)? `Err` says what is in the way.
pub(crate) fn reachable(path: &Path, who: &Identity) -> Result<(), String> {
    let real = fs::canonicalize(path).map_err(|e| e.to_string())?;
    let allowed = |meta: &fs::Metadata, bits: u32| -> bool {
        let mode = meta.mode();
        if meta.uid() == who.uid.as_raw() {
            mode & (bits << 6) == bits << 6
        } else if meta.gid() == who.gid.as_raw() {
            mode & (bits << 3) == bits << 3
        } else {
            mode & bits == bits
        }
    };
    for dir in real.ancestors().skip(1) {
        let meta = fs::metadata(dir).map_err(|e| e.to_string())?;
        if !allowed(&meta, 0o1) {
            return Err(format!(
                "{} is not searchable (mode {:o})",
                dir.display(),
                meta.mode() & 0o7777
            ));
        }
    }
    let meta = fs::metadata(&real).map_err(|e| e.to_string())?;
    if !allowed(&meta, 0o1) {
        return Err(format!("{} is not executable by it", real.display()));
    }
    let mut head = [0u8; 2];
    let is_script = fs::File::open(&real)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"#!");
    if is_script && !allowed(&meta, 0o4) {
        return Err(format!("{} is a script it cannot read", real.display()));
    }
    Ok(())
}

/// Why the run cannot switch to another user here, if it cannot: switching needs
/// CAP_SETUID and CAP_SETGID, giving it its working directory CAP_CHOWN, and tracing a
/// process of another user CAP_SYS_PTRACE (ptrace(2), "Ptrace access mode checking": in
/// a container without it, PTRACE_SEIZE fails with EPERM, and so would reading the
/// tracee's memory). Decided from the effective capabilities, not from the uid.
pub(crate) fn cannot_switch() -> Option<String> {
    caps::missing(&[
        caps::CAP_SETUID,
        caps::CAP_SETGID,
        caps::CAP_CHOWN,
        caps::CAP_SYS_PTRACE,
    ])
    .map(|cap| match cap {
        caps::CAP_SYS_PTRACE => {
            "no CAP_SYS_PTRACE to trace another user's processes (ptrace: EPERM)".to_string()
        }
        cap => format!("no {} to switch user", caps::name(cap)),
    })
}

/// Decide whom the command runs as. Returns the identity to drop to (None: stay) and
/// the `uid` layer.
pub(crate) fn choose_identity(
    run_as: &RunAs,
    program: &Path,
) -> Result<(Option<Identity>, Layer), TraceError> {
    let layer = |active: bool, detail: String| Layer {
        name: "uid".into(),
        active,
        detail,
    };
    let is_root = Uid::effective().is_root();
    let cannot = cannot_switch();
    match run_as {
        RunAs::Current => Ok((
            None,
            layer(false, "runs as the tracer's own user (option)".into()),
        )),
        RunAs::Auto if !is_root => Ok((
            None,
            layer(false, "tracer is not root: runs as its own user".into()),
        )),
        RunAs::Auto => match cannot {
            Some(why) => Ok((None, layer(false, format!("stays root: {why}")))),
            None => {
                let who = lookup_user("nobody")?;
                match reachable(program, &who) {
                    Ok(()) => {
                        let detail = format!("runs as {} (uid {})", who.name, who.uid);
                        Ok((Some(who), layer(true, detail)))
                    }
                    Err(why) => Ok((
                        None,
                        layer(
                            false,
                            format!("stays root: {why} for {} (use --user to insist)", who.name),
                        ),
                    )),
                }
            }
        },
        RunAs::User(spec) => {
            let who = lookup_user(spec)?;
            if !is_root && who.uid == Uid::effective() {
                let detail = format!("runs as {} (uid {}), the tracer's user", who.name, who.uid);
                return Ok((None, layer(false, detail)));
            }
            if let Some(why) = cannot {
                return Err(TraceError::Setup {
                    stage: "switching user",
                    source: std::io::Error::other(format!(
                        "cannot run the command as {}: {why}",
                        who.name
                    )),
                });
            }
            reachable(program, &who).map_err(|reason| TraceError::OutOfReach {
                path: program.to_path_buf(),
                user: who.name.clone(),
                reason,
            })?;
            let detail = format!("runs as {} (uid {})", who.name, who.uid);
            Ok((Some(who), layer(true, detail)))
        }
    }
}

/// A private working directory owned by `who` (mode 0700), removed by [`Workdir::drop`].
#[derive(Debug)]
pub(crate) struct Workdir {
    pub path: PathBuf,
}

impl Workdir {
    /// A new private directory, given to `who` (None: the grader's own, e.g. for a run
    /// in its own user namespace, where it appears owned by the inner uid).
    pub(crate) fn create(who: Option<&Identity>) -> Result<Workdir, TraceError> {
        let path = nix::unistd::mkdtemp(&std::env::temp_dir().join("proclab-run-XXXXXX")).map_err(
            |e| TraceError::Setup {
                stage: "creating the private working directory",
                source: e.into(),
            },
        )?;
        let workdir = Workdir { path };
        if let Some(who) = who {
            nix::unistd::chown(&workdir.path, Some(who.uid), Some(who.gid)).map_err(|e| {
                TraceError::Setup {
                    stage: "giving the working directory to the run's user",
                    source: e.into(),
                }
            })?;
        }
        Ok(workdir)
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// With a private working directory, arguments naming files relative to the caller's
/// directory (`prog.py`) would not be found: pass those as absolute paths.
pub(crate) fn absolutize_args(args: &[String]) -> Vec<String> {
    args.iter()
        .map(|arg| {
            let path = Path::new(arg);
            if !arg.starts_with('-') && path.is_relative() && path.exists() {
                std::path::absolute(path).map_or_else(|_| arg.clone(), |p| p.display().to_string())
            } else {
                arg.clone()
            }
        })
        .collect()
}
