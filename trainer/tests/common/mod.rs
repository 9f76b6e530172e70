//! Shared helpers of the trainer's integration tests: scratch folders, running the `gyrus` binary,
//! reading its output and checkpoints.
#![allow(dead_code)]

use gyrus_trainer::train::checkpoint;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch path `gyrus-<test file>-<pid>-<name>` in the temporary folder, removed if it was
/// there (not created).
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "gyrus-{}-{}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// [`tmp`], created empty.
pub fn tmp_dir(name: &str) -> PathBuf {
    let d = tmp(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The `gyrus` binary of this build.
pub fn command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gyrus"))
}

/// Runs `gyrus args...` to completion.
pub fn gyrus(args: &[&str]) -> Output {
    command()
        .args(args)
        .output()
        .expect("the gyrus binary runs")
}

/// Standard output, then standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `gyrus args...`, checks that it succeeds, returns its standard output.
pub fn ok(args: &[&str]) -> String {
    let out = gyrus(args);
    assert!(
        out.status.success(),
        "gyrus {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `gyrus args...`, checks that it fails with a message and without a panic, returns its
/// standard error.
pub fn fails(args: &[&str]) -> String {
    let o = gyrus(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !o.status.success(),
        "gyrus {args:?} should fail, printed:\n{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(!err.contains("panicked"), "gyrus {args:?} panicked:\n{err}");
    assert!(
        !err.trim().is_empty(),
        "gyrus {args:?} failed without a message"
    );
    err
}

/// A path as text (test paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The tensors of a checkpoint file as (name, bits of every value), in the file's order.
pub fn checkpoint_bits(file: &Path) -> Vec<(String, Vec<u32>)> {
    let ck = checkpoint::load(file).unwrap();
    ck.tensors
        .into_iter()
        .map(|(name, (_, v))| (name, v.iter().map(|x| x.to_bits()).collect()))
        .collect()
}
