//! The training loop end to end: determinism, checkpoints, resume after a kill, divergence, eval,
//! learning curves. Small networks and few steps, so this runs in seconds.

use gyrus_trainer::model::{Family, Sheet};
use gyrus_trainer::train::checkpoint;
use gyrus_trainer::train::config::RunConfig;
use gyrus_trainer::train::run::{Run, CHECKPOINT_FILE, CONFIG_FILE, EVAL_FILE, METRICS_FILE};
use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gyrus-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

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
    let ck = checkpoint::load(&dir.join(CHECKPOINT_FILE)).unwrap();
    ck.tensors
        .into_iter()
        .map(|(name, (_, v))| (name, v.iter().map(|x| x.to_bits()).collect()))
        .collect()
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
    // Resuming gives the same divergence, not silently different numbers.
    let err2 = Run::resume(&dir)
        .unwrap()
        .train(40, false)
        .err()
        .unwrap()
        .to_string();
    assert_eq!(err, err2);
    std::fs::remove_dir_all(dir).unwrap();
}

fn gyrus() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gyrus"))
}

#[test]
fn killed_process_resumes_to_the_same_weights() {
    let (full, killed) = (tmp("full"), tmp("killed"));
    let args = |out: &Path| {
        let mut c = gyrus();
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
    let out = gyrus()
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
    let ev = gyrus()
        .args(["eval", "--json"])
        .arg(&full)
        .output()
        .unwrap();
    assert!(ev.status.success());
    let json: serde_json::Value = serde_json::from_slice(&ev.stdout).unwrap();
    assert_eq!(json["step"], 3000);
    assert!(json["tasks"]["anti"]["last"].as_f64().unwrap() <= 1.0);
    let table = gyrus().arg("eval").arg(&full).output().unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("go") && text.contains("anti") && text.contains("mean"),
        "{text}"
    );
    let png = full.join("curves.png");
    let st = gyrus()
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
    let out = gyrus()
        .args([
            "train", "--sheet", "4x4", "--family", "local", "--out", "/tmp/x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--radius"));
    let out = gyrus()
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
    let out = gyrus()
        .args(["train", "--resume", "/nonexistent/run"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not hold a run"));
    // A resumed run keeps its config: flags that would change it are refused, not ignored.
    let out = gyrus()
        .args(["train", "--resume", "/nonexistent/run", "--steps", "9"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("cannot be used with"),
        "{e}"
    );
}
