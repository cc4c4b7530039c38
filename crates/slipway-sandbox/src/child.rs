//! What runs in the forked child between `fork` and `exec`.
//!
//! The process `std::process::Command` forks (the *keeper*) moves into new
//! namespaces, forks once more so that the step's command becomes pid 1 of
//! the new pid namespace, and then only waits for it and passes its exit code
//! on. Both have `PR_SET_PDEATHSIG = SIGKILL`, so killing the keeper (on a
//! timeout, Ctrl-C) or the slipway process itself (even with SIGKILL) kills
//! pid 1, and the kernel then kills everything else in its pid namespace; the
//! mounts, private to the namespace, vanish with it.

use std::io::{self, Write};

use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

use crate::mounts::{RootSetup, setup_root};
use crate::syscall::LinuxSyscall;

/// Identity of the user that starts the sandbox, for the user-namespace maps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Identity {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

fn nix_io(what: &str, e: nix::Error) -> io::Error {
    io::Error::new(
        io::Error::from_raw_os_error(e as i32).kind(),
        format!("{what}: {e}"),
    )
}

/// Report a setup failure on the step's output (stderr is the log pipe).
fn report(e: &io::Error) {
    let _ = writeln!(io::stderr(), "slipway-sandbox: {e}");
}

/// The body of `pre_exec`. Returns `Ok` only in the process that goes on to
/// exec the step's command (pid 1 of the new pid namespace).
pub(crate) fn enter(
    setup: &RootSetup,
    flags: CloneFlags,
    parent: Pid,
    userns: Option<Identity>,
) -> io::Result<()> {
    // Own session: a terminal's Ctrl-C reaches slipway only, which then
    // kills the step; the step never reads the terminal.
    nix::unistd::setsid().map_err(|e| nix_io("setsid", e))?;
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL)).map_err(|e| nix_io("prctl", e))?;
    if nix::unistd::getppid() != parent {
        // The parent died before prctl took effect.
        return Err(io::Error::other("slipway exited while starting the step"));
    }
    if let Some(id) = userns {
        enter_user_namespace(id).inspect_err(report)?;
    }
    nix::sched::unshare(flags)
        .map_err(|e| nix_io("unshare", e))
        .inspect_err(report)?;
    // SAFETY: we are the only thread of this freshly forked process.
    match unsafe { nix::unistd::fork() }.map_err(|e| nix_io("fork", e))? {
        ForkResult::Child => {
            nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL))
                .map_err(|e| nix_io("prctl", e))?;
            setup_root(&LinuxSyscall, setup).inspect_err(report)
        }
        ForkResult::Parent { child } => keep(child),
    }
}

/// The keeper: close everything but stdio (std's exec-error pipe among it,
/// so `spawn` returns as soon as pid 1 has exec'd), wait, pass the status on.
fn keep(child: Pid) -> ! {
    // SAFETY: closing descriptors this process no longer uses; it never returns to Rust code
    // that could own them.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    let code = loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, signal, _)) => break 128 + signal as i32,
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(_) => break 127,
        }
    };
    // SAFETY: _exit skips atexit handlers and destructors, which belong to the parent process.
    unsafe { libc::_exit(code) }
}

/// Become root in a new user namespace mapping only our own uid and gid.
fn enter_user_namespace(id: Identity) -> io::Result<()> {
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| nix_io("unshare user", e))?;
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("0 {} 1", id.uid))?;
    std::fs::write("/proc/self/gid_map", format!("0 {} 1", id.gid))?;
    Ok(())
}

/// The body of `pre_exec` for [`crate::Sandbox::run_native`]: mount the
/// overlay in a private mount namespace, run `work` on it, exit. Never execs.
pub(crate) fn native(
    root: &crate::mounts::RootMount,
    merged: &std::path::Path,
    parent: Pid,
    work: &(dyn Fn(&std::path::Path) -> Result<(), String> + Send + Sync),
) -> io::Result<()> {
    use nix::mount::MsFlags;
    use std::path::Path;

    use crate::syscall::Syscall;
    nix::unistd::setsid().map_err(|e| nix_io("setsid", e))?;
    nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL)).map_err(|e| nix_io("prctl", e))?;
    if nix::unistd::getppid() != parent {
        return Err(io::Error::other("slipway exited while starting the step"));
    }
    nix::sched::unshare(CloneFlags::CLONE_NEWNS).map_err(|e| nix_io("unshare", e))?;
    let sys = LinuxSyscall;
    sys.mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;
    crate::mounts::mount_root(&sys, root, merged)?;
    // SAFETY: closing descriptors (std's exec-error pipe) this process never uses;
    // `spawn` then returns at once.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    let code = match work(merged) {
        Ok(()) => 0,
        Err(message) => {
            let _ = writeln!(io::stderr(), "{message}");
            1
        }
    };
    // SAFETY: _exit skips destructors and atexit handlers, which belong to the parent.
    unsafe { libc::_exit(code) }
}
