//! The child's spec from a prepared run: every C string and descriptor the child needs,
//! built before fork (the child may not allocate; see `spawn.rs`).

use std::os::fd::{AsFd, OwnedFd};

use seccompiler::BpfProgram;

use super::cgroup::Joins;
use super::error::TraceError;
use super::prepare::Prepared;
use super::spawn::{ChildSpec, cstring};

/// `stdio`: the program's stdin, stdout and stderr.
pub(crate) fn build<'a>(
    p: &'a Prepared,
    joins: &'a Joins,
    filters: Vec<BpfProgram>,
    stdio: [OwnedFd; 3],
) -> Result<ChildSpec<'a>, TraceError> {
    let [stdin, stdout, stderr] = stdio;
    let env = |(k, v): &(std::ffi::OsString, std::ffi::OsString)| {
        let mut kv = k.clone();
        kv.push("=");
        kv.push(v);
        cstring("the environment", &kv)
    };
    Ok(ChildSpec {
        program: cstring("the program path", &p.program)?,
        argv: p
            .argv
            .iter()
            .map(|a| cstring("an argument", a))
            .collect::<Result<_, _>>()?,
        envp: p.env.iter().map(env).collect::<Result<_, _>>()?,
        cwd: match (&p.opts.cwd, &p.workdir) {
            (Some(dir), _) => Some(cstring("the working directory", dir)?),
            (None, Some(w)) => Some(cstring("the working directory", &w.path)?),
            (None, None) => None,
        },
        identity: p.identity.as_ref().map(|who| (who.uid, who.gid)),
        drop_caps: p.drop_caps,
        fs_view: p.fs_view.as_ref(),
        netns: p.netns.as_ref().map(|ns| ns.fd()),
        userns: p.sandbox.as_ref().map(|s| s.user_fd()),
        nproc: p.nproc,
        cgroup_tasks: &joins.tasks,
        into_cgroup: joins.v2.as_ref().map(|fd| fd.as_fd()),
        pidns: p.pidns,
        fixed_addresses: p.opts.clock == super::vclock::ClockMode::Virtual,
        filters,
        stdin,
        stdout,
        stderr,
    })
}
