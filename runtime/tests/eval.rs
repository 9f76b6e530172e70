//! The evaluation loop on a tiny model whose decisions are known: it fixates while the fixation
//! input is on and answers ring direction 0 afterwards. The expected scores are computed here from
//! the same seeded trials' targets.

use gyrus_runtime::eval::{self, EvalBuffers, EvalConfig, EvalError};
use gyrus_runtime::format::{Activation, CsrRepr, MatrixRepr, ModelRepr, ModelView, Readout};
use gyrus_runtime::kernel::State;
use gyrus_runtime::tasks::{self, eval_trial, Base, Config, Score, Task, TaskList};

const TASKS: [&str; 4] = ["go", "dlyanti", "dms", "goseqr"];

/// One hidden unit h = relu(fixation input); o_0 = h, o_1 = 0.5 (direction 0), others 0.
fn tiny() -> ModelRepr {
    let n_in = tasks::n_inputs(TASKS.len());
    let mut w_in = vec![0.0; n_in];
    w_in[0] = 1.0;
    let mut w_out = vec![0.0; 17];
    w_out[0] = 1.0;
    let mut b_o = vec![0.0; 17];
    b_o[1] = 0.5;
    let mut m = ModelRepr {
        n_inputs: n_in,
        n_hidden: 1,
        n_outputs: 17,
        sheet_rows: 1,
        sheet_cols: 1,
        pitch: 1.0,
        positions: vec![(0, 0)],
        recurrent: CsrRepr::from_dense(1, 1, &[0.0], |x| x != 0.0),
        input: MatrixRepr::compact(1, n_in, &w_in),
        output: MatrixRepr::compact(17, 1, &w_out),
        b_h: vec![0.0],
        b_o,
        activation: Activation::Relu,
        alpha: 1.0,
        readout: Readout::Argmax,
        tasks: TASKS.iter().map(|s| s.to_string()).collect(),
        wiring_length: 0.0,
        active_connections: 0,
        seed: 0,
        int8: None,
        weights: gyrus_runtime::format::Weights::F32,
        layout: gyrus_runtime::format::RecLayout::Rows,
    };
    m.quantize_int8(1.0);
    m
}

/// The scores of the decisions "0 before the decision period, 1 from it on", from the targets.
fn expected(cfg: &EvalConfig) -> Vec<Score> {
    let list: Vec<Task> = TASKS.iter().map(|s| Task::parse(s).unwrap()).collect();
    let list = TaskList::Custom(&list);
    (0..TASKS.len())
        .map(|rule| {
            let mut s = Score::default();
            for i in 0..cfg.trials {
                let (trial, _) =
                    eval_trial(&list, rule, cfg.seed, u64::from(i), &cfg.generator).unwrap();
                let ds = trial.decision_start();
                let decisions: Vec<u8> = (0..trial.len()).map(|t| u8::from(t >= ds)).collect();
                s.add_decisions(&trial, &decisions);
            }
            s
        })
        .collect()
}

fn run(view: &ModelView<'_>, cfg: &EvalConfig) -> Result<Vec<Score>, EvalError> {
    let mut task_buf = [Task::base(Base::Go); 8];
    let mut state = [0.0; State::buffer_len(1)];
    let mut input = vec![0.0; view.n_inputs()];
    let mut output = [0.0; 17];
    let mut decisions = vec![0u8; eval::max_trial_len(view, &cfg.generator)];
    let mut bufs = EvalBuffers {
        tasks: &mut task_buf,
        state: &mut state,
        input: &mut input,
        output: &mut output,
        decisions: &mut decisions,
    };
    let mut scores = vec![Score::default(); view.n_tasks()];
    eval::evaluate(view, cfg, &mut bufs, &mut scores)?;
    Ok(scores)
}

#[test]
fn scores_match_the_known_decisions() {
    let blob = tiny().to_bytes().unwrap();
    let view = ModelView::from_bytes(&blob).unwrap();
    let mut cfg = EvalConfig::new(42, 40);
    cfg.generator = Config::default().noise_free();
    let want = expected(&cfg);
    let got = run(&view, &cfg).unwrap();
    assert_eq!(got, want);
    // Not degenerate: go trials always answer, so some succeed and some fail.
    let total: Score = got.iter().fold(Score::default(), |mut a, s| {
        a.merge(s);
        a
    });
    assert_eq!(total.trials, 160);
    assert!(total.last > 0 && total.last < total.trials, "{total:?}");
    assert!(total.strict > 0, "{total:?}");
    cfg.int8 = true;
    assert_eq!(
        run(&view, &cfg).unwrap(),
        want,
        "int8 weights 1.0 and 0.5 quantise exactly"
    );
    // The same seed gives the same scores; another seed other trials.
    assert_eq!(run(&view, &cfg).unwrap(), want);
    cfg.seed = 43;
    assert_eq!(run(&view, &cfg).unwrap(), expected(&cfg));
}

#[test]
fn short_buffers_and_mismatched_models_are_refused() {
    let blob = tiny().to_bytes().unwrap();
    let view = ModelView::from_bytes(&blob).unwrap();
    let cfg = EvalConfig::new(1, 2);
    let mut task_buf = [Task::base(Base::Go); 8];
    let (mut state, mut input, mut output) = ([0.0; 2], vec![0.0; view.n_inputs()], [0.0; 17]);
    let mut decisions = [0u8; 3];
    let mut bufs = EvalBuffers {
        tasks: &mut task_buf,
        state: &mut state,
        input: &mut input,
        output: &mut output,
        decisions: &mut decisions,
    };
    let mut scores = vec![Score::default(); 4];
    assert!(matches!(
        eval::evaluate(&view, &cfg, &mut bufs, &mut scores),
        Err(EvalError::Buffer { got: 3, .. })
    ));
    let mut m = tiny();
    m.tasks.pop();
    // A task list that does not fit the inputs is refused when the blob is opened, before any
    // evaluation (`FormatError::TaskShape`).
    assert!(matches!(
        ModelView::from_bytes(&m.emit()),
        Err(gyrus_runtime::format::FormatError::TaskShape { .. })
    ));
}
