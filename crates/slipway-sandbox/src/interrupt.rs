//! Ctrl-C and SIGTERM handling: a flag the sandbox polls so it can kill the
//! step's process tree and clean up before the program exits.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Install SIGINT and SIGTERM handlers that only set a flag. Running steps
/// see it within a few milliseconds, kill their process tree, remove their
/// scratch directories and return [`crate::Error::Interrupted`].
pub fn install_handlers() -> std::io::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { nix::sys::signal::sigaction(signal, &action) }
            .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
    }
    Ok(())
}

/// True once SIGINT or SIGTERM arrived after [`install_handlers`].
pub fn requested() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
