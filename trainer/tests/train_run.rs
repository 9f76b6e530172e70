//! The training loop end to end: determinism, checkpoints, resume after a kill, divergence, eval,
//! learning curves. Small networks and few steps, so this runs in seconds.

mod common;

use common::{checkpoint_bits, command, tmp};
use gyrus_trainer::model::{Family, Sheet};
use gyrus_trainer::train::checkpoint;
use gyrus_trainer::train::config::RunConfig;
use gyrus_trainer::train::run::{
    Run, Schedule, CHECKPOINT_FILE, CONFIG_FILE, EVAL_FILE, METRICS_FILE,
};
use std::path::Path;

fn small(family: Family) -> RunConfig {
    let mut cfg = RunConfig::with_sheet(Sheet::new(4, 4));
    cfg.tasks = "go,dlygo,dm1,dms".into();
    cfg.net.family = family;
    cfg.steps = 40;
    cfg.batch = 8;
    // Three chunks (3 + 3 + 2 streams), so the steps run in parallel.
    cfg.chunk = 3;
    cfg.seq_len = Some(30);
    cfg.eval_every = 20;
    cfg.eval_trials = 16;
    cfg.checkpoint_every = 10;
    cfg
}

fn weights(dir: &Path) -> Vec<(String, Vec<u32>)> {
    checkpoint_bits(&dir.join(CHECKPOINT_FILE))
}

#[test]
fn same_seed_same_weights_and_resume_is_exact() {
    for family in [
        Family::Dense,
        Family::Local {
            d: 1.5,
            torus: false,
        },
    ] {
        let (a, b, c) = (tmp("a"), tmp("b"), tmp("c"));
        let cfg = small(family.clone());
        // One thread, then three: the same weights.
        let pool = |k| gyrus_trainer::train::threads::pool(k).unwrap();
        pool(1).install(|| {
            Run::create(&a, cfg.clone())
                .unwrap()
                .train(40, false)
                .unwrap()
        });
        pool(3).install(|| {
            Run::create(&b, cfg.clone())
                .unwrap()
                .train(40, false)
                .unwrap()
        });
        assert_eq!(
            weights(&a),
            weights(&b),
            "{family:?}: same seed, different weights (1 and 3 threads)"
        );

        // Interrupted at step 20 (after its checkpoint), then resumed from the folder.
        let mut run = Run::create(&c, cfg.clone()).unwrap();
        run.train(23, false).unwrap();
        drop(run); // steps 21..23 are lost with the process; the checkpoint says 20
        let mut resumed = Run::resume(&c).unwrap();
        assert_eq!(resumed.step(), 20);
        resumed.train(40, false).unwrap();
        assert_eq!(weights(&a), weights(&c), "{family:?}: resumed run differs");
        // The metrics log has each evaluation once.
        let steps: Vec<u64> = std::fs::read_to_string(c.join(METRICS_FILE))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(steps, vec![20, 40]);

        let mut other = cfg.clone();
        other.seed = 2;
        let d = tmp("d");
        Run::create(&d, other).unwrap().train(40, false).unwrap();
        assert_ne!(
            weights(&a),
            weights(&d),
            "different seeds gave the same weights"
        );
        for dir in [a, b, c, d] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}

#[test]
fn a_run_folder_is_not_overwritten() {
    let a = tmp("exists");
    Run::create(&a, small(Family::Autapse)).unwrap();
    let err = Run::create(&a, small(Family::Autapse))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--resume"), "{err}");
    std::fs::remove_dir_all(a).unwrap();
}

#[test]
fn divergence_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let dir = tmp("nan");
    let mut cfg = small(Family::Dense);
    cfg.lr = 1e30;
    cfg.checkpoint_every = 1;
    cfg.eval_every = 0;
    let mut run = Run::create(&dir, cfg).unwrap();
    let err = run
        .train(40, false)
        .expect_err("lr 1e30 must diverge")
        .to_string();
    assert!(
        err.contains("diverged") && err.contains("checkpoint"),
        "{err}"
    );
    let ck = checkpoint::load(&dir.join(CHECKPOINT_FILE)).unwrap();
    let step: u64 = ck.meta("step").unwrap().parse().unwrap();
    assert!((1..40).contains(&step), "checkpoint step {step}");
    assert!(err.contains(&format!("step {}", step + 1)), "{err}");
    for (name, (_, v)) in &ck.tensors {
        assert!(
            v.iter().all(|x| x.is_finite()),
            "{name} has non-finite values"
        );
    }
    // Resuming gives the same divergence, not silently different numbers. (The failed run's
    // process would have exited: its lock goes with it.)
    drop(run);
    let err2 = Run::resume(&dir)
        .unwrap()
        .train(40, false)
        .err()
        .unwrap()
        .to_string();
    assert_eq!(err, err2);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn killed_process_resumes_to_the_same_weights() {
    let (full, killed) = (tmp("full"), tmp("killed"));
    let args = |out: &Path| {
        let mut c = command();
        c.args([
            "train",
            "--sheet",
            "3x3",
            "--family",
            "local",
            "--radius",
            "1",
            "--collection",
            "go,anti",
            "--steps",
            "3000",
            "--batch",
            "4",
            "--seq-len",
            "20",
            "--eval-every",
            "1000",
            "--eval-trials",
            "4",
            "--checkpoint-every",
            "7",
            "--quiet",
            "--out",
        ]);
        c.arg(out);
        c
    };
    assert!(args(&full).status().unwrap().success());
    let mut child = args(&killed).spawn().unwrap();
    // Kill it (SIGKILL) as soon as it has written a checkpoint.
    let t0 = std::time::Instant::now();
    while !killed.join(CHECKPOINT_FILE).exists() && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill: u64 = checkpoint::load(&killed.join(CHECKPOINT_FILE))
        .unwrap()
        .meta("step")
        .unwrap()
        .parse()
        .unwrap();
    let out = command()
        .args(["train", "--resume"])
        .arg(&killed)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("at step {at_kill} of 3000")),
        "{stderr}"
    );
    assert!(at_kill < 3000, "the kill came too late to test anything");
    assert_eq!(weights(&full), weights(&killed));
    assert!(killed.join(EVAL_FILE).exists() && killed.join(CONFIG_FILE).exists());

    // eval prints a table and JSON for the run; plot curves draws both runs.
    let ev = command()
        .args(["eval", "--json"])
        .arg(&full)
        .output()
        .unwrap();
    assert!(ev.status.success());
    let json: serde_json::Value = serde_json::from_slice(&ev.stdout).unwrap();
    assert_eq!(json["step"], 3000);
    assert!(json["tasks"]["anti"]["last"].as_f64().unwrap() <= 1.0);
    let table = command().arg("eval").arg(&full).output().unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("go") && text.contains("anti") && text.contains("mean"),
        "{text}"
    );
    let png = full.join("curves.png");
    let st = command()
        .args(["plot", "curves"])
        .arg(&full)
        .arg(&killed)
        .arg("--out")
        .arg(&png)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    for d in [full, killed] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn bad_flags_are_clear_errors() {
    let out = command()
        .args([
            "train", "--sheet", "4x4", "--family", "local", "--out", "/tmp/x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--radius"));
    let out = command()
        .args([
            "train",
            "--sheet",
            "4x4",
            "--collection",
            "cog21",
            "--out",
            "/tmp/x",
        ])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("cog20"), "{e}");
    let out = command()
        .args(["train", "--resume", "/nonexistent/run"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not hold a run"));
    // A resumed run keeps its config: flags that would change it are refused, not ignored.
    let out = command()
        .args(["train", "--resume", "/nonexistent/run", "--lr", "0.5"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("cannot be used with"),
        "{e}"
    );
}

/// Runs that cannot fit in memory are refused with the estimate, before anything is written
/// (they used to abort with an allocation failure, after writing config.toml).
#[test]
fn a_run_that_cannot_fit_is_refused_before_anything_is_written() {
    let dir = tmp("huge");
    let out = dir.join("run");
    for args in [
        &["--sheet", "10000x10000"][..],
        &["--sheet", "4x4", "--eval-trials", "4000000000"][..],
    ] {
        let o = command()
            .arg("train")
            .args(args)
            .args(["--steps", "1", "--quiet", "--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {e}");
        assert!(e.contains("needs about") && e.contains("memory"), "{e}");
        assert!(!e.contains("memory allocation"), "{e}");
        assert!(!out.exists(), "{args:?} left {}", out.display());
    }
    // A run folder whose config cannot fit (written by hand) is refused on resume too.
    std::fs::create_dir_all(&out).unwrap();
    let mut cfg = RunConfig::with_sheet(Sheet::new(10_000, 10_000));
    cfg.steps = 1;
    std::fs::write(out.join(CONFIG_FILE), cfg.to_toml().unwrap()).unwrap();
    let o = command()
        .args(["train", "--quiet", "--resume", out.to_str().unwrap()])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("needs about"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// metrics.jsonl and eval.json are written through a temporary: when that write fails (here the
/// temporary's name is taken by a folder) the error names the file and the old file is intact.
#[test]
fn run_files_are_replaced_through_a_temporary() {
    let dir = tmp("atomic");
    let mut cfg = small(Family::Dense);
    cfg.tasks = "go".into();
    cfg.steps = 4;
    cfg.eval_every = 2;
    cfg.checkpoint_every = 2;
    cfg.eval_trials = 4;
    let mut run = Run::create(&dir, cfg).unwrap();
    run.train(2, false).unwrap();
    let metrics = std::fs::read(dir.join(METRICS_FILE)).unwrap();
    assert_eq!(metrics.iter().filter(|&&b| b == b'\n').count(), 1);
    std::fs::create_dir(dir.join(".metrics.jsonl.tmp")).unwrap();
    let e = format!("{:#}", run.train(4, false).unwrap_err());
    assert!(e.contains("metrics.jsonl"), "{e}");
    assert_eq!(std::fs::read(dir.join(METRICS_FILE)).unwrap(), metrics);
    std::fs::remove_dir(dir.join(".metrics.jsonl.tmp")).unwrap();
    drop(run); // releases the folder's lock

    std::fs::write(dir.join(EVAL_FILE), "old").unwrap();
    std::fs::create_dir(dir.join(".eval.json.tmp")).unwrap();
    let e = format!(
        "{:#}",
        Run::resume(&dir).unwrap().train(4, false).unwrap_err()
    );
    assert!(e.contains("eval.json"), "{e}");
    assert_eq!(std::fs::read_to_string(dir.join(EVAL_FILE)).unwrap(), "old");
    std::fs::remove_dir(dir.join(".eval.json.tmp")).unwrap();
    Run::resume(&dir).unwrap().train(4, false).unwrap();
    assert!(std::fs::read_to_string(dir.join(EVAL_FILE))
        .unwrap()
        .contains("strict"));
    let lines = std::fs::read_to_string(dir.join(METRICS_FILE)).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
}

/// The metrics lines without `steps_per_s` (wall-clock time, the one field that may differ).
fn metrics_lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(METRICS_FILE))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("steps_per_s").unwrap();
            v
        })
        .collect()
}

/// Every tensor and the step and random state of a run's checkpoint.
fn checkpoint_state(dir: &Path) -> (Vec<(String, Vec<u32>)>, Vec<String>) {
    let ck = checkpoint::load(&dir.join(CHECKPOINT_FILE)).unwrap();
    let meta = ["step", "adam_step", "streams", "noise_rng", "log_state"]
        .iter()
        .map(|k| ck.meta(k).unwrap().to_string())
        .collect();
    (weights(dir), meta)
}

#[test]
fn a_resumed_run_logs_the_same_metrics_lines() {
    // Checkpoints (every 10) fall inside the evaluation intervals (every 25): the resumed run must
    // carry the interval's sums over from the checkpoint.
    let (a, b) = (tmp("log-a"), tmp("log-b"));
    let mut cfg = small(Family::Dense);
    cfg.eval_every = 25;
    Run::create(&a, cfg.clone())
        .unwrap()
        .train(40, false)
        .unwrap();
    let mut run = Run::create(&b, cfg).unwrap();
    run.train(33, false).unwrap();
    drop(run); // the checkpoint says 30: steps 26..30 of the interval are in it
    let mut resumed = Run::resume(&b).unwrap();
    assert_eq!(resumed.step(), 30);
    resumed.train(40, false).unwrap();
    let (la, lb) = (metrics_lines(&a), metrics_lines(&b));
    assert_eq!(la.len(), 2);
    assert_eq!(la, lb, "a resumed run logged other lines");
    // The per-interval extremes are logged with the mean.
    for l in &la {
        let (mean, max) = (l["loss"].as_f64().unwrap(), l["loss_max"].as_f64().unwrap());
        assert!(max >= mean && mean > 0.0, "{l}");
        assert!(l["grad_norm_max"].as_f64().unwrap() > 0.0, "{l}");
        assert_eq!(l["loss_spikes"].as_u64(), Some(0), "{l}");
    }
    for d in [a, b] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn an_extended_run_ends_as_one_planned_that_long() {
    let (planned, finished, unfinished) = (tmp("ext-plan"), tmp("ext-fin"), tmp("ext-unfin"));
    let mut long = small(Family::Local {
        d: 1.5,
        torus: false,
    });
    long.steps = 60;
    let mut short = long.clone();
    short.steps = 40;
    Run::create(&planned, long.clone())
        .unwrap()
        .train(60, false)
        .unwrap();

    // A finished run, trained further.
    Run::create(&finished, short.clone())
        .unwrap()
        .train(40, false)
        .unwrap();
    assert!(finished.join(EVAL_FILE).exists());
    let mut run = Run::extend(
        &finished,
        Schedule {
            steps: Some(60),
            ..Schedule::default()
        },
    )
    .unwrap();
    assert!(
        !finished.join(EVAL_FILE).exists(),
        "an extended run still looks finished"
    );
    assert_eq!((run.step(), run.config().steps), (40, 60));
    run.train(60, false).unwrap();
    drop(run);
    assert_eq!(checkpoint_state(&planned), checkpoint_state(&finished));
    assert_eq!(metrics_lines(&planned), metrics_lines(&finished));
    assert!(finished.join(EVAL_FILE).exists());
    let cfg = RunConfig::load(&finished.join(CONFIG_FILE)).unwrap();
    assert_eq!(cfg.steps, 60);
    let e = &cfg.extended[0];
    assert_eq!((e.at_step, e.from_steps, e.to_steps), (40, 40, 60));
    assert!(e.when.ends_with('Z') && e.when.len() == 20, "{}", e.when);

    // An unfinished run (killed after step 23; checkpoint 20), extended with a new evaluation
    // interval and a new checkpoint interval: other log lines, the same weights.
    let mut run = Run::create(&unfinished, short.clone()).unwrap();
    run.train(23, false).unwrap();
    drop(run);
    let mut run = Run::extend(
        &unfinished,
        Schedule {
            steps: Some(60),
            eval_every: Some(30),
            checkpoint_every: Some(7),
        },
    )
    .unwrap();
    assert_eq!(run.step(), 20);
    run.train(60, false).unwrap();
    drop(run);
    assert_eq!(weights(&planned), weights(&unfinished));
    let steps: Vec<u64> = metrics_lines(&unfinished)
        .iter()
        .map(|l| l["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![20, 30, 60]);

    // Shorter is refused; so is a checkpoint from a run with another config.
    let e = Run::extend(
        &finished,
        Schedule {
            steps: Some(50),
            ..Schedule::default()
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("shorten"), "{e}");
    std::fs::copy(
        unfinished.join(CHECKPOINT_FILE),
        finished.join(CHECKPOINT_FILE),
    )
    .unwrap();
    let mut other = RunConfig::load(&finished.join(CONFIG_FILE)).unwrap();
    other.lr = 0.5;
    std::fs::write(finished.join(CONFIG_FILE), other.to_toml().unwrap()).unwrap();
    let e = Run::resume(&finished).err().unwrap().to_string();
    assert!(e.contains("different config"), "{e}");
    for d in [planned, finished, unfinished] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn the_cli_extends_a_finished_run_and_refuses_other_changes() {
    let dir = tmp("ext-cli");
    let mut cfg = small(Family::Dense);
    cfg.steps = 20;
    Run::create(&dir, cfg).unwrap().train(20, false).unwrap();
    let out = command()
        .args([
            "train",
            "--quiet",
            "--steps",
            "30",
            "--eval-every",
            "5",
            "--resume",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{e}");
    assert!(
        e.contains("20 -> 30 steps") && e.contains("at step 20 of 30"),
        "{e}"
    );
    let steps: Vec<u64> = metrics_lines(&dir)
        .iter()
        .map(|l| l["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![20, 25, 30]);
    for flag in [["--lr", "0.5"], ["--seed", "3"], ["--batch", "2"]] {
        let out = command()
            .args(["train", "--steps", "40"])
            .args(flag)
            .arg("--resume")
            .arg(&dir)
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && e.contains("cannot be used with"),
            "{e}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn damaged_or_missing_checkpoints_are_refused() {
    let dir = tmp("damaged");
    let mut cfg = small(Family::Dense);
    cfg.steps = 20;
    Run::create(&dir, cfg.clone())
        .unwrap()
        .train(20, false)
        .unwrap();
    let path = dir.join(CHECKPOINT_FILE);
    let good = std::fs::read(&path).unwrap();
    let refused = |dir: &Path, what: &str| {
        for cmd in [
            vec!["eval"],
            vec!["export", "--out", "/tmp/gyrus-never-written.gyrus"],
        ] {
            let out = command().args(&cmd).arg(dir).output().unwrap();
            let e = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success() && e.contains(what), "{cmd:?}: {e}");
        }
        let e = format!("{:#}", Run::resume(dir).err().unwrap());
        assert!(e.contains(what), "{e}");
    };
    // A flipped bit in a weight (the tensor data ends the file).
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 5] ^= 0x01;
    std::fs::write(&path, &bad).unwrap();
    refused(&dir, "does not match its checksum");
    // The step edited in the metadata.
    let mut bad = good.clone();
    let at = bad
        .windows(11)
        .position(|w| w == b"\"step\":\"20\"")
        .unwrap();
    bad[at + 8] = b'1';
    std::fs::write(&path, &bad).unwrap();
    refused(&dir, "does not match its checksum");
    assert!(!Path::new("/tmp/gyrus-never-written.gyrus").exists());

    // No checkpoint at all: refused, unless --untrained.
    std::fs::remove_file(&path).unwrap();
    let out = command().arg("eval").arg(&dir).output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && e.contains("no checkpoint.safetensors")
            && e.contains("--untrained"),
        "{e}"
    );
    let blob = dir.join("m.gyrus");
    let out = command()
        .arg("export")
        .arg(&dir)
        .arg("--out")
        .arg(&blob)
        .output()
        .unwrap();
    assert!(!out.status.success() && !blob.exists());
    let out = command()
        .args(["eval", "--untrained", "--json"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["step"], 0);
    std::fs::remove_dir_all(dir).unwrap();
}

/// `gyrus train` for many steps of `sheet` units, as a child process.
#[cfg(target_os = "linux")]
fn long_training(out: &Path, sheet: &str, seq_len: &str) -> std::process::Child {
    command()
        .args([
            "train",
            "--sheet",
            sheet,
            "--collection",
            "go,anti",
            "--steps",
            "1000000",
            "--batch",
            "4",
            "--seq-len",
            seq_len,
            "--eval-every",
            "0",
            "--eval-trials",
            "4",
            "--checkpoint-every",
            "1000000",
            "--quiet",
            "--out",
        ])
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the child training in `dir` holds the folder's lock (its pid is in the lock file).
#[cfg(target_os = "linux")]
fn wait_for_lock(dir: &Path, pid: u32) {
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(dir.join("train.lock"))
        .ok()
        .as_deref()
        != Some(format!("{pid}\n").as_str())
    {
        assert!(
            t0.elapsed().as_secs() < 120,
            "the child never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[cfg(target_os = "linux")]
fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: kill() on the pid of our own child, which has not been waited for yet.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

#[cfg(target_os = "linux")]
#[test]
fn sigint_checkpoints_says_how_to_resume_and_resumes_exactly() {
    use std::io::Read;
    let dir = tmp("sigint");
    let mut child = long_training(&dir, "3x3", "20");
    wait_for_lock(&dir, child.id());
    std::thread::sleep(std::time::Duration::from_millis(200));

    // A second training of the same folder is refused, naming the holder.
    let out = command()
        .args(["train", "--quiet", "--resume"])
        .arg(&dir)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains(&format!("process {}", child.id())),
        "{e}"
    );

    signal(&child, libc::SIGINT);
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted by SIGINT at step") && err.contains("gyrus train --resume"),
        "{err}"
    );
    let ck = checkpoint::load(&dir.join(CHECKPOINT_FILE)).unwrap();
    let at: u64 = ck.meta("step").unwrap().parse().unwrap();
    assert!((1..1_000_000).contains(&at), "checkpoint at step {at}");

    // The lock went with the process; the resumed run continues exactly where an uninterrupted
    // run with the same config would be.
    let mut resumed = Run::resume(&dir).unwrap();
    assert_eq!(resumed.step(), at);
    resumed.train(at + 5, false).unwrap();
    let straight_dir = tmp("sigint-straight");
    let cfg = RunConfig::load(&dir.join(CONFIG_FILE)).unwrap();
    let mut straight = Run::create(&straight_dir, cfg).unwrap();
    straight.train(at + 5, false).unwrap();
    let bits = |r: &Run| -> Vec<u32> { r.network().params().iter().map(|x| x.to_bits()).collect() };
    assert_eq!(bits(&resumed), bits(&straight));
    drop((resumed, straight));
    for d in [dir, straight_dir] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_second_signal_stops_at_once() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tmp("sigterm2");
    // Steps of about a second (N = 900, T = 400), far longer than between the two signals.
    let mut child = long_training(&dir, "30x30", "400");
    wait_for_lock(&dir, child.id());
    // Two different signals (two of the same kind sent at once may merge into one pending signal):
    // the second handled ends the process by its default action, with no checkpoint written.
    signal(&child, libc::SIGINT);
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    assert!(
        matches!(status.signal(), Some(libc::SIGINT | libc::SIGTERM)),
        "{status:?}"
    );
    assert!(!dir.join(CHECKPOINT_FILE).exists());
    std::fs::remove_dir_all(dir).unwrap();
}
