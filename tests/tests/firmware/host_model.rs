//! The host side of the model parity: the firmware's default blob, opened by the runtime on the
//! host at a 4-aligned address like the firmware's, evaluated with the same seeds.

use crate::output_digest::{outputs_digest, Scratch, Weights, EVAL_SEED, EVAL_TRIALS};
use gyrus_runtime::aligned::AlignedCopy;
use gyrus_runtime::eval::{self, EvalBuffers, EvalConfig};
use gyrus_runtime::format::ModelView;
use gyrus_runtime::kernel::State;
use gyrus_runtime::tasks::{Config, Score, Task, TaskList};
use std::path::{Path, PathBuf};

/// `firmware/models/default.gyrus`.
pub fn default_model_path() -> PathBuf {
    crate::run::firmware_dir().join("models/default.gyrus")
}

/// A blob in 4-aligned memory.
pub struct AlignedBlob(AlignedCopy);

impl AlignedBlob {
    /// Reads a blob file.
    pub fn read(path: &Path) -> Self {
        let bytes =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        AlignedBlob(AlignedCopy::new(&bytes))
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        self.0.bytes()
    }

    /// The opened model (panics on a bad blob: the test cannot proceed).
    pub fn view(&self) -> ModelView<'_> {
        let m = ModelView::from_bytes(self.bytes())
            .unwrap_or_else(|e| panic!("default model does not open: {e}"));
        assert!(m.is_zero_copy());
        m
    }
}

fn tasks(model: &ModelView<'_>) -> Vec<Task> {
    (0..model.n_tasks())
        .map(|i| model.task(i).expect("task name of the blob"))
        .collect()
}

/// Per-task scores from the runtime's eval loop, as the firmware computes them.
pub fn evaluate(model: &ModelView<'_>, w: Weights) -> Vec<Score> {
    let n = model.n_tasks();
    let cfg = EvalConfig {
        int8: w == Weights::Int8,
        ..EvalConfig::new(EVAL_SEED, EVAL_TRIALS)
    };
    let mut tasks = tasks(model);
    let mut state = vec![0.0; State::buffer_len(model.n_hidden())];
    let mut input = vec![0.0; model.n_inputs()];
    let mut output = vec![0.0; model.n_outputs()];
    let mut decisions = vec![0u8; eval::max_trial_len(model, &cfg.generator)];
    let mut bufs = EvalBuffers {
        tasks: &mut tasks,
        state: &mut state,
        input: &mut input,
        output: &mut output,
        decisions: &mut decisions,
    };
    let mut scores = vec![Score::default(); n];
    eval::evaluate(model, &cfg, &mut bufs, &mut scores).expect("host evaluation");
    scores
}

/// Per-task output digests and step counts.
pub fn output_digests(model: &ModelView<'_>, w: Weights) -> Vec<(u32, u32)> {
    let tasks = tasks(model);
    let list = TaskList::Custom(&tasks);
    let mut state = vec![0.0; State::buffer_len(model.n_hidden())];
    let mut input = vec![0.0; model.n_inputs()];
    let mut output = vec![0.0; model.n_outputs()];
    let mut scratch = Scratch {
        state: &mut state,
        input: &mut input,
        output: &mut output,
    };
    (0..tasks.len())
        .map(|rule| {
            outputs_digest(model, &list, rule, w, &Config::default(), &mut scratch)
                .expect("host digest")
        })
        .collect()
}
