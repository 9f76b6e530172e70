//! Deployment simulation (`gyrus deploy sim`): an exported model run over whole task trials with
//! the plain kernel or the runtime's event-driven delta kernel
//! ([`gyrus_runtime::kernel::delta`]), its messages routed on a tiled mesh of cores ([`mesh`],
//! [`placement`]).
//!
//! [`simulate`] mirrors the runtime's evaluation loop (`gyrus_runtime::eval::evaluate`: the same
//! seeded trials, h = 0 at each trial start, argmax decisions, [`Score`]) and counts per step:
//! - messages: units that sent (plain: every unit with at least one target, every step);
//! - synaptic updates of the recurrent product (plain: the stored recurrent weights, nnz);
//! - per placement, the mesh's packets, hops and busiest link ([`mesh::Traffic`]).
//!
//! The input product and the readout are the same in both modes and are not counted.

pub mod mesh;
pub mod placement;

use anyhow::{anyhow, bail, Result};
use gyrus_runtime::format::ModelView;
use gyrus_runtime::kernel::delta::{self, DeltaState, Outgoing};
use gyrus_runtime::kernel::{self, State};
use gyrus_runtime::tasks::{self, argmax, eval_trial, Score, Task, TaskList};

use mesh::{Mesh, Traffic};

/// How the recurrent product runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// The plain kernel: every unit sends every step.
    Plain,
    /// The delta kernel with threshold theta.
    Delta(f32),
}

impl Mode {
    /// Label for tables: `plain` or `theta=0.05`.
    pub fn label(&self) -> String {
        match self {
            Mode::Plain => "plain".to_string(),
            Mode::Delta(t) => format!("theta={t}"),
        }
    }
}

/// What to simulate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimConfig {
    /// Evaluation seed ([`tasks::eval_trial`]).
    pub seed: u64,
    /// Trials per task.
    pub trials: u32,
    /// Generator settings.
    pub generator: tasks::Config,
}

/// Counts and scores of one simulation.
#[derive(Clone, Debug)]
pub struct SimResult {
    /// The mode simulated.
    pub mode: Mode,
    /// Steps run (over all trials).
    pub steps: u64,
    /// Unit messages sent.
    pub messages: u64,
    /// Recurrent synaptic updates performed.
    pub updates: u64,
    /// Stored recurrent weights (the plain kernel's updates per step).
    pub nnz: usize,
    /// Hidden units.
    pub n_hidden: usize,
    /// Mesh traffic, one per mesh given to [`simulate`].
    pub traffic: Vec<Traffic>,
    /// Link loads of each mesh in the snapshot step (the middle step of the first trial of the
    /// first task).
    pub snapshot: Vec<Vec<u32>>,
    /// Per-task scores.
    pub scores: Vec<Score>,
}

impl SimResult {
    /// Messages per step.
    pub fn messages_per_step(&self) -> f64 {
        self.messages as f64 / self.steps.max(1) as f64
    }

    /// Synaptic updates per step.
    pub fn updates_per_step(&self) -> f64 {
        self.updates as f64 / self.steps.max(1) as f64
    }

    /// Mean over tasks of the (last, strict) success rates.
    pub fn performance(&self) -> (f32, f32) {
        Score::mean_over_tasks(&self.scores)
    }
}

/// The outgoing (transposed) recurrent weights of a model, owned.
pub struct OutgoingBuf {
    off: Vec<u32>,
    tgt: Vec<u16>,
    w: Vec<f32>,
}

impl OutgoingBuf {
    /// Builds the buffers of `model`.
    pub fn new(model: &ModelView<'_>) -> Result<Self> {
        let (a, b, c) = Outgoing::buffer_lens(model);
        let mut me = OutgoingBuf {
            off: vec![0; a],
            tgt: vec![0; b],
            w: vec![0.0; c],
        };
        Outgoing::build(model, &mut me.off, &mut me.tgt, &mut me.w)
            .map_err(|e| anyhow!("cannot transpose the recurrent weights: {e}"))?;
        Ok(me)
    }

    /// The structure over the buffers (built in [`OutgoingBuf::new`]).
    pub fn view(&self) -> Result<Outgoing<'_>> {
        Outgoing::from_parts(&self.off, &self.tgt, &self.w)
            .map_err(|e| anyhow!("bad outgoing structure: {e}"))
    }
}

/// Runs `cfg.trials` trials of every task of `model` in `mode`, routing every message on each of
/// `meshes` (all built for this model).
pub fn simulate(
    model: &ModelView<'_>,
    out: &Outgoing<'_>,
    mode: Mode,
    meshes: &mut [Mesh],
    cfg: &SimConfig,
) -> Result<SimResult> {
    let n_tasks = model.n_tasks();
    if n_tasks == 0 {
        bail!("the model has no task list");
    }
    // The task list fits the inputs and outputs: checked by `ModelView::from_bytes`.
    let list: Vec<Task> = (0..n_tasks)
        .map(|i| model.task(i).ok_or_else(|| anyhow!("bad task {i}")))
        .collect::<Result<_>>()?;
    let list = TaskList::Custom(&list);
    let n = model.n_hidden();
    let senders: Vec<usize> = (0..n).filter(|&j| !out.of(j).0.is_empty()).collect();
    let mut pbuf = vec![0.0; State::buffer_len(n)];
    let mut dbuf = vec![0.0; DeltaState::buffer_len(n)];
    let mut plain = State::new(n, &mut pbuf)?;
    let mut ds = DeltaState::new(n, &mut dbuf).map_err(|e| anyhow!("{e}"))?;
    let mut input = vec![0.0; model.n_inputs()];
    let mut output = vec![0.0; model.n_outputs()];
    let mut res = SimResult {
        mode,
        steps: 0,
        messages: 0,
        updates: 0,
        nnz: out.nnz(),
        n_hidden: n,
        traffic: Vec::new(),
        snapshot: vec![Vec::new(); meshes.len()],
        scores: vec![Score::default(); n_tasks],
    };
    for m in meshes.iter_mut() {
        m.totals = Traffic::default();
    }
    for (rule, score) in res.scores.iter_mut().enumerate() {
        for i in 0..cfg.trials {
            let (trial, mut rng) = eval_trial(&list, rule, cfg.seed, u64::from(i), &cfg.generator)?;
            let mut decisions = vec![0u8; trial.len()];
            plain.reset();
            ds.reset();
            for (t, d) in decisions.iter_mut().enumerate() {
                trial.write_step(t, &mut rng, &mut input)?;
                match mode {
                    Mode::Plain => {
                        kernel::step(model, &mut plain, &input, &mut output)?;
                        for &j in &senders {
                            meshes.iter_mut().for_each(|m| m.send(j));
                        }
                        res.messages += senders.len() as u64;
                        res.updates += out.nnz() as u64;
                    }
                    Mode::Delta(theta) => {
                        let c = delta::step_with(
                            model,
                            out,
                            &mut ds,
                            theta,
                            &input,
                            &mut output,
                            |j| meshes.iter_mut().for_each(|m| m.send(j)),
                        )
                        .map_err(|e| anyhow!("delta step: {e}"))?;
                        res.messages += u64::from(c.messages);
                        res.updates += u64::from(c.updates);
                    }
                }
                if rule == 0 && i == 0 && t == trial.len() / 2 {
                    for (s, m) in res.snapshot.iter_mut().zip(meshes.iter()) {
                        *s = m.loads().to_vec();
                    }
                }
                meshes.iter_mut().for_each(Mesh::end_step);
                res.steps += 1;
                *d = argmax(&output) as u8;
            }
            score.add_decisions(&trial, &decisions);
        }
    }
    res.traffic = meshes.iter().map(|m| m.totals).collect();
    Ok(res)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::placement::{Layout, Placement};
    use super::*;
    use crate::export::runtime_evaluate;
    use gyrus_runtime::format::{Activation, CsrRepr, MatrixRepr, ModelRepr, Readout};
    use gyrus_runtime::tasks::Rng;

    /// A random tanh network on a `rows x cols` sheet, every unit wired to every unit within
    /// distance 1.5, with two tasks.
    pub(crate) fn tiny_model(rows: u16, cols: u16) -> ModelRepr {
        let mut rng = Rng::new(17);
        let mut u = |a: f32| (2.0 * rng.uniform() - 1.0) * a;
        let positions: Vec<(u16, u16)> = (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .collect();
        let n = positions.len();
        let n_in = tasks::n_inputs(2);
        let mut w = vec![0.0; n * n];
        for (i, &(ri, ci)) in positions.iter().enumerate() {
            for (j, &(rj, cj)) in positions.iter().enumerate() {
                let d = f32::from(ri.abs_diff(rj)).hypot(f32::from(ci.abs_diff(cj)));
                if d <= 1.5 {
                    w[i * n + j] = u(0.7);
                }
            }
        }
        let w_in: Vec<f32> = (0..n * n_in).map(|_| u(0.5)).collect();
        let w_out: Vec<f32> = (0..17 * n).map(|_| u(0.5)).collect();
        ModelRepr {
            n_inputs: n_in,
            n_hidden: n,
            n_outputs: 17,
            sheet_rows: rows,
            sheet_cols: cols,
            pitch: 1.0,
            positions,
            recurrent: CsrRepr::from_dense(n, n, &w, |x| x != 0.0),
            input: MatrixRepr::compact(n, n_in, &w_in),
            output: MatrixRepr::compact(17, n, &w_out),
            b_h: (0..n).map(|_| u(0.1)).collect(),
            b_o: (0..17).map(|_| u(0.1)).collect(),
            activation: Activation::Tanh,
            alpha: 0.2,
            readout: Readout::Argmax,
            tasks: vec!["go".into(), "dlyanti".into()],
            wiring_length: 0.0,
            active_connections: 0,
            seed: 0,
            int8: None,
            weights: gyrus_runtime::format::Weights::F32,
            layout: gyrus_runtime::format::RecLayout::Rows,
        }
    }

    #[test]
    fn plain_and_theta_zero_score_like_the_runtime_evaluation() {
        let blob = tiny_model(6, 6).to_bytes().unwrap();
        let view = ModelView::from_bytes(&blob).unwrap();
        let ob = OutgoingBuf::new(&view).unwrap();
        let out = ob.view().unwrap();
        let cfg = SimConfig {
            seed: 3,
            trials: 3,
            generator: tasks::Config::default(),
        };
        let want = runtime_evaluate(&view, cfg.seed, cfg.trials, cfg.generator, false).unwrap();
        let sheet = Layout::new(&view, (2, 2), Placement::Sheet).unwrap();
        let random = Layout::new(&view, (2, 2), Placement::Random(1)).unwrap();
        let mut meshes = vec![Mesh::new(&sheet, &out), Mesh::new(&random, &out)];
        let plain = simulate(&view, &out, Mode::Plain, &mut meshes, &cfg).unwrap();
        let zero = simulate(&view, &out, Mode::Delta(0.0), &mut meshes, &cfg).unwrap();
        let big = simulate(&view, &out, Mode::Delta(0.2), &mut meshes, &cfg).unwrap();
        assert_eq!(plain.scores, want);
        assert_eq!(zero.scores, want);
        assert_eq!(plain.updates, plain.steps * out.nnz() as u64);
        assert_eq!(plain.messages, plain.steps * 36);
        assert!(zero.updates <= plain.updates && zero.messages <= plain.messages);
        assert!(big.messages < zero.messages && big.updates < zero.updates);
        // Local wiring on its own sheet layout: fewer hops than the random placement, and
        // packets never exceed messages x (cores - 1).
        assert!(plain.traffic[0].hops < plain.traffic[1].hops);
        assert!(plain.traffic[0].packets <= plain.messages * 8);
        assert_eq!(plain.snapshot.len(), 2);
        assert!(plain.snapshot[0].iter().any(|&l| l > 0));
    }

    #[test]
    fn random_placement_keeps_the_core_occupancy() {
        let blob = tiny_model(4, 6).to_bytes().unwrap();
        let view = ModelView::from_bytes(&blob).unwrap();
        let a = Layout::new(&view, (2, 3), Placement::Sheet).unwrap();
        let b = Layout::new(&view, (2, 3), Placement::Random(9)).unwrap();
        assert_eq!((a.rows, a.cols), (2, 2));
        let count = |l: &Layout| {
            let mut c = vec![0; l.n_cores()];
            l.core_of.iter().for_each(|&k| c[k] += 1);
            c
        };
        assert_eq!(count(&a), vec![6; 4]);
        assert_eq!(count(&b), vec![6; 4]);
        assert_ne!(a.core_of, b.core_of);
    }
}
