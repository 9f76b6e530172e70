//! BIMT end to end: a short run trains, logs swaps, checkpoints and resumes bit-identically
//! across swap rounds; the config file and the command line both select it.

mod common;

use clap::Parser;
use common::{checkpoint_bits, tmp};
use gyrus_trainer::cli::{Cli, Command};
use gyrus_trainer::model::Family;
use gyrus_trainer::model::Sheet;
use gyrus_trainer::train::config::RunConfig;
use gyrus_trainer::train::run::{Run, CHECKPOINT_FILE, METRICS_FILE};
use std::path::Path;

fn weights(dir: &Path) -> Vec<(String, Vec<u32>)> {
    let mut v = checkpoint_bits(&dir.join(CHECKPOINT_FILE));
    v.sort();
    v
}

fn config() -> RunConfig {
    let mut cfg = RunConfig::with_sheet(Sheet::new(3, 4));
    cfg.tasks = "go,dlygo,dm1,dms".into();
    cfg.net.family = Family::Bimt {
        lambda: 1e-3,
        a: 1.0,
        swap_every: 3,
        top_k: Some(6),
        warmup: 4,
    };
    cfg.steps = 12;
    cfg.batch = 4;
    cfg.seq_len = Some(20);
    cfg.eval_every = 6;
    cfg.eval_trials = 4;
    cfg.checkpoint_every = 6;
    cfg
}

/// Swap rounds at steps 3, 6, 9, 12; a checkpoint right after the round of step 6; the resumed
/// run goes through the rounds of steps 9 and 12 and ends bit-identical to the straight one.
#[test]
fn bimt_run_swaps_and_resumes_bit_identically() {
    let (a, c) = (tmp("a"), tmp("c"));
    let mut straight = Run::create(&a, config()).unwrap();
    let out = straight.train(12, false).unwrap();
    assert_eq!(out.step, 12);
    assert!(straight.swaps() > 0, "no swap was made");
    let log: Vec<serde_json::Value> = std::fs::read_to_string(a.join(METRICS_FILE))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(log.len(), 2);
    let logged: u64 = log
        .iter()
        .map(|l| l["bimt"]["swaps"].as_u64().unwrap())
        .sum();
    assert_eq!(logged, straight.swaps());
    assert!(log[1]["bimt"]["wiring_cost"].as_f64().unwrap() > 0.0);
    assert!(log[1]["bimt"]["connection_cost"].as_f64().unwrap() > 0.0);

    let mut run = Run::create(&c, config()).unwrap();
    run.train(8, false).unwrap();
    drop(run); // steps 7 and 8 are lost; the checkpoint says 6
    let mut resumed = Run::resume(&c).unwrap();
    assert_eq!(resumed.step(), 6);
    resumed.train(12, false).unwrap();
    assert!(resumed.swaps() > 0, "the resumed part made no swap");
    assert_eq!(weights(&a), weights(&c), "resumed BIMT run differs");
}

#[test]
fn bimt_config_file_and_flags() {
    let cfg: RunConfig = toml::from_str(
        "[net]\nsheet = { rows = 4, cols = 4 }\n\
         family = { kind = \"bimt\", lambda = 1e-5, a = 1.0 }\n",
    )
    .unwrap();
    cfg.validate().unwrap();
    let want = Family::Bimt {
        lambda: 1e-5,
        a: 1.0,
        swap_every: 200,
        top_k: None,
        warmup: 0,
    };
    assert_eq!(cfg.net.family, want);
    let back: RunConfig = toml::from_str(&cfg.to_toml().unwrap()).unwrap();
    assert_eq!(back.net.family, want);
    assert_eq!(cfg.net.family_label(), "bimt (lambda = 0.00001, A = 1)");

    let parse = |args: &[&str]| {
        let mut full = vec!["gyrus", "train", "--sheet", "4x4"];
        full.extend_from_slice(args);
        match Cli::try_parse_from(full).unwrap().command {
            Command::Train(t) => t.config(),
            _ => unreachable!(),
        }
    };
    let cfg = parse(&[
        "--family",
        "bimt",
        "--lambda",
        "1e-5",
        "--a",
        "1.0",
        "--swap-every",
        "200",
        "--top-k",
        "16",
    ])
    .unwrap();
    assert_eq!(
        cfg.net.family,
        Family::Bimt {
            lambda: 1e-5,
            a: 1.0,
            swap_every: 200,
            top_k: Some(16),
            warmup: 0
        }
    );
    let cfg = parse(&["--family", "bimt", "--lambda", "0", "--warmup", "50"]).unwrap();
    assert!(matches!(cfg.net.family, Family::Bimt { warmup: 50, a, .. } if a == 1.0));
    let e = parse(&["--family", "bimt"]).unwrap_err().to_string();
    assert!(e.contains("--lambda"), "{e}");
    let e = parse(&["--family", "l1", "--lambda", "1", "--top-k", "3"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--family bimt"), "{e}");
    let e = parse(&["--family", "bimt", "--lambda", "1", "--a=-1"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("bimt a"), "{e}");
}
