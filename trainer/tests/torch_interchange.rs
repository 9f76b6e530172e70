//! `gyrus import` and `gyrus export --format torch` through the binary: a tiny run goes out as a
//! PyTorch state dict (safetensors and npz) and back in with identical weights and identical eval
//! scores; the imported run fine-tunes, exports and runs in `deploy sim`; NumPy-written archives
//! (np.savez_compressed, shuffled units with positions, no mask) import to the same weights; a
//! NumPy forward pass of the export agrees with the runtime; bad inputs are clear errors that
//! write nothing.
//!
//! NumPy is a prerequisite (`.ci/install-tools` installs it): the tests fail without it.

mod common;

use common::{fails, ok, s, tmp_dir};
use gyrus_runtime::format::ModelView;
use gyrus_runtime::kernel::{self, State};
use gyrus_trainer::analysis::load_run;
use gyrus_trainer::npz::{self, Array};
use gyrus_trainer::train::checkpoint;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn python(script: &str, args: &[&str]) -> Output {
    Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs (install it and NumPy with .ci/install-tools)")
}

fn repo_file(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
        .to_str()
        .unwrap()
        .to_string()
}

/// Trains a tiny run; `extra` adds flags.
fn tiny_run(dir: &Path, extra: &[&str]) -> PathBuf {
    let run = dir.join("run");
    let mut args = vec![
        "train",
        "--sheet",
        "4x4",
        "--collection",
        "go,dm1",
        "--steps",
        "30",
        "--batch",
        "8",
        "--seq-len",
        "30",
        "--eval-trials",
        "8",
        "--seed",
        "5",
        "--quiet",
        "--out",
        s(&run),
    ];
    args.extend_from_slice(extra);
    ok(&args);
    run
}

/// The network tensors of a run's checkpoint (Adam state left out).
fn weights(run: &Path) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let ck = checkpoint::load(&run.join("checkpoint.safetensors")).unwrap();
    ck.tensors
        .iter()
        .filter(|(n, _)| !n.starts_with("adam."))
        .map(|(n, (s, v))| (n.clone(), s.clone(), v.clone()))
        .collect()
}

/// The network of a run as dense matrices: W, W_in, b_h, W_out, b_o.
fn dense(run: &Path) -> Vec<Vec<f32>> {
    let net = load_run(run, false).unwrap().network;
    vec![
        net.w_rec_dense(),
        net.w_in().to_vec(),
        net.b_h().to_vec(),
        net.w_out().to_vec(),
        net.b_o().to_vec(),
    ]
}

/// `gyrus eval --json` without the step.
fn scores(run: &Path) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(&ok(&["eval", s(run), "--json"])).unwrap();
    v.as_object_mut().unwrap().remove("step");
    v
}

#[test]
fn export_torch_then_import_gives_identical_weights_and_scores() {
    let dir = tmp_dir("round");
    let run = tiny_run(&dir, &["--family", "local", "--radius", "1.5"]);
    for ext in ["safetensors", "npz"] {
        let sd = dir.join(format!("model.{ext}"));
        let text = ok(&["export", s(&run), "--format", "torch", "--out", s(&sd)]);
        assert!(text.contains("nn.RNN layout"), "{text}");
        assert!(text.contains("rnn.weight_hh_l0 [16, 16]"), "{text}");
        let back = dir.join(format!("back-{ext}"));
        let text = ok(&["import", s(&sd), "--out", s(&back)]);
        assert!(text.contains("family local (d = 1.5) (given"), "{text}");
        assert_eq!(weights(&run), weights(&back), "weights through {ext}");
        assert_eq!(
            std::fs::read_to_string(run.join("config.toml")).unwrap(),
            std::fs::read_to_string(back.join("config.toml")).unwrap()
        );
        assert_eq!(scores(&run), scores(&back), "eval through {ext}");
    }
    // The imported run is a run: it fine-tunes from the imported weights, exports, deploys.
    let back = dir.join("back-safetensors");
    ok(&["train", "--resume", s(&back), "--quiet"]);
    let ck = checkpoint::load(&back.join("checkpoint.safetensors")).unwrap();
    assert_eq!(ck.meta("step").unwrap(), "30");
    assert_ne!(weights(&run), weights(&back), "fine-tuning changed nothing");
    let blob = dir.join("back.gyrus");
    ok(&["export", s(&back), "--out", s(&blob)]);
    let table = ok(&["deploy", "sim", s(&blob), "--trials", "2", "--tile", "2x2"]);
    assert!(table.contains("back"), "{table}");
    // Writing over an existing run is refused.
    let e = fails(&["import", s(&dir.join("model.npz")), "--out", s(&back)]);
    assert!(e.contains("already holds a run"), "{e}");
}

#[test]
fn leaky_layout_carries_alpha_and_the_activation() {
    let dir = tmp_dir("leaky");
    let run = tiny_run(
        &dir,
        &[
            "--family",
            "dense",
            "--activation",
            "tanh",
            "--alpha",
            "0.5",
        ],
    );
    let sd = dir.join("model.safetensors");
    let text = ok(&["export", s(&run), "--format", "torch", "--out", s(&sd)]);
    assert!(
        text.contains("leaky layout") && text.contains("rnn.h2h.weight"),
        "{text}"
    );
    let back = dir.join("back");
    ok(&["import", s(&sd), "--out", s(&back)]);
    assert_eq!(weights(&run), weights(&back));
    assert_eq!(scores(&run), scores(&back));
}

/// A NumPy archive as a PyTorch user would write it: np.savez_compressed, the units shuffled
/// with their positions given, no mask (inferred from the zeros), no metadata (flags instead).
#[test]
fn numpy_written_archives_with_shuffled_units_import_to_the_same_network() {
    let dir = tmp_dir("numpy");
    let run = tiny_run(&dir, &["--family", "local", "--radius", "1"]);
    let sd = dir.join("model.npz");
    ok(&["export", s(&run), "--format", "torch", "--out", s(&sd)]);
    let shuffled = dir.join("shuffled.npz");
    let script = format!(
        r#"
import numpy as np
d = np.load({src:?})
perm = np.random.default_rng(0).permutation(16)
out = {{
    "net.rnn.weight_hh_l0": d["rnn.weight_hh_l0"][perm][:, perm],
    "net.rnn.weight_ih_l0": d["rnn.weight_ih_l0"][perm].astype(np.float64),
    "net.rnn.bias_ih_l0": d["rnn.bias_ih_l0"][perm],
    "net.rnn.bias_hh_l0": d["rnn.bias_hh_l0"][perm],
    "net.fc.weight": np.asfortranarray(d["readout.weight"][:, perm]),
    "net.fc.bias": d["readout.bias"],
    "net.unit_positions": d["positions"][perm].astype(np.int64),
}}
np.savez_compressed({dst:?}, **out)
"#,
        src = s(&sd),
        dst = s(&shuffled)
    );
    let o = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "numpy failed (install it with .ci/install-tools): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Without tasks or an activation the import says what to give.
    let back = dir.join("back");
    let e = fails(&["import", s(&shuffled), "--out", s(&back)]);
    assert!(e.contains("--tasks") && e.contains("35 inputs"), "{e}");
    assert!(!back.exists(), "a failed import wrote {}", back.display());
    let e = fails(&[
        "import",
        s(&shuffled),
        "--tasks",
        "go,dm1",
        "--out",
        s(&back),
    ]);
    assert!(e.contains("--activation"), "{e}");
    let text = ok(&[
        "import",
        s(&shuffled),
        "--tasks",
        "go,dm1",
        "--activation",
        "relu",
        "--seed",
        "5",
        "--eval-trials",
        "8",
        "--out",
        s(&back),
    ]);
    assert!(text.contains("inferred from the exact zeros"), "{text}");
    assert!(text.contains("units reordered"), "{text}");
    assert!(
        text.contains("sheet 4x4 (from `net.unit_positions`)"),
        "{text}"
    );
    // The same network (now of family `mask`): the same dense matrices, the same scores.
    assert_eq!(dense(&run), dense(&back));
    assert_eq!(scores(&run), scores(&back));
}

#[test]
fn mismatches_name_the_tensor_and_write_nothing() {
    let dir = tmp_dir("bad");
    let n = 4;
    let arr = |shape: &[usize]| Array::new(shape, &vec![0.1f32; shape.iter().product()]).unwrap();
    let write = |name: &str, arrays: &[(&str, Array)]| {
        let path = dir.join(name);
        let refs: Vec<(&str, &Array)> = arrays.iter().map(|(n, a)| (*n, a)).collect();
        npz::save_npz(&path, &refs).unwrap();
        path
    };
    let good = [
        ("rnn.weight_hh_l0", arr(&[n, n])),
        ("rnn.weight_ih_l0", arr(&[n, 35])),
        ("readout.weight", arr(&[17, n])),
    ];
    let out = dir.join("out");
    let base = [
        "--tasks",
        "go,dm1",
        "--activation",
        "relu",
        "--out",
        s(&out),
    ];
    type Case<'a> = (&'a str, Vec<(&'a str, Array)>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "inputs.npz",
            vec![
                ("rnn.weight_hh_l0", arr(&[n, n])),
                ("rnn.weight_ih_l0", arr(&[n, 40])),
                ("readout.weight", arr(&[17, n])),
            ],
            "tensor `rnn.weight_ih_l0` (w_in) has shape [4, 40], expected [4, 35]",
        ),
        (
            "readout.npz",
            vec![
                ("rnn.weight_hh_l0", arr(&[n, n])),
                ("rnn.weight_ih_l0", arr(&[n, 35])),
                ("readout.weight", arr(&[17, n])),
                ("readout.bias", arr(&[3])),
            ],
            "tensor `readout.bias` (b_o) has shape [3], expected [17]",
        ),
        (
            "mask.npz",
            vec![
                good[0].clone(),
                good[1].clone(),
                good[2].clone(),
                ("mask", arr(&[n, n])),
            ],
            "tensor `mask` (mask) has the value 0.1 at [0, 0]",
        ),
        (
            "square.npz",
            vec![
                ("rnn.weight_hh_l0", arr(&[n, 3])),
                ("rnn.weight_ih_l0", arr(&[n, 35])),
                ("readout.weight", arr(&[17, n])),
            ],
            "tensor `rnn.weight_hh_l0` (w_rec) has shape [4, 3], expected [N, N]",
        ),
    ];
    for (file, arrays, want) in cases {
        let path = write(file, &arrays);
        let mut args = vec!["import", s(&path)];
        args.extend_from_slice(&base);
        let e = fails(&args);
        assert!(e.contains(want), "{file}: {e}");
        assert!(
            !out.exists(),
            "{file}: a failed import wrote {}",
            out.display()
        );
    }
    // The good file imports; a family the weights do not fit is refused by name.
    let path = write("good.npz", &good);
    let mut args = vec!["import", s(&path), "--family", "autapse"];
    args.extend_from_slice(&base);
    let e = fails(&args);
    assert!(e.contains("does not match family autapse"), "{e}");
    assert!(!out.exists());
    let mut args = vec!["import", s(&path)];
    args.extend_from_slice(&base);
    let text = ok(&args);
    assert!(text.contains("b_o       =  0"), "{text}");
    assert!(out.join("config.toml").exists());
}

/// The runtime's outputs on a dumped batch, [T, B, 17], from a blob.
fn runtime_outputs(blob: &[u8], inputs: &[f32], t_len: usize, batch: usize) -> Vec<f32> {
    let model = ModelView::from_bytes(blob).unwrap();
    let (n_in, n_out) = (model.n_inputs(), model.n_outputs());
    let mut buf = vec![0.0; State::buffer_len(model.n_hidden())];
    let mut state = State::new(model.n_hidden(), &mut buf).unwrap();
    let mut out = vec![0.0f32; t_len * batch * n_out];
    for b in 0..batch {
        state.reset();
        for t in 0..t_len {
            let row = t * batch + b;
            kernel::step(
                &model,
                &mut state,
                &inputs[row * n_in..(row + 1) * n_in],
                &mut out[row * n_out..(row + 1) * n_out],
            )
            .unwrap();
        }
    }
    out
}

#[test]
fn numpy_reference_agrees_with_the_runtime() {
    let script = repo_file("examples/numpy_forward.py");
    for (name, extra) in [
        ("relu", vec!["--family", "local", "--radius", "1.5"]),
        (
            "leaky",
            vec![
                "--family",
                "dense",
                "--activation",
                "tanh",
                "--alpha",
                "0.5",
            ],
        ),
    ] {
        let dir = tmp_dir(&format!("ref-{name}"));
        let run = tiny_run(&dir, &extra);
        let batch = dir.join("batch.npz");
        ok(&[
            "tasks",
            "dump",
            "--tasks",
            "go,dm1",
            "--batch",
            "4",
            "--seq-len",
            "40",
            "--seed",
            "3",
            "--out",
            s(&batch),
        ]);
        let blob_path = dir.join("model.gyrus");
        ok(&[
            "export",
            s(&run),
            "--out",
            s(&blob_path),
            "--threshold",
            "0",
        ]);
        let blob = std::fs::read(&blob_path).unwrap();
        let arrays = npz::read_npz(&std::fs::read(&batch).unwrap()).unwrap();
        let inputs = arrays[0].1.to_f32().unwrap();
        let out = runtime_outputs(&blob, &inputs, 40, 4);
        let reference = dir.join("runtime.npz");
        let wrong = dir.join("wrong.npz");
        let arr = Array::new(&[40, 4, 17], &out).unwrap();
        npz::save_npz(&reference, &[("outputs", &arr)]).unwrap();
        let off: Vec<f32> = out.iter().map(|v| v + 1e-3).collect();
        let arr = Array::new(&[40, 4, 17], &off).unwrap();
        npz::save_npz(&wrong, &[("outputs", &arr)]).unwrap();
        let inspected = dir.join("inspect.npz");
        ok(&["inspect", s(&blob_path), "--npz", s(&inspected)]);
        let mut files = vec![inspected];
        for ext in ["safetensors", "npz"] {
            let sd = dir.join(format!("model.{ext}"));
            ok(&["export", s(&run), "--format", "torch", "--out", s(&sd)]);
            files.push(sd);
        }
        for weights in &files {
            let o = python(
                &script,
                &[s(weights), s(&batch), "--compare", s(&reference)],
            );
            let text = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "{name} {}: {text}", weights.display());
            assert!(text.contains("OK: the outputs agree"), "{text}");
            // The check can fail: outputs off by 1e-3 are refused.
            let o = python(&script, &[s(weights), s(&batch), "--compare", s(&wrong)]);
            assert!(!o.status.success(), "{name}: a 1e-3 error passed");
            assert!(String::from_utf8_lossy(&o.stdout).contains("FAIL"));
        }
    }
}
