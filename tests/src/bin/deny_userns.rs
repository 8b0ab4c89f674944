//! `deny_userns PROGRAM ARGS…`: run PROGRAM where no user namespace can be made, as
//! under Docker's default seccomp profile. unshare(2) and clone(2) with CLONE_NEWUSER
//! fail with EPERM; clone3(2), whose flags live in memory a filter cannot read, fails
//! with ENOSYS, so callers fall back to clone (glibc does; Docker does the same).

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

fn filter(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32) -> BpfProgram {
    let arch = TargetArch::try_from(std::env::consts::ARCH).expect("a seccompiler target");
    SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        arch,
    )
    .and_then(BpfProgram::try_from)
    .expect("a valid filter")
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: deny_userns PROGRAM [ARGS…]");
        std::process::exit(2);
    };
    let newuser = libc::CLONE_NEWUSER as u64;
    let with_newuser = || {
        let cond = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(newuser),
            newuser,
        )
        .expect("a condition");
        vec![SeccompRule::new(vec![cond]).expect("a rule")]
    };
    let newuser_rules = BTreeMap::from([
        (libc::SYS_unshare, with_newuser()),
        (libc::SYS_clone, with_newuser()),
    ]);
    let clone3 = BTreeMap::from([(libc::SYS_clone3, Vec::new())]);
    for program in [
        filter(newuser_rules, libc::EPERM),
        filter(clone3, libc::ENOSYS),
    ] {
        seccompiler::apply_filter(&program).expect("installing the seccomp filter");
    }
    let err = std::process::Command::new(program).args(rest).exec();
    eprintln!(
        "deny_userns: cannot run {}: {err}",
        program.to_string_lossy()
    );
    std::process::exit(127);
}
