//! Opens the embedded model, evaluates it on its task list with the runtime's eval loop and logs
//! scores, measures, output digests, footprint and the cost of one step, for the f32 and the int8
//! weights. Every line the host test checks starts with `PARITY`.

use crate::cost::Meter;
use crate::output_digest::{outputs_digest, Scratch, Weights, EVAL_SEED, EVAL_TRIALS};
use crate::{blob, footprint};
use gyrus_runtime::eval::{self, EvalBuffers, EvalConfig, EvalError};
use gyrus_runtime::format::{ModelView, Precision, WeightsView};
use gyrus_runtime::kernel::State;
use gyrus_runtime::measure;
use gyrus_runtime::tasks::{eval_trial, n_inputs, Base, Score, Task, TaskList, N_CLASSES};

/// Largest model this image evaluates (buffers are sized for it).
const MAX_HIDDEN: usize = 1024;
/// Largest task list (Mod-Cog-full has 126).
const MAX_TASKS: usize = 128;
/// Largest input vector.
const MAX_INPUTS: usize = n_inputs(MAX_TASKS);
/// Longest trial in steps.
const MAX_STEPS: usize = 1024;
/// Steps timed per cost measurement (beats the one-tick resolution).
const COST_REPS: u32 = 64;

/// Runs everything; false when the model cannot be opened or evaluated.
pub fn run(meter: &Meter) -> bool {
    let bytes = blob::bytes();
    let t0 = meter.now();
    let opened = ModelView::from_bytes(bytes);
    let open_instr = meter.per_rep(meter.since(t0), 1);
    let model = match opened {
        Ok(m) => m,
        Err(e) => {
            defmt::error!("model blob rejected ({=usize} bytes): {}", bytes.len(), e);
            return false;
        }
    };
    let nnz = model.recurrent().nnz();
    defmt::info!(
        "MODEL bytes={=usize} inputs={=usize} hidden={=usize} outputs={=usize} recurrent_nnz={=usize} tasks={=usize} int8={=bool} zero_copy={=bool} open_instr={=f32}",
        bytes.len(),
        model.n_inputs(),
        model.n_hidden(),
        model.n_outputs(),
        nnz,
        model.n_tasks(),
        model.int8().is_some(),
        model.is_zero_copy(),
        open_instr
    );
    log_measures(meter, &model);
    match evaluate_all(meter, &model) {
        Ok(()) => true,
        Err(e) => {
            defmt::error!("evaluation failed: {}", e);
            false
        }
    }
}

fn log_measures(meter: &Meter, model: &ModelView<'_>) {
    let t0 = meter.now();
    let m = measure::measure(model);
    let instr = meter.per_rep(meter.since(t0), 1);
    defmt::info!(
        "PARITY measure wiring={=f64} wiring_bits={=u64} active={=u32} stored={=u32} trained_wiring={=f64} trained_active={=u32} instr={=f32}",
        m.wiring_length,
        m.wiring_length.to_bits(),
        m.active_connections,
        m.stored_connections,
        model.trained_wiring_length(),
        model.trained_active_connections(),
        instr
    );
    defmt::info!(
        "FOOTPRINT flash={=usize} blob={=usize} static_ram={=usize} kernel_ram={=usize}",
        footprint::flash_bytes(),
        m.flash_bytes,
        footprint::static_ram_bytes(),
        m.ram_bytes
    );
}

fn evaluate_all(meter: &Meter, model: &ModelView<'_>) -> Result<(), EvalError> {
    let n_tasks = model.n_tasks();
    let (n_in, n_hid) = (model.n_inputs(), model.n_hidden());
    if n_tasks > MAX_TASKS
        || n_in > MAX_INPUTS
        || n_hid > MAX_HIDDEN
        || model.n_outputs() != N_CLASSES
    {
        defmt::error!(
            "model too large for this image: tasks {=usize}/{=usize}, inputs {=usize}/{=usize}, hidden {=usize}/{=usize}",
            n_tasks,
            MAX_TASKS,
            n_in,
            MAX_INPUTS,
            n_hid,
            MAX_HIDDEN
        );
        return Err(EvalError::Shape);
    }
    let mut tasks = [Task::base(Base::Go); MAX_TASKS];
    let mut state = [0.0f32; State::buffer_len(MAX_HIDDEN)];
    let mut input = [0.0f32; MAX_INPUTS];
    let mut output = [0.0f32; N_CLASSES];
    let mut decisions = [0u8; MAX_STEPS];
    let mut scores = [Score::default(); MAX_TASKS];
    for (i, t) in tasks[..n_tasks].iter_mut().enumerate() {
        *t = model.task(i).ok_or(EvalError::NoTasks)?;
    }
    for w in Weights::ALL {
        if w == Weights::Int8 && model.int8().is_none() {
            defmt::warn!("the model has no int8 weights");
            continue;
        }
        if w == Weights::F32 && !model.has_f32() {
            defmt::warn!("the model has no f32 weights");
            continue;
        }
        let cfg = EvalConfig {
            int8: w == Weights::Int8,
            ..EvalConfig::new(EVAL_SEED, EVAL_TRIALS)
        };
        let mut bufs = EvalBuffers {
            tasks: &mut tasks,
            state: &mut state,
            input: &mut input[..n_in],
            output: &mut output,
            decisions: &mut decisions,
        };
        eval::evaluate(model, &cfg, &mut bufs, &mut scores[..n_tasks])?;
        for (rule, (s, name)) in scores[..n_tasks].iter().zip(model.task_names()).enumerate() {
            defmt::info!(
                "PARITY score kernel={=str} rule={=usize} task={=str} trials={=u32} last={=u32} strict={=u32}",
                w.name(),
                rule,
                name,
                s.trials,
                s.last,
                s.strict
            );
        }
        let (last, strict) = Score::mean_over_tasks(&scores[..n_tasks]);
        defmt::info!(
            "PERF kernel={=str} trials_per_task={=u32} mean_last={=f32} mean_strict={=f32}",
            w.name(),
            EVAL_TRIALS,
            last,
            strict
        );
        let list = TaskList::Custom(&tasks[..n_tasks]);
        let mut scratch = Scratch {
            state: &mut state,
            input: &mut input[..n_in],
            output: &mut output,
        };
        for rule in 0..n_tasks {
            let (fnv, steps) = outputs_digest(model, &list, rule, w, &cfg.generator, &mut scratch)?;
            defmt::info!(
                "PARITY out kernel={=str} rule={=usize} steps={=u32} fnv={=u32}",
                w.name(),
                rule,
                steps,
                fnv
            );
        }
        let (ticks, reps) = step_cost(meter, model, &list, w, &mut scratch)?;
        let per_step = meter.per_rep(ticks, reps);
        let p = match w {
            Weights::F32 => Precision::F32,
            Weights::Int8 => Precision::Int8,
        };
        let stored = |w: Option<WeightsView<'_>>| w.map_or(0, |w| w.stored());
        let nnz = stored(model.recurrent_of(p));
        let weights = nnz + stored(model.input_weights_of(p)) + stored(model.output_weights_of(p));
        defmt::info!(
            "COST kernel={=str} instr_per_step={=f32} ticks_per_step={=f32} recurrent_nnz={=usize} instr_per_nnz={=f32} weights={=usize} instr_per_weight={=f32} reps={=u32}",
            w.name(),
            per_step,
            ticks as f32 / reps as f32,
            nnz,
            per_step / nnz.max(1) as f32,
            weights,
            per_step / weights.max(1) as f32,
            reps
        );
        let mut state = State::new(n_hid, &mut *scratch.state)?;
        for _ in 0..8 {
            w.step(model, &mut state, scratch.input, scratch.output)?;
        }
        let (hp, next, hq) = state.padded_parts();
        crate::cost::log_phases(
            meter,
            model,
            w.name(),
            w == Weights::Int8,
            hp,
            next,
            hq,
            scratch.input,
            scratch.output,
            per_step,
        )?;
        if w == Weights::F32 {
            crate::cost::log_delta(
                meter,
                model,
                &list,
                EVAL_SEED,
                scratch.state,
                scratch.input,
                scratch.output,
            )?;
        }
    }
    Ok(())
}

/// SysTick ticks of up to [`COST_REPS`] steps (as many as fit in half a counter wrap) on a real
/// input (step 0 of trial 0 of the first task), from a state warmed up by a few steps; and the
/// number of steps timed.
fn step_cost(
    meter: &Meter,
    model: &ModelView<'_>,
    list: &TaskList<'_>,
    w: Weights,
    scratch: &mut Scratch<'_>,
) -> Result<(u32, u32), EvalError> {
    let (trial, mut rng) = eval_trial(list, 0, EVAL_SEED, 0, &Default::default())?;
    trial.write_step(0, &mut rng, scratch.input)?;
    let mut state = State::new(model.n_hidden(), scratch.state)?;
    for _ in 0..8 {
        w.step(model, &mut state, scratch.input, scratch.output)?;
    }
    let mut result = Ok(());
    let mut step = || {
        if let Err(e) = w.step(model, &mut state, scratch.input, scratch.output) {
            result = Err(e);
        }
    };
    let once = meter.measure(1, &mut step);
    let reps = meter.reps_within_wrap(once, COST_REPS);
    let ticks = meter.measure(reps, &mut step);
    result?;
    Ok((ticks, reps))
}
