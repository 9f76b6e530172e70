//! Runs whose steps execute on an accelerator (`--device`): here candle's CPU backend, the GPU
//! code path CI can run. Same folder, logs and checkpoints as a CPU run; the weights track the
//! CPU run's; a run moves between devices through its checkpoint (including BIMT swap rounds,
//! which happen on the host); a missing GPU is a clear error that writes nothing.

mod common;

use candle_core::Device;
use common::{command, tmp};
use gyrus_trainer::model::{Family, Sheet};
use gyrus_trainer::train::checkpoint;
use gyrus_trainer::train::config::RunConfig;
use gyrus_trainer::train::run::{Run, CHECKPOINT_FILE, EVAL_FILE, METRICS_FILE};
use std::path::Path;

fn small(family: Family) -> RunConfig {
    let mut cfg = RunConfig::with_sheet(Sheet::new(4, 4));
    cfg.tasks = "go,dlygo,dm1,dms".into();
    cfg.net.family = family;
    cfg.steps = 12;
    cfg.batch = 8;
    cfg.seq_len = Some(20);
    cfg.eval_every = 6;
    cfg.eval_trials = 8;
    cfg.checkpoint_every = 6;
    cfg
}

fn tensors(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let ck = checkpoint::load(&dir.join(CHECKPOINT_FILE)).unwrap();
    let mut v: Vec<(String, Vec<f32>)> = ck
        .tensors
        .into_iter()
        .map(|(name, (_, v))| (name, v))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// ||a - b|| / ||b|| over every parameter tensor (not the Adam moments).
fn worst_weight_error(a: &Path, b: &Path) -> f64 {
    let (ta, tb) = (tensors(a), tensors(b));
    assert_eq!(ta.len(), tb.len());
    let mut worst = 0.0f64;
    for ((na, va), (nb, vb)) in ta.iter().zip(&tb) {
        assert_eq!(na, nb);
        if na.starts_with("adam.") {
            continue;
        }
        let d: f64 = va
            .iter()
            .zip(vb)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
            .sum();
        let n: f64 = vb.iter().map(|&y| f64::from(y).powi(2)).sum();
        worst = worst.max((d / n.max(1e-30)).sqrt());
    }
    worst
}

fn steps_logged(dir: &Path) -> Vec<u64> {
    std::fs::read_to_string(dir.join(METRICS_FILE))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn device_runs_track_cpu_runs_and_move_between_devices() {
    let bimt = Family::Bimt {
        lambda: 1e-3,
        a: 1.0,
        swap_every: 4,
        top_k: None,
        warmup: 0,
    };
    for family in [
        Family::Local {
            d: 1.5,
            torus: false,
        },
        bimt,
    ] {
        let (cpu, dev, mixed) = (tmp("cpu"), tmp("dev"), tmp("mixed"));
        let cfg = small(family.clone());
        Run::create(&cpu, cfg.clone())
            .unwrap()
            .train(12, false)
            .unwrap();
        let mut run = Run::create(&dev, cfg.clone()).unwrap();
        run.use_device(Device::Cpu).unwrap();
        let out = run.train(12, false).unwrap();
        assert_eq!(out.step, 12);
        assert!(dev.join(EVAL_FILE).exists());
        assert_eq!(steps_logged(&dev), vec![6, 12]);
        let e = worst_weight_error(&dev, &cpu);
        assert!(
            e < 1e-3,
            "{family:?}: device run's weights differ from the CPU run's by {e:e}"
        );

        // Half on the device, half on the CPU, through the checkpoint.
        let mut run = Run::create(&mixed, cfg.clone()).unwrap();
        run.use_device(Device::Cpu).unwrap();
        run.train(6, false).unwrap();
        drop(run);
        let mut resumed = Run::resume(&mixed).unwrap();
        assert_eq!(resumed.step(), 6);
        resumed.train(12, false).unwrap();
        let e = worst_weight_error(&mixed, &cpu);
        assert!(
            e < 1e-3,
            "{family:?}: device-then-CPU run differs from the CPU run by {e:e}"
        );
        for d in [cpu, dev, mixed] {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

#[test]
fn the_device_flag() {
    let out = tmp("cli");
    let ok = command()
        .args([
            "train", "--sheet", "3x3", "--tasks", "go,dm1", "--steps", "4", "--batch", "4",
        ])
        .args([
            "--seq-len",
            "15",
            "--eval-every",
            "4",
            "--eval-trials",
            "4",
            "--quiet",
        ])
        .args(["--device", "candle-cpu", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stderr).contains("device candle-cpu"));
    assert!(out.join(EVAL_FILE).exists());

    let bad = command()
        .args(["train", "--device", "tpu", "--out"])
        .arg(tmp("x"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cpu, cuda, cuda:N or candle-cpu"));

    #[cfg(not(feature = "cuda"))]
    {
        let gpu = tmp("gpu");
        let r = command()
            .args([
                "train", "--sheet", "3x3", "--tasks", "go", "--steps", "2", "--device", "cuda",
            ])
            .arg("--out")
            .arg(&gpu)
            .output()
            .unwrap();
        assert!(!r.status.success());
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains("built without GPU support"), "{err}");
        assert!(
            !gpu.exists(),
            "a refused device must not leave a run folder"
        );
    }
    let _ = std::fs::remove_dir_all(out);
}

/// `gyrus bench device` checks the device against the CPU trainer before it times anything.
#[test]
fn the_device_bench_checks_then_times() {
    let r = command()
        .args([
            "bench",
            "device",
            "--device",
            "candle-cpu",
            "--only",
            "N=625",
        ])
        .args(["--seq-len", "3", "--steps", "1", "--cpu-steps", "1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(
        text.contains("device check against the CPU trainer (24 families x activations"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("local d=2 N=625"))
        .expect("a timing row");
    assert!(
        row.split_whitespace().count() == 6 && row.ends_with('x'),
        "{row}"
    );
}
