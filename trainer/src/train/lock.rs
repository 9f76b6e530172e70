//! The run folder's lock: one process at a time trains a run. `train.lock` in the folder is locked
//! with `flock(LOCK_EX | LOCK_NB)` for as long as the process holds the [`RunLock`]; the kernel
//! releases it when the process exits or is killed (even by SIGKILL), so a stale lock cannot
//! outlive its holder. The file holds the holder's pid, for the refusal message. The file itself
//! stays behind (removing it would race with the next locker).
//!
//! The lock is advisory and Linux-only (elsewhere [`RunLock::acquire`] takes no lock); readers
//! (eval, export, analyses) do not take it: they read the checkpoint, which is replaced atomically.

use std::path::{Path, PathBuf};

/// The lock file inside a run folder.
pub const LOCK_FILE: &str = "train.lock";

/// How long a busy lock is retried before the refusal.
#[cfg(target_os = "linux")]
const RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// A held lock on a run folder; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct RunLock {
    /// The open, locked file (the lock lives as long as it is open).
    _file: Option<std::fs::File>,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock on the run folder `dir` (which must exist), or refuses, naming the pid of
    /// the process that holds it.
    pub fn acquire(dir: &Path) -> anyhow::Result<RunLock> {
        let path = dir.join(LOCK_FILE);
        #[cfg(target_os = "linux")]
        {
            use anyhow::Context;
            use std::io::{Read, Seek, Write};
            use std::os::fd::AsRawFd;
            // Opened in place, not written through fsio's temporary-and-rename: the lock belongs
            // to this inode, and a rename would give the next process another one.
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .with_context(|| format!("cannot open the lock file {}", path.display()))?;
            // A refusal is retried for up to RETRY: a process forked by a thread of the holder
            // (a test harness, a sweep) shares the lock until it execs, and may delay its release.
            let t0 = std::time::Instant::now();
            let rc = loop {
                // SAFETY: flock on a file descriptor this function owns (open for as long as
                // `file` lives); it touches no memory.
                let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
                let busy = rc != 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK);
                if !busy || t0.elapsed() >= RETRY {
                    break rc;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            };
            if rc != 0 {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                    let mut text = String::new();
                    let _ = file.read_to_string(&mut text);
                    let holder = match text.trim().parse::<u32>() {
                        Ok(pid) => format!("process {pid}"),
                        Err(_) => "another process".to_string(),
                    };
                    anyhow::bail!(
                        "{} is being trained by {holder} (it holds {}); wait for it to finish or \
                         stop it (Ctrl-C or `kill` write a checkpoint first), then resume",
                        dir.display(),
                        path.display()
                    );
                }
                return Err(err).with_context(|| format!("cannot lock {}", path.display()));
            }
            file.set_len(0)?;
            file.rewind()?;
            writeln!(file, "{}", std::process::id())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(RunLock {
                _file: Some(file),
                path,
            })
        }
        #[cfg(not(target_os = "linux"))]
        Ok(RunLock { _file: None, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_pid_until_the_first_is_dropped() {
        let dir = std::env::temp_dir().join(format!("gyrus-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = RunLock::acquire(&dir).unwrap();
        assert_eq!(first.path(), dir.join(LOCK_FILE));
        let e = RunLock::acquire(&dir).unwrap_err().to_string();
        assert!(
            e.contains(&format!("process {}", std::process::id())),
            "{e}"
        );
        drop(first);
        RunLock::acquire(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
