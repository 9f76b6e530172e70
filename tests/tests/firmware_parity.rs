//! Host runtime vs firmware under QEMU (Cortex-M4F, mps2-an386): the firmware is built and run
//! (`cargo run --release` in firmware/), its defmt log is decoded, and every figure it logs that
//! the host can recompute must be bit-identical.
//!
//! Needs `qemu-system-arm`, `defmt-print` and the `thumbv7em-none-eabihf` target; fails (never
//! skips) without them.

#[path = "../../firmware/src/digest.rs"]
mod digest;
#[path = "firmware/host_model.rs"]
mod host_model;
#[path = "../../firmware/src/output_digest.rs"]
mod output_digest;
#[path = "firmware/run.rs"]
mod run;
#[path = "../../firmware/src/trial_digest.rs"]
mod trial_digest;

use gyrus_runtime::tasks::{Collection, Config, TaskList};
use std::collections::BTreeMap;

/// The log of the firmware built with the checked-in default model (named explicitly, so that a
/// GYRUS_MODEL in the environment cannot change what is compared).
fn log() -> &'static run::Log {
    run::firmware_log(&[(
        "GYRUS_MODEL",
        host_model::default_model_path().display().to_string(),
    )])
}

#[test]
fn firmware_exits_cleanly_and_calibrates() {
    let log = log();
    let done = log.records("DONE");
    assert_eq!(
        done.len(),
        1,
        "one DONE line expected:\n{}",
        log.lines.join("\n")
    );
    assert!(run::field::<bool>(&done[0], "ok"));
    let cal = log.records("CAL");
    assert_eq!(cal.len(), 1);
    let instr: u32 = run::field(&cal[0], "instr");
    let ticks: u32 = run::field(&cal[0], "ticks");
    // -icount shift=0 on mps2-an386: 25 MHz SysTick = 40 instructions per tick (±1 tick).
    assert!(
        (instr / 40).abs_diff(ticks) <= 1,
        "calibration {instr} instructions -> {ticks} ticks"
    );
}

#[test]
fn task_generator_trials_are_bit_identical_on_the_firmware() {
    let log = log();
    let mut fw: BTreeMap<(String, usize), (u32, u32)> = BTreeMap::new();
    for rec in log.records("PARITY tasks") {
        let key = (
            run::field::<String>(&rec, "coll"),
            run::field::<usize>(&rec, "rule"),
        );
        assert_eq!(run::field::<u64>(&rec, "trials"), trial_digest::TRIALS);
        let val = (
            run::field::<u32>(&rec, "fnv"),
            run::field::<u32>(&rec, "steps"),
        );
        assert!(fw.insert(key.clone(), val).is_none(), "duplicate {key:?}");
    }
    let cfg = Config::default();
    let mut checked = 0;
    let mut distinct = std::collections::BTreeSet::new();
    for coll in Collection::ALL {
        let list = TaskList::Collection(coll);
        for rule in 0..list.len() {
            let host = trial_digest::trials_digest(
                &list,
                rule,
                trial_digest::SEED,
                trial_digest::TRIALS,
                &cfg,
            )
            .expect("host generator");
            let got = fw.get(&(coll.name().to_string(), rule)).unwrap_or_else(|| {
                panic!("firmware logged no digest for {} rule {rule}", coll.name())
            });
            assert_eq!(
                *got,
                host,
                "{} rule {rule} ({:?}): firmware (fnv, steps) vs host",
                coll.name(),
                list.get(rule)
            );
            assert!(host.1 > 0);
            distinct.insert(host.0);
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        fw.len(),
        "firmware logged tasks the host does not know"
    );
    assert_eq!(checked, 20 + 82 + 126);
    // A digest that ignored its input would make the comparison vacuous.
    assert_eq!(
        distinct.len(),
        checked,
        "digests of different tasks collide"
    );
}

#[test]
fn model_measures_match_the_host_runtime() {
    let log = log();
    let blob = host_model::AlignedBlob::read(&host_model::default_model_path());
    let model = blob.view();
    let host = gyrus_runtime::measure::measure(&model);
    let recs = log.records("PARITY measure");
    assert_eq!(recs.len(), 1, "one PARITY measure line expected");
    let rec = &recs[0];
    assert_eq!(
        run::field::<u64>(rec, "wiring_bits"),
        host.wiring_length.to_bits()
    );
    assert_eq!(run::field::<u32>(rec, "active"), host.active_connections);
    assert_eq!(run::field::<u32>(rec, "stored"), host.stored_connections);
    assert_eq!(
        run::field::<u32>(rec, "trained_active"),
        model.trained_active_connections()
    );
    // The runtime's measures agree with the numbers the exporter wrote into the blob.
    assert_eq!(host.active_connections, model.trained_active_connections());
    let trained = model.trained_wiring_length();
    assert!(
        (host.wiring_length - trained).abs() <= 1e-9 * trained.abs().max(1.0),
        "wiring length {} recomputed vs {trained} stored",
        host.wiring_length
    );
    let model_rec = &log.records("MODEL")[0];
    assert_eq!(run::field::<usize>(model_rec, "bytes"), blob.bytes().len());
    assert_eq!(run::field::<usize>(model_rec, "hidden"), model.n_hidden());
    assert_eq!(
        run::field::<usize>(model_rec, "recurrent_nnz"),
        model.recurrent().nnz()
    );
    assert!(
        run::field::<bool>(model_rec, "zero_copy"),
        "the firmware must read the blob in place"
    );
    let fp = &log.records("FOOTPRINT")[0];
    assert_eq!(run::field::<usize>(fp, "blob"), blob.bytes().len());
    assert!(run::field::<usize>(fp, "flash") > blob.bytes().len());
}

#[test]
fn model_scores_and_outputs_are_bit_identical_on_the_firmware() {
    let log = log();
    let blob = host_model::AlignedBlob::read(&host_model::default_model_path());
    let model = blob.view();
    let kernels: Vec<output_digest::Weights> = output_digest::Weights::ALL
        .into_iter()
        .filter(|w| match w {
            output_digest::Weights::F32 => model.has_f32(),
            output_digest::Weights::Int8 => model.int8().is_some(),
        })
        .collect();
    let scores = log.records("PARITY score");
    let outs = log.records("PARITY out");
    assert_eq!(scores.len(), kernels.len() * model.n_tasks());
    assert_eq!(outs.len(), kernels.len() * model.n_tasks());
    let mut distinct = std::collections::BTreeSet::new();
    for w in kernels {
        let host_scores = host_model::evaluate(&model, w);
        let host_outs = host_model::output_digests(&model, w);
        for (rule, (hs, ho)) in host_scores.iter().zip(&host_outs).enumerate() {
            let of = |recs: &[Vec<(String, String)>]| {
                recs.iter()
                    .find(|r| {
                        run::field::<String>(r, "kernel") == w.name()
                            && run::field::<usize>(r, "rule") == rule
                    })
                    .cloned()
                    .unwrap_or_else(|| {
                        panic!("no firmware line for kernel {} rule {rule}", w.name())
                    })
            };
            let s = of(&scores);
            let got = (
                run::field::<u32>(&s, "trials"),
                run::field::<u32>(&s, "last"),
                run::field::<u32>(&s, "strict"),
            );
            assert_eq!(
                got,
                (hs.trials, hs.last, hs.strict),
                "{} rule {rule}: score",
                w.name()
            );
            assert_eq!(hs.trials, output_digest::EVAL_TRIALS);
            let o = of(&outs);
            let got = (run::field::<u32>(&o, "fnv"), run::field::<u32>(&o, "steps"));
            assert_eq!(got, *ho, "{} rule {rule}: output bits differ", w.name());
            distinct.insert(ho.0);
        }
        let cost = log
            .records("COST")
            .into_iter()
            .find(|r| run::field::<String>(r, "kernel") == w.name())
            .unwrap_or_else(|| panic!("no COST line for {}", w.name()));
        assert!(run::field::<f32>(&cost, "instr_per_step") > 0.0);
    }
    // The default model's f32 recurrent weights are in diagonals, so the f32 lines above compare
    // the diagonal kernel (its Cortex-M4F assembly) with the host's portable one.
    if model.has_f32() {
        assert_eq!(
            model.rec_layout(),
            Some(gyrus_runtime::format::RecLayout::Diagonal)
        );
    }
    // A digest that ignored the outputs would make the comparison vacuous.
    assert!(distinct.len() > model.n_tasks(), "output digests collide");
}
