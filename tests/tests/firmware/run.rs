//! Builds the firmware and runs it under QEMU once per test binary, returning its decoded defmt log.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Longest the firmware build plus the QEMU run may take (a cold build with fat LTO is ~40 s).
const DEADLINE: Duration = Duration::from_secs(600);

/// The firmware project directory.
pub fn firmware_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware")
}

/// What one run of the firmware printed.
pub struct Log {
    /// Decoded defmt lines (stdout of `cargo run`).
    pub lines: Vec<String>,
}

impl Log {
    /// The `key=value` fields of every line whose message starts with `prefix`.
    pub fn records(&self, prefix: &str) -> Vec<Vec<(String, String)>> {
        self.lines
            .iter()
            .filter_map(|l| {
                // The message follows the level ("INFO  "), so the prefix starts a word.
                let at = l
                    .match_indices(prefix)
                    .map(|(i, _)| i)
                    .find(|&i| l[..i].chars().next_back().is_none_or(char::is_whitespace))?;
                let rest = &l[at + prefix.len()..];
                if !rest.is_empty() && !rest.starts_with(' ') {
                    return None;
                }
                Some(
                    rest.split_whitespace()
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                )
            })
            .collect()
    }
}

/// The field `key` of a record, parsed; panics with the record when absent or malformed.
pub fn field<T: std::str::FromStr>(rec: &[(String, String)], key: &str) -> T {
    let v = rec
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("field {key} missing in {rec:?}"))
        .1
        .as_str();
    v.parse()
        .unwrap_or_else(|_| panic!("field {key}={v} does not parse in {rec:?}"))
}

fn require_tool(name: &str, hint: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is not on PATH; the firmware parity tests need it ({hint})"
    );
}

/// Builds and runs the firmware (`cargo run --release` in firmware/) with `envs`, once per test
/// binary; every caller gets the same log. Panics (never skips) when a tool is missing, the build
/// fails, the firmware exits non-zero or the deadline passes.
pub fn firmware_log(envs: &[(&str, String)]) -> &'static Log {
    static LOG: OnceLock<Result<Log, String>> = OnceLock::new();
    match LOG.get_or_init(|| run(envs)) {
        Ok(log) => log,
        Err(e) => panic!("{e}"),
    }
}

fn run(envs: &[(&str, String)]) -> Result<Log, String> {
    require_tool(
        "qemu-system-arm",
        "apt-get install --no-install-recommends qemu-system-arm",
    );
    require_tool("defmt-print", "cargo install --locked defmt-print@1.2.0");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["run", "--release", "--quiet"])
        .current_dir(firmware_dir())
        // Host flags must not leak into the thumbv7em build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        // The checks assume the default QEMU machine (mps2-an386) and memory map.
        .env_remove("FW_MACHINE")
        .env_remove("GYRUS_QEMU_MACHINE")
        .env("DEFMT_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(st);
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    match status {
        None => Err(format!(
            "firmware build+run exceeded {DEADLINE:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        )),
        Some(st) if !st.success() => Err(format!(
            "`cargo run --release` in firmware/ failed ({st})\nstdout:\n{stdout}\nstderr:\n{stderr}"
        )),
        Some(_) => Ok(Log {
            lines: stdout.lines().map(str::to_string).collect(),
        }),
    }
}
