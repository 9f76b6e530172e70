//! Stopping a training run cleanly on SIGINT (Ctrl-C) or SIGTERM (`kill`, Slurm's time limit, a
//! dying `gyrus sweep`). After [`install`], the first signal only sets a flag: [`Run::train`]
//! finishes the current step, writes a checkpoint, and returns [`Interrupted`]; `gyrus train`
//! prints how to resume and exits with 128 + the signal's number. A second signal restores the
//! default action and re-raises itself: the process stops at once (the last checkpoint stays
//! whole: checkpoints are written to a temporary and renamed).
//!
//! Linux only (elsewhere [`install`] does nothing and signals act as before).
//!
//! [`Run::train`]: super::run::Run::train
//! [`Interrupted`]: super::run::Interrupted

use std::sync::atomic::{AtomicI32, Ordering};

/// The first signal received (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

#[cfg(target_os = "linux")]
extern "C" fn on_signal(sig: libc::c_int) {
    if SIGNAL
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        // SAFETY: signal() and raise() are async-signal-safe (POSIX.1); restoring the default
        // action and re-raising ends the process as the signal's default would.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

/// Installs the handlers of SIGINT and SIGTERM for this process.
pub fn install() -> anyhow::Result<()> {
    #[cfg(target_os = "linux")]
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `action` is a zeroed, then filled sigaction (a valid value for every field); the
        // handler only touches an atomic and calls async-signal-safe functions.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error())
                .map_err(|e| anyhow::anyhow!("cannot install the handler of signal {sig}: {e}"));
        }
    }
    Ok(())
}

/// The signal that asked the run to stop, if one came.
pub fn requested() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// `SIGINT`, `SIGTERM`, or `signal N`.
pub fn signal_name(sig: i32) -> String {
    #[cfg(target_os = "linux")]
    match sig {
        libc::SIGINT => return "SIGINT".into(),
        libc::SIGTERM => return "SIGTERM".into(),
        _ => {}
    }
    format!("signal {sig}")
}
