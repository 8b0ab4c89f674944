//! Preparing a run on the caller's thread: everything that can fail with a clear
//! message (a missing command, an unknown user, no network namespace when one is
//! required) fails here, before any process exists.

use std::ffi::OsString;
use std::sync::Arc;

use super::caps;
use super::cgroup::Cgroups;
use super::error::TraceError;
use super::fsview::FsView;
use super::netns::Netns;
use super::options::{NetnsMode, RunAs, TraceOptions};
use super::privileges::{self, Workdir};
use super::timings::Timings;
use super::userns::Sandbox;
use crate::ledger::Layer;

/// Everything prepared before the tracer thread starts.
pub(crate) struct Prepared {
    pub opts: TraceOptions,
    pub program: std::path::PathBuf,
    pub argv: Vec<String>,
    pub env: Vec<(OsString, OsString)>,
    pub identity: Option<privileges::Identity>,
    pub workdir: Option<Workdir>,
    pub netns: Option<Arc<Netns>>,
    /// The run's user namespace (with its network namespace), when it has one.
    pub sandbox: Option<Arc<Sandbox>>,
    /// RLIMIT_NPROC for the program (only in its own user namespace: see `prepare_rest`).
    pub nproc: Option<u64>,
    pub layers: Vec<Layer>,
    /// The program would run as uid 0: exec it without capabilities.
    pub drop_caps: bool,
    /// Everything read-only but the working directory (root only).
    pub fs_view: Option<FsView>,
    /// Run the program in a pid namespace of its own (`pidns.rs`).
    pub pidns: bool,
    /// The run's cgroups (made on a helper thread while the rest was prepared).
    pub cgroups: Cgroups,
    pub timings: Timings,
}

pub(crate) fn layer(name: &str, active: bool, detail: impl Into<String>) -> Layer {
    Layer {
        name: name.into(),
        active,
        detail: detail.into(),
    }
}

/// Resolve the command, pick the user, make the namespace and the cgroups. The
/// namespace and the cgroups (each ~0.5–1 ms of kernel work) are made on helper threads
/// meanwhile; both are waited for before this returns, also on error (then they are
/// removed again), so nothing is left behind.
///
/// Namespaces come from one of two places: the grader itself, when it has
/// CAP_SYS_ADMIN (and a mount namespace probe works), or else a user namespace of the
/// run's own (`userns.rs`), where the kernel lets this user make one. Each layer that
/// neither gives is reported off with both reasons.
pub(crate) fn prepare(opts: TraceOptions, mut timings: Timings) -> Result<Prepared, TraceError> {
    let can_netns = caps::has(caps::CAP_SYS_ADMIN);
    let fs_priv = if opts.readonly_fs {
        caps::private_mounts()
    } else {
        Err("option".to_string())
    };
    // An explicit --user switches uid, which a user namespace mapping only the
    // grader's own uid cannot do.
    let want_userns = opts.userns
        && !matches!(opts.run_as, RunAs::User(_))
        && ((opts.netns != NetnsMode::Off && !can_netns) || (opts.readonly_fs && fs_priv.is_err()));
    let netns_job = match opts.netns {
        NetnsMode::Off => None,
        _ if want_userns => None,
        NetnsMode::Auto if !can_netns => None,
        _ => Some(Netns::create_in_background()),
    };
    let (limits, mode) = (opts.limits.clone(), opts.cgroup);
    let fallback_limits = limits.clone();
    let cgroups_job = std::thread::Builder::new()
        .name("proclab-cgroups".into())
        .spawn(move || Cgroups::create(&limits, mode));
    let sandbox = want_userns.then(Sandbox::create);
    let userns_why = match &sandbox {
        Some(Err(e)) => format!("no user namespace ({e})"),
        _ => String::new(),
    };
    let sandbox = sandbox.and_then(Result::ok).map(Arc::new);
    let fs = match (&sandbox, fs_priv) {
        (Some(s), Err(_)) => s.mounts.clone().map(|()| true),
        (_, Ok(())) => Ok(false),
        (None, Err(why)) if want_userns => Err(format!("{why}; {userns_why}")),
        (None, Err(why)) => Err(why),
    };
    let pidns = match &sandbox {
        _ if !opts.pidns => Err("the host's pids (option)".to_string()),
        Some(s) => s.pids.clone().map(|()| " (in the run's user namespace)"),
        None if can_netns => caps::private_pids().map(|()| ""),
        None if !userns_why.is_empty() => Err(format!("no CAP_SYS_ADMIN; {userns_why}")),
        None => Err("no CAP_SYS_ADMIN and no user namespace of the run's own".to_string()),
    }
    .map_err(|why| match why.strip_prefix("the host's") {
        Some(_) => why,
        None => format!("the host's pids: {why}"),
    });
    let rest = prepare_rest(opts, &mut timings, sandbox.as_deref(), fs);
    let netns = netns_job.map(|job| job.join());
    let cgroups = match cgroups_job {
        Ok(job) => job.join().unwrap_or_default(),
        Err(_) => Cgroups::create(&fallback_limits, mode),
    };
    timings.mark("netns+cgroups-wait");
    let mut p = rest?;
    if let Some(s) = &sandbox {
        p.layers.push(layer(
            "userns",
            true,
            format!(
                "own user namespace: uid {} inside is uid {} outside",
                s.inner_uid, s.outer_uid
            ),
        ));
    } else if want_userns {
        p.layers.push(layer("userns", false, userns_why.clone()));
    }
    p.netns = match (netns, sandbox.clone()) {
        (_, _) if p.opts.netns == NetnsMode::Off => {
            p.layers
                .push(layer("netns", false, "host network (option)"));
            None
        }
        (_, Some(s)) => {
            p.layers.push(layer(
                "netns",
                true,
                "private namespace (in the run's user namespace), loopback only",
            ));
            Some(Arc::new(Netns::InUserns(s)))
        }
        (None, None) if want_userns && p.opts.netns == NetnsMode::On => {
            return Err(TraceError::setup("creating the network namespace")(
                std::io::Error::other(userns_why),
            ));
        }
        (None, None) => {
            let why = if want_userns {
                format!("host network: no CAP_SYS_ADMIN; {userns_why}")
            } else {
                "host network: no CAP_SYS_ADMIN".to_string()
            };
            p.layers.push(layer("netns", false, why));
            None
        }
        (Some(Ok(ns)), _) => {
            p.layers
                .push(layer("netns", true, "private namespace, loopback only"));
            Some(Arc::new(ns))
        }
        (Some(Err(e)), _) if p.opts.netns == NetnsMode::Auto => {
            p.layers
                .push(layer("netns", false, format!("host network: {e}")));
            None
        }
        (Some(Err(e)), _) => return Err(TraceError::setup("creating the network namespace")(e)),
    };
    p.pidns = pidns.is_ok();
    p.layers.push(match pidns {
        Ok(inside) => layer(
            "pidns",
            true,
            format!("own pid namespace{inside}: its end kills whatever is left"),
        ),
        Err(why) => layer("pidns", false, why),
    });
    p.sandbox = sandbox;
    p.cgroups = cgroups;
    p.timings = timings;
    Ok(p)
}

/// `sandbox`: the run's user namespace, if it has one. `fs`: can the file system be
/// made read-only (`Ok(true)`: inside the user namespace), or why not.
fn prepare_rest(
    opts: TraceOptions,
    timings: &mut Timings,
    sandbox: Option<&Sandbox>,
    fs: Result<bool, String>,
) -> Result<Prepared, TraceError> {
    let first = opts.command.first().ok_or(TraceError::EmptyCommand)?;
    let path_var = opts
        .extra_env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| OsString::from(v))
        .or_else(|| std::env::var_os("PATH"));
    let program = privileges::resolve_command(first, path_var.as_deref())?;
    let mut layers = Vec::new();
    let (identity, uid_layer) = match sandbox {
        Some(s) => (
            None,
            layer(
                "uid",
                false,
                format!(
                    "the grader's own (uid {} outside): its user namespace maps only that",
                    s.outer_uid
                ),
            ),
        ),
        None => privileges::choose_identity(&opts.run_as, &program)?,
    };
    layers.push(uid_layer);
    let workdir = match (&opts.cwd, &identity) {
        (None, Some(who)) => Some(Workdir::create(Some(who))?),
        (None, None) if sandbox.is_some() => Some(Workdir::create(None)?),
        _ => None,
    };
    layers.push(match (&opts.cwd, &workdir) {
        (Some(dir), _) => layer("workdir", false, format!("given: {}", dir.display())),
        (None, Some(w)) => layer("workdir", true, format!("private: {}", w.path.display())),
        (None, None) => layer("workdir", false, "the tracer's current directory"),
    });
    let mut argv = opts.command.clone();
    if workdir.is_some() {
        let rest = privileges::absolutize_args(&argv[1..]);
        argv.truncate(1);
        argv.extend(rest);
    }

    // PYTHONUNBUFFERED=1: a Python child's print() reaches the pipe when it is called,
    // as on a terminal, instead of when a block buffer fills or the process exits. An
    // environment variable works through any launcher (shims, shells, `env`), has none
    // of a pty's side effects (echo, \r\n, job control, isatty() changing behaviour),
    // and keeps stdout and stderr apart.
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| k != "PYTHONUNBUFFERED")
        .collect();
    env.push(("PYTHONUNBUFFERED".into(), "1".into()));
    for (k, v) in &opts.extra_env {
        env.retain(|(ek, _)| ek != k.as_str());
        env.push((k.into(), v.into()));
    }

    let is_root = nix::unistd::Uid::effective().is_root();
    // Clearing the bounding set (PR_CAPBSET_DROP) needs CAP_SETPCAP. In a user
    // namespace the program has none outside it, and none inside after exec (uid != 0).
    let drop_caps =
        is_root && identity.is_none() && sandbox.is_none() && caps::has(caps::CAP_SETPCAP);
    if let Some(s) = sandbox.filter(|_| is_root) {
        layers.push(layer(
            "capabilities",
            true,
            format!("none: uid {} in its own user namespace", s.inner_uid),
        ));
    } else if drop_caps {
        // Without CAP_SYS_ADMIN it cannot leave the run's network namespace (setns),
        // without CAP_DAC_OVERRIDE it cannot read other users' files, without CAP_KILL
        // it cannot signal other users' processes.
        layers.push(layer(
            "capabilities",
            true,
            "runs as root without any capability",
        ));
    } else if is_root && identity.is_none() {
        layers.push(layer(
            "capabilities",
            false,
            "runs as root with the grader's capabilities: no CAP_SETPCAP to drop them",
        ));
    }
    // The one directory the program may write: its working directory.
    let in_userns = if fs == Ok(true) {
        " (in the run's user namespace)"
    } else {
        ""
    };
    let fs_view = if fs.is_ok() {
        let writable = match (&opts.cwd, &workdir) {
            (Some(dir), _) => std::path::absolute(dir)
                .map_err(TraceError::setup("resolving the working directory"))?,
            (None, Some(w)) => w.path.clone(),
            (None, None) => std::env::current_dir()
                .map_err(TraceError::setup("reading the current directory"))?,
        };
        let needed = super::fsview::needed_paths(&program, &argv[1..], &writable);
        let view = FsView::new(&writable, &opts.hide, &opts.expose, &needed, true)?;
        let tmp = if view.private_tmp() {
            ", a private /tmp"
        } else {
            ""
        };
        layers.push(layer(
            "fs-readonly",
            true,
            format!(
                "only {} (and a private /dev/shm{tmp}) is writable{in_userns}",
                writable.display()
            ),
        ));
        if !opts.extra_env.iter().any(|(k, _)| k == "TMPDIR") {
            // Temporary files go to the private /tmp, or else the working directory.
            let tmpdir = if view.private_tmp() {
                super::fsview::TMP.into()
            } else {
                writable.clone().into_os_string()
            };
            env.retain(|(k, _)| k != "TMPDIR");
            env.push(("TMPDIR".into(), tmpdir));
        }
        if !opts.hide.is_empty() {
            let hidden: Vec<String> = opts.hide.iter().map(|h| h.display().to_string()).collect();
            layers.push(layer(
                "hidden-dirs",
                true,
                format!("unreadable: {}", hidden.join(", ")),
            ));
        }
        Some(view)
    } else {
        let why = fs.err().unwrap_or_default();
        layers.push(layer(
            "fs-readonly",
            false,
            format!("whole file system writable: {why}"),
        ));
        None
    };
    // RLIMIT_NPROC counts a user's processes per user namespace (Linux 5.14, ucounts):
    // in the run's own namespace it counts the run's tasks only. The kernel ignores it
    // for root outside (copy_process: INIT_USER).
    let nproc = match sandbox {
        Some(s) if s.outer_uid != 0 => {
            let cap = u64::from(opts.limits.max_processes) * 2 + 8;
            layers.push(layer(
                "nproc-rlimit",
                true,
                format!("RLIMIT_NPROC {cap}, counting this run's tasks only"),
            ));
            Some(cap)
        }
        _ => None,
    };
    timings.mark("prepare");
    Ok(Prepared {
        opts,
        program,
        argv,
        env,
        identity,
        workdir,
        netns: None,
        sandbox: None,
        nproc,
        layers,
        drop_caps,
        fs_view,
        pidns: false,
        cgroups: Cgroups::default(),
        timings: Timings::off(),
    })
}
