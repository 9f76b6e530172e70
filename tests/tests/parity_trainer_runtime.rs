//! Trainer vs runtime on the host (`docs/format.md`, "Parity"): for relu, tanh and
//! softplus, dense and local (d = 2) networks on a 5 x 5 sheet, trained 20 steps so that the
//! weights differ from their initialisation, exported without pruning:
//! - the trainer's `forward` and the runtime kernel `step` agree over whole trials of every task
//!   of cog20 and modcog: max |difference| < 1e-5 on hidden states and outputs, identical argmax
//!   decisions at every step;
//! - the runtime's `measure` recounts the trainer's wiring length and active connections exactly;
//! - exported with pruning (threshold 1e-2), the runtime's evaluation of the blob equals the
//!   trainer's evaluation of the pruned network on the same seeded trials, and the step-by-step
//!   outputs agree as above;
//! - the int8 variant opens and its performance is reported.
//!
//! The measured maximum differences are printed (`cargo test -p gyrus-tests --test
//! parity_trainer_runtime -- --nocapture`).

use gyrus_runtime::format::{ModelView, RecLayout, Weights};
use gyrus_runtime::kernel::{self, State};
use gyrus_runtime::measure;
use gyrus_runtime::tasks::{argmax, Score, N_CLASSES};
use gyrus_trainer::export::{build_model, prune, runtime_evaluate, Pruned};
use gyrus_trainer::model::{Activation, Family, Network, Sheet};
use gyrus_trainer::tasks::Tasks;
use gyrus_trainer::train::config::RunConfig;
use gyrus_trainer::train::eval::{evaluate, trial_batch};
use gyrus_trainer::train::forward;
use gyrus_trainer::train::run::{eval_seed, Run};
use std::path::PathBuf;

const TRIALS: u32 = 2;
const TOL: f32 = 1e-5;

struct Trained {
    net: Network,
    tasks: Tasks,
    cfg: RunConfig,
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gyrus-parity-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A 5 x 5 network trained 20 steps (batch 4, T = 40) on `collection`.
fn trained(activation: Activation, family: Family, collection: &str, alpha: f32) -> Trained {
    let name = format!("{}-{}-{collection}", activation.name(), family.name());
    let dir = temp_dir(&name);
    let mut cfg = RunConfig::with_sheet(Sheet::new(5, 5));
    cfg.tasks = collection.into();
    cfg.steps = 20;
    cfg.batch = 4;
    cfg.seq_len = Some(40);
    cfg.eval_every = 0;
    cfg.eval_trials = 1;
    cfg.checkpoint_every = 20;
    cfg.seed = 7;
    cfg.net.activation = activation;
    cfg.net.family = family;
    cfg.net.alpha = alpha;
    let mut run = Run::create(&dir, cfg.clone()).expect("run");
    let init = run.network().params().to_vec();
    run.train(20, false).expect("training");
    assert_ne!(
        run.network().params(),
        &init[..],
        "{name}: training changed nothing"
    );
    let t = Trained {
        net: run.network().clone(),
        tasks: run.tasks().clone(),
        cfg,
    };
    let _ = std::fs::remove_dir_all(&dir);
    t
}

/// Max differences (hidden, outputs) and the number of steps compared, between the trainer's
/// `forward` of `net` and the runtime's `step` on `blob`, over `TRIALS` trials of every task.
/// Runtime unit u is trainer unit `kept[u]`; dropped units must not matter.
fn compare(net: &Network, pruned: &Pruned, t: &Trained, blob: &[u8]) -> (f32, f32, usize) {
    let model = ModelView::from_bytes(blob).expect("blob opens");
    let (n, n_in) = (net.n_hidden(), model.n_inputs());
    let gen = t.cfg.generator();
    let seed = eval_seed(t.cfg.seed);
    let mut buf = vec![0.0; State::buffer_len(model.n_hidden())];
    let mut state = State::new(model.n_hidden(), &mut buf).unwrap();
    let mut out = vec![0.0; N_CLASSES];
    let (mut dh, mut dout, mut steps) = (0.0f32, 0.0f32, 0);
    for rule in 0..t.tasks.len() {
        let tb = trial_batch(&t.tasks, rule, &gen, seed, TRIALS).unwrap();
        let b = tb.trials.len();
        let mut hid = vec![0.0; tb.t_max * b * n];
        let mut logits = vec![0.0; tb.t_max * b * N_CLASSES];
        forward(net, &tb.inputs, tb.t_max, b, Some(&mut hid), &mut logits).unwrap();
        for (k, trial) in tb.trials.iter().enumerate() {
            state.reset();
            for step in 0..trial.len() {
                let row = step * b + k;
                kernel::step(
                    &model,
                    &mut state,
                    &tb.inputs[row * n_in..(row + 1) * n_in],
                    &mut out,
                )
                .unwrap();
                for (u, &orig) in pruned.kept.iter().enumerate() {
                    dh = dh.max((state.hidden()[u] - hid[row * n + orig]).abs());
                }
                let want = &logits[row * N_CLASSES..(row + 1) * N_CLASSES];
                for (a, w) in out.iter().zip(want) {
                    dout = dout.max((a - w).abs());
                }
                assert_eq!(
                    argmax(&out),
                    argmax(want),
                    "{}: decision differs at task {rule}, trial {k}, step {step}",
                    t.tasks.names()[rule]
                );
                steps += 1;
            }
        }
    }
    (dh, dout, steps)
}

fn check_measures(blob: &[u8], label: &str) {
    let view = ModelView::from_bytes(blob).unwrap();
    let m = measure::measure(&view);
    assert_eq!(
        m.active_connections,
        view.trained_active_connections(),
        "{label}"
    );
    assert_eq!(
        m.wiring_length.to_bits(),
        view.trained_wiring_length().to_bits(),
        "{label}"
    );
}

fn families() -> [Family; 2] {
    [
        Family::Dense,
        Family::Local {
            d: 2.0,
            torus: false,
        },
    ]
}

fn parity_on(collection: &str) {
    for act in [Activation::Relu, Activation::Tanh, Activation::Softplus] {
        for fam in families() {
            let alpha = if act == Activation::Tanh { 0.5 } else { 1.0 };
            let t = trained(act, fam.clone(), collection, alpha);
            let label = format!("{collection} {} {}", act.name(), fam.name());
            // No pruning: every unit and every nonzero weight is exported.
            let full = prune(&t.net, 0.0).unwrap();
            assert_eq!(full.kept.len(), 25, "{label}: units dropped at threshold 0");
            // Both f32 recurrent layouts (any mask fits either; `--layout auto` picks one).
            let mut full_repr = build_model(&full, &t.tasks, t.cfg.seed, Weights::F32).unwrap();
            for layout in [RecLayout::Rows, RecLayout::Diagonal] {
                full_repr.layout = layout;
                let blob = full_repr.to_bytes().unwrap();
                check_measures(&blob, &label);
                let (dh, dout, steps) = compare(&t.net, &full, &t, &blob);
                println!(
                    "{label}: threshold 0, {} layout, {steps} steps: max |dh| = {dh:.3e}, max |do| = {dout:.3e}",
                    layout.name()
                );
                assert!(
                    dh < TOL && dout < TOL,
                    "{label} {}: {dh} {dout}",
                    layout.name()
                );
            }

            // Pruned at 1e-2: the trainer's pruned network is what the runtime runs.
            let pruned = prune(&t.net, 1e-2).unwrap();
            assert!(
                pruned.recurrent.kept < pruned.recurrent.total,
                "{label}: nothing pruned"
            );
            let mut repr = build_model(&pruned, &t.tasks, t.cfg.seed, Weights::Both).unwrap();
            let blob = repr.to_bytes().unwrap();
            check_measures(&blob, &label);
            let (dh, dout, _) = compare(&pruned.network, &pruned, &t, &blob);
            assert!(dh < TOL && dout < TOL, "{label} pruned: {dh} {dout}");
            let (gen, seed) = (t.cfg.generator(), eval_seed(t.cfg.seed));
            let view = ModelView::from_bytes(&blob).unwrap();
            let rt = runtime_evaluate(&view, seed, TRIALS, gen, false).unwrap();
            let tr = evaluate(&pruned.network, &t.tasks, &gen, seed, TRIALS).unwrap();
            assert_eq!(
                rt, tr.scores,
                "{label}: runtime and trainer evaluations differ"
            );
            let q = runtime_evaluate(&view, seed, TRIALS, gen, true).unwrap();
            let (ql, qs) = Score::mean_over_tasks(&q);
            let (fl, fs) = Score::mean_over_tasks(&rt);
            println!(
                "{label}: threshold 1e-2: {} of 25 units, {} of {} recurrent weights; max |dh| = \
                 {dh:.3e}, max |do| = {dout:.3e}; performance f32 {fl:.3}/{fs:.3}, int8 \
                 {ql:.3}/{qs:.3} (last/strict)",
                pruned.kept.len(),
                pruned.recurrent.kept,
                pruned.recurrent.total
            );
            repr.weights = Weights::F32;
            let f32_only = repr.to_bytes().unwrap();
            assert!(f32_only.len() < blob.len(), "int8 adds weights");
            // An int8-only blob carries no f32 weight matrix and runs the same int8 numbers.
            repr.weights = Weights::Int8;
            let int8_only = repr.to_bytes().unwrap();
            assert!(
                int8_only.len() < f32_only.len(),
                "{label}: int8 blob not smaller"
            );
            let v8 = ModelView::from_bytes(&int8_only).unwrap();
            assert!(!v8.has_f32());
            assert_eq!(
                runtime_evaluate(&v8, seed, TRIALS, gen, true).unwrap(),
                q,
                "{label}: int8-only and f32 + int8 blobs differ"
            );
        }
    }
}

#[test]
fn trainer_and_runtime_agree_on_cog20() {
    parity_on("cog20");
}

#[test]
fn trainer_and_runtime_agree_on_modcog() {
    parity_on("modcog");
}
