//! `gyrus sweep` and `gyrus plot pareto` through the binary: a tiny grid is trained, a rerun skips
//! every finished point, an interrupted point is redone (to the same result), failures are
//! reported, and the Pareto plot writes its PNG and CSV.

mod common;

use common::{gyrus, text, tmp_dir};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

const BASE: &str = "tasks = \"go,anti\"\nsteps = 20\nbatch = 4\nseq_len = 20\neval_trials = 4\n\
                    eval_every = 10\ncheckpoint_every = 10\n[net]\nsheet = { rows = 3, cols = 3 }\n\
                    family = { kind = \"l1\", lambda = 1e-4 }\n";
const GRID: &str = "lambda=0,1e-3; seed=1..2";

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

fn run_dirs(sweep: &Path) -> Vec<PathBuf> {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sweep.join("manifest.json")).unwrap())
            .unwrap();
    m["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| sweep.join(e["run_dir"].as_str().unwrap()))
        .collect()
}

#[test]
fn a_sweep_runs_skips_resumes_and_plots() {
    let root = tmp_dir("main");
    let base = root.join("base.toml");
    std::fs::write(&base, BASE).unwrap();
    let sweep = root.join("sweeps/p");
    let s = sweep.to_str().unwrap();
    let b = base.to_str().unwrap();

    let o = gyrus(&[
        "sweep", "--grid", GRID, "--base", b, "--out", s, "--jobs", "2",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("4 trained"), "{}", text(&o));
    assert!(
        !sweep.join("sweep.lock").exists(),
        "the lock is released at the end"
    );

    // The manifest: one entry per point with its values, folder and full config.
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sweep.join("manifest.json")).unwrap())
            .unwrap();
    let pts = m["points"].as_array().unwrap();
    assert_eq!(pts.len(), 4);
    assert_eq!(m["grid"], GRID);
    assert_eq!(pts[2]["name"], "p002_lambda1e-3_seed1");
    assert_eq!(pts[2]["params"]["lambda"], "1e-3");
    assert_eq!(pts[0]["family"], "dense");
    assert_eq!(pts[3]["family"], "l1");
    let runs = run_dirs(&sweep);
    for (p, dir) in pts.iter().zip(&runs) {
        assert!(dir.join("eval.json").exists(), "{}", dir.display());
        assert_eq!(
            std::fs::read_to_string(dir.join("config.toml")).unwrap(),
            p["config"].as_str().unwrap()
        );
        let log = std::fs::read_to_string(dir.join("sweep.log")).unwrap();
        assert!(log.contains("train --config"), "{log}");
    }
    let seed2: toml::Value = toml::from_str(pts[3]["config"].as_str().unwrap()).unwrap();
    assert_eq!(seed2["seed"].as_integer(), Some(2));
    assert_eq!(seed2["net"]["family"]["kind"].as_str(), Some("l1"));

    // A rerun (here without --grid/--base: the manifest is enough) trains nothing.
    let stamps: Vec<SystemTime> = runs.iter().map(|d| mtime(&d.join("eval.json"))).collect();
    let ckpts: Vec<SystemTime> = runs
        .iter()
        .map(|d| mtime(&d.join("checkpoint.safetensors")))
        .collect();
    let o = gyrus(&["sweep", "--out", s]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert_eq!(t.matches("skipped p0").count(), 4, "{t}");
    assert!(
        t.contains("4 skipped (already finished), 0 trained, 0 resumed, 0 failed"),
        "{t}"
    );
    // The same grid and base again is also accepted, and skips everything.
    let o = gyrus(&["sweep", "--grid", GRID, "--base", b, "--out", s]);
    assert!(text(&o).contains("4 skipped"), "{}", text(&o));
    for (d, (e, c)) in runs.iter().zip(stamps.iter().zip(&ckpts)) {
        assert_eq!(
            mtime(&d.join("eval.json")),
            *e,
            "{} was retrained",
            d.display()
        );
        assert_eq!(mtime(&d.join("checkpoint.safetensors")), *c);
    }

    // Interrupt point 1: no eval, no checkpoint. It is redone, to the same result; the rest skipped.
    let eval1 = std::fs::read_to_string(runs[1].join("eval.json")).unwrap();
    std::fs::remove_file(runs[1].join("eval.json")).unwrap();
    std::fs::remove_file(runs[1].join("checkpoint.safetensors")).unwrap();
    let st = text(&gyrus(&["sweep", "status", s]));
    assert!(st.contains("3 finished, 1 started"), "{st}");
    assert!(st.contains("p001_lambda0_seed2"), "{st}");
    let o = gyrus(&["sweep", "--out", s, "--jobs", "1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("3 skipped (already finished), 0 trained, 1 resumed"),
        "{}",
        text(&o)
    );
    assert_eq!(
        std::fs::read_to_string(runs[1].join("eval.json")).unwrap(),
        eval1
    );
    for i in [0, 2, 3] {
        assert_eq!(mtime(&runs[i].join("eval.json")), stamps[i]);
    }
    let st = text(&gyrus(&["sweep", "status", s]));
    assert!(st.contains("4 points: 4 finished, 0 started"), "{st}");

    // A different grid into the same folder is refused.
    let o = gyrus(&[
        "sweep",
        "--grid",
        "lambda=0; seed=1..2",
        "--base",
        b,
        "--out",
        s,
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("different sweep"), "{}", text(&o));

    // Pareto plot: PNG plus one CSV row per point.
    let png = root.join("fig/pareto.png");
    let o = gyrus(&["plot", "pareto", s, "--out", png.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    let csv = std::fs::read_to_string(root.join("fig/pareto.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("index,name,family,params,performance,error,active_units"));
    assert!(lines[1].starts_with("0,p000_lambda0_seed1,dense,"), "{csv}");
    assert!(lines[4].starts_with("3,p003_lambda1e-3_seed2,l1,"), "{csv}");
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        let err: f64 = f[5].parse().unwrap();
        let units: usize = f[6].parse().unwrap();
        let conns: usize = f[7].parse().unwrap();
        let wiring: f64 = f[8].parse().unwrap();
        assert!((0.0..=1.0).contains(&err), "{l}");
        assert!(units <= 9 && conns <= 81 && wiring >= 0.0, "{l}");
        assert!(
            units > 0,
            "W = 0.5 I at init keeps every unit active after 20 steps: {l}"
        );
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn failures_are_reported_and_bad_grids_name_the_keys() {
    let root = tmp_dir("fail");
    let base = root.join("base.toml");
    std::fs::write(&base, BASE).unwrap();
    let sweep = root.join("s");
    let (b, s) = (base.to_str().unwrap(), sweep.to_str().unwrap());

    let o = gyrus(&[
        "sweep",
        "--grid",
        "lambda=0; colour=red",
        "--base",
        b,
        "--out",
        s,
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("valid keys: seed, steps"), "{}", text(&o));
    let o = gyrus(&["sweep", "--grid", "radius=2", "--base", b, "--out", s]);
    assert!(!o.status.success());
    assert!(text(&o).contains("grid point 0 (radius=2)"), "{}", text(&o));
    let o = gyrus(&["sweep", "--out", s]);
    assert!(text(&o).contains("holds no sweep yet"), "{}", text(&o));
    // Options are checked before anything is written: no manifest is left behind.
    let o = gyrus(&[
        "sweep",
        "--grid",
        "seed=1..2",
        "--base",
        b,
        "--out",
        s,
        "--jobs",
        "0",
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("--jobs and --threads must be at least 1"),
        "{}",
        text(&o)
    );
    assert!(!sweep.join("manifest.json").exists());
    let o = gyrus(&[
        "sweep",
        "--grid",
        "seed=1..2",
        "--base",
        b,
        "--out",
        s,
        "--backend",
        "slurm",
        "--max-parallel",
        "0",
        "--dry-run",
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("at least 1"), "{}", text(&o));
    assert!(!sweep.join("manifest.json").exists());

    // A child that fails: every point is reported, the exit is non-zero, status says failed.
    let o = gyrus(&[
        "sweep",
        "--grid",
        "seed=1..2",
        "--base",
        b,
        "--out",
        s,
        "--gyrus",
        "/bin/false",
    ]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("2 of 2 points failed"), "{t}");
    assert!(t.contains("FAILED p000_seed1"), "{t}");
    let st = text(&gyrus(&["sweep", "status", s]));
    assert!(st.contains("2 failed"), "{st}");
    // Retried with a working binary, both finish and the failure marks are gone.
    let o = gyrus(&["sweep", "--out", s]);
    assert!(o.status.success(), "{}", text(&o));
    let st = text(&gyrus(&["sweep", "status", s]));
    assert!(
        st.contains("2 finished, 0 started (running or interrupted), 0 failed"),
        "{st}"
    );
    std::fs::remove_dir_all(&root).unwrap();
}

/// The pids of running processes whose command line mentions `needle`.
#[cfg(target_os = "linux")]
fn processes_with(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmd).contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

/// Killing `gyrus sweep` (SIGKILL, no chance to clean up) ends its training processes too (they
/// keep their checkpoints; resuming interrupted points is tested above).
#[cfg(target_os = "linux")]
#[test]
fn a_killed_sweep_takes_its_trainings_with_it() {
    let root = tmp_dir("killed");
    let base = root.join("base.toml");
    let long = BASE.replace("steps = 20", "steps = 100000");
    std::fs::write(&base, long).unwrap();
    let sweep = root.join("sweeps/k");
    let s = sweep.to_str().unwrap().to_string();
    let mut parent = Command::new(env!("CARGO_BIN_EXE_gyrus"))
        .args([
            "sweep",
            "--grid",
            "seed=1..2",
            "--base",
            base.to_str().unwrap(),
            "--out",
            &s,
        ])
        .args(["--jobs", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let run_marker = format!("{s}/runs/");
    let t0 = std::time::Instant::now();
    while processes_with(&run_marker).len() < 2 {
        assert!(
            t0.elapsed().as_secs() < 60,
            "the sweep did not start its trainings"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    parent.kill().unwrap();
    parent.wait().unwrap();
    let t0 = std::time::Instant::now();
    while !processes_with(&run_marker).is_empty() {
        assert!(
            t0.elapsed().as_secs() < 20,
            "trainings still running after their sweep was killed: {:?}",
            processes_with(&run_marker)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(root);
}
