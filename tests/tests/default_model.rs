//! The firmware's checked-in default model (firmware/models/default.gyrus, a trained export; its
//! run config is firmware/models/default-run.toml): it opens, it has learned its tasks, and its int8
//! variant performs within 1 percentage point of f32 on the same seeded trials.

use gyrus_runtime::aligned::Aligned;
use gyrus_runtime::format::ModelView;
use gyrus_runtime::tasks::{self, Score};
use gyrus_trainer::export::runtime_evaluate;

const TRIALS: u32 = 64;

static BLOB: &Aligned<[u8]> = &Aligned(*include_bytes!("../../firmware/models/default.gyrus"));

#[test]
fn default_model_is_trained_and_int8_loses_under_one_point() {
    let view = ModelView::from_bytes(BLOB.bytes()).expect("the default model opens");
    assert!(
        view.int8().is_some(),
        "the default model carries the int8 variant"
    );
    let cfg = tasks::Config::default();
    let mean = |int8: bool| {
        let scores = runtime_evaluate(&view, 1234, TRIALS, cfg, int8).unwrap();
        Score::mean_over_tasks(&scores)
    };
    let (f32_last, f32_strict) = mean(false);
    let (i8_last, i8_strict) = mean(true);
    println!(
        "default model, {TRIALS} trials per task: f32 last {f32_last:.4} strict {f32_strict:.4}; \
         int8 last {i8_last:.4} strict {i8_strict:.4}"
    );
    // Chance on cog20 is far below this: the model is a trained one.
    assert!(f32_last > 0.85, "default model performs at {f32_last}");
    assert!(
        (f32_last - i8_last).abs() <= 0.01,
        "int8 {i8_last} vs f32 {f32_last}"
    );
    assert!(
        (f32_strict - i8_strict).abs() <= 0.01,
        "int8 {i8_strict} vs f32 {f32_strict}"
    );
}
