//! `gyrus repro` through the binary: the README's table of reproductions is what `repro list`
//! prints; a tiny reproduction runs end to end through `report` and resumes; `report` on hand-made
//! run folders gives the expected table; the paper scale starts and checkpoints.

mod common;

use common::{gyrus, text, tmp_dir};
use std::path::Path;

fn ok(args: &[&str]) -> String {
    let o = gyrus(args);
    assert!(o.status.success(), "gyrus {}: {}", args.join(" "), text(&o));
    text(&o)
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// The table row of `label` in a markdown report, as cells.
fn row(md: &str, label: &str) -> Vec<String> {
    let line = md
        .lines()
        .find(|l| l.starts_with(&format!("| {label} |")))
        .unwrap_or_else(|| panic!("no row {label} in\n{md}"));
    line.trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn the_readme_lists_what_repro_list_prints() {
    let table = ok(&["repro", "list", "--markdown"]);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let table = table.trim_end();
    assert!(
        readme.contains(table),
        "README.md's \"Reproducing the papers\" table must be the output of `gyrus repro list \
         --markdown`:\n{table}"
    );
    let plain = ok(&["repro", "list"]);
    for name in [
        "autapse-pools",
        "lm-vs-dense",
        "locality-radius",
        "local-vs-random",
        "cog20-curves",
        "bimt-pareto",
    ] {
        assert!(plain.contains(name), "{plain}");
    }
    let p = ok(&["repro", "plan", "autapse-pools"]);
    assert!(
        p.contains("6 conditions x 3 seeds = 18 runs, 5000 steps"),
        "{p}"
    );
    let e = text(&gyrus(&["repro", "plan", "no-such-claim"]));
    assert!(e.contains("gyrus repro list"), "{e}");
}

#[test]
fn a_tiny_reproduction_runs_end_to_end_and_resumes() {
    let root = tmp_dir("tiny");
    let dir = root.join("cog20");
    let d = dir.to_str().unwrap();
    let set = "steps=30; eval_every=10; checkpoint_every=10; sheet=3x3; batch=4; seq_len=20; \
               eval_trials=4";
    let out = ok(&[
        "repro",
        "run",
        "cog20-curves",
        "--out",
        d,
        "--seeds",
        "1..2",
        "--set",
        set,
        "--jobs",
        "2",
    ]);
    assert!(out.contains("6 trained"), "{out}");
    let m = manifest(&dir);
    let pts = m["points"].as_array().unwrap();
    assert_eq!(pts.len(), 6);
    // Seed first: seed 1 of every condition, then seed 2.
    assert_eq!(pts[0]["name"], "p000_local_seed1");
    assert_eq!(pts[3]["name"], "p003_local_seed2");
    assert_eq!(pts[4]["params"]["arm"], "dense");

    let md = ok(&["repro", "report", d]);
    assert!(dir.join("report/report.md").exists());
    let png = std::fs::read(dir.join("report/curves.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    assert!(md.contains("**reduced with --seeds 1..2 --set"), "{md}");
    // The local row: 2 of 2 finished, 30 steps, mean +- sd of the two eval.json values.
    let evals: Vec<f64> = [0, 3]
        .iter()
        .map(|&i| {
            let run = dir.join(pts[i]["run_dir"].as_str().unwrap());
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap())
                    .unwrap();
            v["last"].as_f64().unwrap()
        })
        .collect();
    let mean = (evals[0] + evals[1]) / 2.0;
    let sd = ((evals[0] - mean).powi(2) + (evals[1] - mean).powi(2)).sqrt();
    let r = row(&md, "local, d = 2");
    assert_eq!(r[2], "2/2", "{r:?}");
    assert_eq!(r[3], "1, 2", "{r:?}");
    assert_eq!(r[4], "30", "{r:?}");
    assert_eq!(r[5], format!("{mean:.3} +- {sd:.3}"), "{r:?}");
    assert!(md.contains("session"), "{md}");

    // A rerun skips everything; a deleted eval.json is redone from the checkpoint.
    let out = ok(&["repro", "run", "--out", d]);
    assert!(out.contains("6 skipped"), "{out}");
    let run1 = dir.join(pts[1]["run_dir"].as_str().unwrap());
    let before = std::fs::read(run1.join("eval.json")).unwrap();
    std::fs::remove_file(run1.join("eval.json")).unwrap();
    let out = ok(&["repro", "run", "--out", d]);
    assert!(out.contains("1 resumed"), "{out}");
    assert_eq!(std::fs::read(run1.join("eval.json")).unwrap(), before);
    let st = ok(&["repro", "status", d]);
    assert!(st.contains("6 finished"), "{st}");

    // Another reproduction, scale or option into the same folder is refused.
    let e = text(&gyrus(&["repro", "run", "autapse-pools", "--out", d]));
    assert!(e.contains("already holds reproduction cog20-curves"), "{e}");
    let e = text(&gyrus(&["repro", "run", "cog20-curves", "--out", d]));
    assert!(e.contains("other options"), "{e}");
    std::fs::remove_dir_all(&root).unwrap();
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn report_on_hand_made_runs_gives_the_expected_table() {
    let root = tmp_dir("hand");
    let dir = root.join("r");
    let d = dir.to_str().unwrap();
    // The folder without training: the Slurm backend's dry run writes it and prints the script.
    let script = ok(&[
        "repro",
        "run",
        "cog20-curves",
        "--out",
        d,
        "--backend",
        "slurm",
        "--dry-run",
        "--set",
        "steps=1000",
    ]);
    assert!(script.contains("#SBATCH --array=0-8"), "{script}");
    assert!(script.contains("sweep run-point"), "{script}");
    let m = manifest(&dir);
    let pts = m["points"].as_array().unwrap();
    assert_eq!(pts.len(), 9);
    let run = |i: usize| dir.join(pts[i]["run_dir"].as_str().unwrap());
    let metrics = |at1000: f64, loss_max: f64| {
        format!(
            "{{\"step\":500,\"loss\":1.0,\"loss_max\":{loss_max},\"grad_norm_max\":3.5,\"steps_per_s\":10.0,\"eval\":{{\"last\":0.5,\"strict\":0.4}}}}\n\
             {{\"step\":1000,\"loss\":0.5,\"loss_max\":0.9,\"steps_per_s\":25.0,\"eval\":{{\"last\":{at1000},\"strict\":0.4}}}}\n"
        )
    };
    // Conditions in order local, dense, autapse; points 0-2 seed 1, 3-5 seed 2, 6-8 seed 3.
    // local: three finished runs, 0.9, 0.8, 0.7.
    for (i, last) in [(0, 0.9), (3, 0.8), (6, 0.7)] {
        write(&run(i).join("metrics.jsonl"), &metrics(last, 2.0));
        write(
            &run(i).join("eval.json"),
            &format!("{{\"last\":{last},\"strict\":{}}}", last - 0.1),
        );
    }
    // dense: two finished (0.5, 0.7), one at step 500 only; one run spiked (loss_max 1e6 > 100 x 0.5).
    for (i, last, spike) in [(1, 0.5, 1e6), (4, 0.7, 2.0)] {
        write(&run(i).join("metrics.jsonl"), &metrics(last, spike));
        write(
            &run(i).join("eval.json"),
            &format!("{{\"last\":{last},\"strict\":0.3}}"),
        );
    }
    write(
        &run(7).join("metrics.jsonl"),
        metrics(0.6, 2.0).lines().next().unwrap(),
    );
    write(
        &run(7).join("config.toml"),
        pts[7]["config"].as_str().unwrap(),
    );
    // autapse: nothing.

    let md = ok(&[
        "repro",
        "report",
        d,
        "--out",
        root.join("out").to_str().unwrap(),
    ]);
    let local = row(&md, "local, d = 2");
    assert_eq!(local[2], "3/3");
    assert_eq!(local[3], "1-3");
    assert_eq!(local[4], "1000");
    assert_eq!(local[5], "0.800 +- 0.100");
    assert_eq!(local[6], "0.700 +- 0.100");
    assert_eq!(local[7], "0.500 +- 0.000 (3)", "step 500 column");
    assert_eq!(local[8], "0.800 +- 0.100 (3)", "step 1000 column");
    // Training time: 500/10 + 500/25 = 70 s per run, 3 runs = 3.5 min.
    assert_eq!(local[10], "3.5");
    let dense = row(&md, "dense");
    assert_eq!(dense[2], "2/3");
    assert_eq!(dense[3], "1, 2");
    assert_eq!(dense[5], "0.600 +- 0.141");
    assert_eq!(
        dense[7], "0.500 +- 0.000 (3)",
        "the unfinished run logged step 500"
    );
    assert_eq!(dense[8], "0.600 +- 0.141 (2)");
    // Parameters: 256 x 256 recurrent + 256 x 53 inputs + 256 + 17 x 256 + 17.
    assert_eq!(
        dense[9],
        (256 * 256 + 256 * 53 + 256 + 17 * 256 + 17).to_string()
    );
    let autapse = row(&md, "autapse");
    assert_eq!(autapse[2], "0/3");
    assert_eq!(autapse[5], "-");
    assert!(
        md.contains(&format!(
            "- {}: at step 500 of 1000",
            pts[7]["name"].as_str().unwrap()
        )),
        "{md}"
    );
    assert!(md.contains("- p005_autapse_seed2: pending"), "{md}");
    // Spikes: only point 1.
    assert!(md.contains("1 run."), "{md}");
    assert!(
        md.contains("- p001_dense_seed1: interval ending at step 500: largest loss 1.000e6, largest gradient norm 3.500e0; last mean loss 0.500"),
        "{md}"
    );
    assert!(root.join("out/curves.png").exists());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn the_paper_scale_starts_and_checkpoints() {
    let root = tmp_dir("paper");
    let dir = root.join("p");
    let d = dir.to_str().unwrap();
    let plan = ok(&["repro", "plan", "lm-vs-dense", "--scale", "paper"]);
    assert!(
        plan.contains("6 conditions x 15 seeds = 90 runs, 10000 steps"),
        "{plan}"
    );
    // The paper's best network (50 x 50, d = 10, Mod-Cog) for 2 short steps, checkpointed at each.
    let out = ok(&[
        "repro",
        "run",
        "lm-vs-dense",
        "--scale",
        "paper",
        "--only",
        "lm-d10",
        "--seeds",
        "1",
        "--set",
        "steps=2; checkpoint_every=1; batch=2; seq_len=20; eval_trials=1",
        "--out",
        d,
        "--jobs",
        "1",
    ]);
    assert!(out.contains("1 trained"), "{out}");
    let m = manifest(&dir);
    let run = dir.join(m["points"][0]["run_dir"].as_str().unwrap());
    let cfg = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        cfg.contains("rows = 50") && cfg.contains("cols = 50"),
        "{cfg}"
    );
    assert!(
        cfg.contains("kind = \"local\"") && cfg.contains("d = 10.0"),
        "{cfg}"
    );
    assert!(cfg.contains("tasks = \"modcog\""), "{cfg}");
    assert!(run.join("checkpoint.safetensors").exists());
    assert!(run.join("eval.json").exists());
    let md = ok(&["repro", "report", d]);
    assert!(md.contains("scale `paper`"), "{md}");
    assert!(row(&md, "LM-RNN 50x50, d = 10")[2] == "1/1", "{md}");
    std::fs::remove_dir_all(&root).unwrap();
}
