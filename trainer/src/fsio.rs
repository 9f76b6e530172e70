//! Writing files without losing the old one: every file gyrus writes goes through [`write_atomic`]
//! (or [`write_atomic_with`]): the bytes go to a temporary beside the target, are synced, and the
//! temporary is renamed over the target. A failure at any point (full disk, permission, a failing
//! writer) names the file, removes the temporary, and leaves the old file, if any, intact.
//!
//! Two files are not written this way, on purpose: a sweep point's `sweep.log`, which the training
//! child process appends its own output to as it runs (a log, not a result), and `sweep.lock`,
//! whose exclusive creation is the lock itself. `metrics.jsonl` is not appended to but rewritten
//! whole at each evaluation (see `train::run`).

use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary a write to `path` goes through: `.<name>.tmp` in the same folder (the same file
/// system, so the rename is atomic). The leading dot hides it from folder listings.
pub fn temporary_for(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    parent_dir(path).join(format!(".{name}.tmp"))
}

/// The folder that holds `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `bytes` to `path` atomically (temporary, sync, rename, sync of the folder).
pub fn write_atomic(path: &Path, bytes: impl AsRef<[u8]>) -> anyhow::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes.as_ref()).map_err(Into::into))
}

/// Writes `path` atomically with `fill`, which writes the whole content into the (buffered)
/// temporary. If `fill` or any later step fails, the temporary is removed, the error names
/// `path`, and the old content of `path` is untouched.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let tmp = temporary_for(path);
    let result = (|| -> anyhow::Result<()> {
        let file = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create the temporary {}", tmp.display()))?;
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!(
            "cannot write {} (the previous file, if any, is unchanged)",
            path.display()
        )));
    }
    if let Ok(d) = std::fs::File::open(parent_dir(path)) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gyrus-fsio-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_and_replaces() {
        let d = tmp_dir("replace");
        let p = d.join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert!(!temporary_for(&p).exists());
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let d = tmp_dir("fail");
        let p = d.join("m.gyrus");
        write_atomic(&p, b"good").unwrap();
        let err = write_atomic_with(&p, |w| {
            w.write_all(b"half")?;
            anyhow::bail!("disk full")
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("m.gyrus"), "{err:#}");
        assert_eq!(std::fs::read(&p).unwrap(), b"good");
        assert!(!temporary_for(&p).exists());
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_the_file() {
        let d = tmp_dir("nofolder");
        let p = d.join("no/such/folder/x.json");
        let err = write_atomic(&p, b"{}").unwrap_err();
        assert!(format!("{err:#}").contains("x.json"), "{err:#}");
    }
}
