//! Deterministic cost in instructions from SysTick.
//!
//! Under QEMU with `-icount shift=0` virtual time advances one nanosecond per guest instruction, so
//! SysTick (core clock) counts instructions at a fixed rate (40 per tick on mps2-an386). The rate
//! is calibrated at boot with a loop of known length, so the figures hold on other machines and
//! shifts. DWT CYCCNT is not modelled by QEMU. On real hardware the same code measures cycles.

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use gyrus_runtime::format::{ModelView, Precision, WeightsView};
use gyrus_runtime::kernel::{phase, KernelError, State};

/// Largest SysTick reload value (24-bit counter).
const RELOAD: u32 = 0x00FF_FFFF;

/// Iterations of the calibration loop (two instructions each).
const CAL_ITERS: u32 = 100_000;

/// A free-running SysTick and its calibrated rate.
pub struct Meter {
    /// Owned so that nothing else reconfigures the counter.
    _syst: SYST,
    /// Guest instructions per tick, as measured by [`Meter::new`].
    instr_per_tick: f32,
    cal_ticks: u32,
}

impl Meter {
    /// Starts SysTick from the core clock and calibrates it.
    pub fn new(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_counter();
        let mut m = Meter {
            _syst: syst,
            instr_per_tick: 1.0,
            cal_ticks: 0,
        };
        let t0 = m.now();
        spin(CAL_ITERS);
        let ticks = m.since(t0).max(1);
        m.cal_ticks = ticks;
        m.instr_per_tick = (2 * CAL_ITERS) as f32 / ticks as f32;
        m
    }

    /// Calibration: (loop instructions, ticks they took).
    pub fn calibration(&self) -> (u32, u32) {
        (2 * CAL_ITERS, self.cal_ticks)
    }

    /// The current counter value (counts down).
    #[inline(always)]
    pub fn now(&self) -> u32 {
        SYST::get_current()
    }

    /// Ticks elapsed since `start` (one wrap at most: about 671 M instructions on mps2).
    #[inline(always)]
    pub fn since(&self, start: u32) -> u32 {
        start.wrapping_sub(SYST::get_current()) & RELOAD
    }

    /// Instructions for `ticks` ticks spent on `reps` repetitions, per repetition.
    pub fn per_rep(&self, ticks: u32, reps: u32) -> f32 {
        ticks as f32 * self.instr_per_tick / reps.max(1) as f32
    }

    /// How many repetitions of a block that took `ticks_once` fit within half a counter wrap,
    /// capped at `max`.
    pub fn reps_within_wrap(&self, ticks_once: u32, max: u32) -> u32 {
        (RELOAD / 2 / ticks_once.max(1)).clamp(1, max.max(1))
    }

    /// Runs `f` `reps` times and returns the ticks it took (all repetitions); keep the total below
    /// one counter wrap (see [`Meter::reps_within_wrap`]).
    pub fn measure(&self, reps: u32, mut f: impl FnMut()) -> u32 {
        let t0 = self.now();
        for _ in 0..reps {
            f();
        }
        self.since(t0)
    }
}

/// Exactly `2 * n` instructions (`subs`, `bne`) plus a few around the loop.
#[inline(never)]
fn spin(n: u32) {
    // SAFETY: a register-only countdown loop; touches no memory and no stack.
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {0}, #1",
            "bne 2b",
            inout(reg) n => _,
            options(nomem, nostack),
        );
    }
}

/// Steps' phases timed per measurement, at most (as many as fit in half a counter wrap).
const PHASE_REPS: u32 = 64;

/// Instructions per call of `f`, over as many repetitions as fit (up to [`PHASE_REPS`]).
fn per_call(meter: &Meter, mut f: impl FnMut()) -> (f32, u32) {
    let once = meter.measure(1, &mut f);
    let reps = meter.reps_within_wrap(once, PHASE_REPS);
    (meter.per_rep(meter.measure(reps, &mut f), reps), reps)
}

/// Logs the cost of each phase of a step (`kernel::phase`) with the `kernel` weights, one
/// `COST kernel=.. part=..` line each: the recurrent product per stored recurrent weight, the input
/// product (with bias) per stored input weight, activation and leak per unit, readout per stored
/// output weight, and the whole step next to the sum of the parts.
///
/// `hp`, `next` and `hq` are a warmed-up state's parts (`State::padded_parts`): `h` with the
/// zeros around it that the diagonal recurrent layout reads (n_hidden + 2 `State::PAD`), the
/// second half (n_hidden) and the int8 scratch (n_hidden + 1 entries; the int8 recurrent phase and
/// the int8 readout quantise `h` into it, and that cost counts); `u` a real input.
/// The recurrent product and the readout are timed alone (they only read `h`); input and activation
/// by difference, (recurrent + input) minus recurrent and (recurrent + input + activation) minus
/// (recurrent + input), so that every repetition sees the same pre-activation. `step_instr` is the
/// whole step measured with `kernel::step[_int8]`.
#[allow(clippy::too_many_arguments)]
pub fn log_phases(
    meter: &Meter,
    model: &ModelView<'_>,
    kernel: &'static str,
    int8: bool,
    hp: &[f32],
    next: &mut [f32],
    hq: &mut [i16],
    u: &[f32],
    out: &mut [f32],
    step_instr: f32,
) -> Result<(), KernelError> {
    let mut result = Ok(());
    let mut keep = |r: Result<(), KernelError>| {
        if r.is_err() {
            result = r;
        }
    };
    let h = &hp[State::PAD..State::PAD + model.n_hidden()];
    let mut rec_phase = |next: &mut [f32]| {
        let scratch = if int8 { Some(&mut *hq) } else { None };
        phase::recurrent_padded(model, hp, next, scratch)
    };
    let (rec, reps) = per_call(meter, || keep(rec_phase(next)));
    let (rec_in, _) = per_call(meter, || {
        keep(rec_phase(next));
        keep(phase::input(model, u, next, int8));
    });
    let (rec_in_act, _) = per_call(meter, || {
        keep(rec_phase(next));
        keep(phase::input(model, u, next, int8));
        keep(phase::activation(model, h, next));
    });
    let (read, _) = per_call(meter, || {
        let scratch = if int8 { Some(&mut *hq) } else { None };
        keep(phase::readout(model, h, out, scratch))
    });
    result?;
    let (inp, act) = (rec_in - rec, rec_in_act - rec_in);
    let p = if int8 {
        Precision::Int8
    } else {
        Precision::F32
    };
    let stored = |w: Option<WeightsView<'_>>| w.map_or(0, |w| w.stored());
    let nnz = stored(model.recurrent_of(p));
    let (n_in, n_out) = (
        stored(model.input_weights_of(p)),
        stored(model.output_weights_of(p)),
    );
    let n = model.n_hidden();
    defmt::info!(
        "COST kernel={=str} part=recurrent instr={=f32} nnz={=usize} instr_per_nnz={=f32} rows={=usize} reps={=u32}",
        kernel,
        rec,
        nnz,
        rec / nnz.max(1) as f32,
        n,
        reps
    );
    defmt::info!(
        "COST kernel={=str} part=input instr={=f32} weights={=usize} instr_per_weight={=f32}",
        kernel,
        inp,
        n_in,
        inp / n_in.max(1) as f32
    );
    defmt::info!(
        "COST kernel={=str} part=activation instr={=f32} units={=usize} instr_per_unit={=f32}",
        kernel,
        act,
        n,
        act / n.max(1) as f32
    );
    defmt::info!(
        "COST kernel={=str} part=readout instr={=f32} weights={=usize} instr_per_weight={=f32}",
        kernel,
        read,
        n_out,
        read / n_out.max(1) as f32
    );
    defmt::info!(
        "COST kernel={=str} part=step instr={=f32} parts_sum={=f32} recurrent_share={=f32}",
        kernel,
        step_instr,
        rec_in_act + read,
        rec / step_instr.max(1.0)
    );
    Ok(())
}

/// Largest recurrent nnz the delta measurement holds (static buffers, 6 bytes per weight). With
/// [`MAX_DELTA_HIDDEN`] the buffers take about 68 KB, so the image still links for boards with
/// 128 KB of RAM (`FW_MACHINE=netduinoplus2`); larger models skip the delta measurement with a warning.
pub const MAX_DELTA_NNZ: usize = 8 * 1024;
/// Largest hidden layer the delta measurement holds.
pub const MAX_DELTA_HIDDEN: usize = 1024;
/// Tasks (trial 0 of each of the first ones) the delta kernel is timed on.
pub const DELTA_TASKS: usize = 4;
/// Thresholds the delta kernel is timed at.
pub const DELTA_THETAS: [f32; 4] = [0.0, 0.01, 0.05, 0.1];

/// Logs the event-driven kernel's cost over whole trials (trial 0 of each of the first
/// [`DELTA_TASKS`] tasks, `seed`),
/// next to the plain kernel's on the same trial, one line per theta of [`DELTA_THETAS`]:
/// `COST kernel=delta theta=.. instr_per_step=.. plain_instr_per_step=.. messages_per_step=..
/// updates_per_step=.. nnz=.. steps=..`. Every step is timed on its own (the same overhead for
/// both kernels); the input is written between the timed blocks. Skipped with a warning when the
/// model exceeds [`MAX_DELTA_NNZ`] or [`MAX_DELTA_HIDDEN`].
pub fn log_delta(
    meter: &Meter,
    model: &ModelView<'_>,
    list: &gyrus_runtime::tasks::TaskList<'_>,
    seed: u64,
    state: &mut [f32],
    u: &mut [f32],
    out: &mut [f32],
) -> Result<(), gyrus_runtime::eval::EvalError> {
    use gyrus_runtime::eval::EvalError;
    use gyrus_runtime::kernel::delta::{self, DeltaState, Outgoing};
    use gyrus_runtime::kernel::{self, State};
    use gyrus_runtime::tasks::eval_trial;

    let (n, nnz) = (model.n_hidden(), model.recurrent().nnz());
    if n > MAX_DELTA_HIDDEN || nnz > MAX_DELTA_NNZ {
        defmt::warn!(
            "delta cost skipped: {=usize} units / {=usize} weights, buffers hold {=usize} / {=usize}",
            n,
            nnz,
            MAX_DELTA_HIDDEN,
            MAX_DELTA_NNZ
        );
        return Ok(());
    }
    let (Some(off), Some(tgt), Some(w), Some(dbuf)) = (
        cortex_m::singleton!(: [u32; MAX_DELTA_HIDDEN + 1] = [0; MAX_DELTA_HIDDEN + 1]),
        cortex_m::singleton!(: [u16; MAX_DELTA_NNZ] = [0; MAX_DELTA_NNZ]),
        cortex_m::singleton!(: [f32; MAX_DELTA_NNZ] = [0.0; MAX_DELTA_NNZ]),
        cortex_m::singleton!(: [f32; DeltaState::buffer_len(MAX_DELTA_HIDDEN)] =
            [0.0; DeltaState::buffer_len(MAX_DELTA_HIDDEN)]),
    ) else {
        defmt::warn!("delta cost skipped: buffers already taken");
        return Ok(());
    };
    let bad = |e: delta::DeltaError| match e {
        delta::DeltaError::Kernel(k) => EvalError::Kernel(k),
        _ => EvalError::Buffer {
            needed: nnz,
            got: MAX_DELTA_NNZ,
        },
    };
    let outgoing =
        Outgoing::build(model, &mut off[..n + 1], &mut tgt[..nnz], &mut w[..nnz]).map_err(bad)?;
    let n_rules = list.len().min(DELTA_TASKS);
    let mut steps = 0u32;
    let mut plain_ticks = 0u32;
    for rule in 0..n_rules {
        let (trial, mut rng) = eval_trial(list, rule, seed, 0, &Default::default())?;
        let mut st = State::new(n, &mut *state)?;
        for t in 0..trial.len() {
            trial.write_step(t, &mut rng, u)?;
            let t0 = meter.now();
            kernel::step(model, &mut st, u, out)?;
            plain_ticks += meter.since(t0);
        }
        steps += trial.len() as u32;
    }
    let plain = meter.per_rep(plain_ticks, steps);
    for theta in DELTA_THETAS {
        let (mut ticks, mut messages, mut updates) = (0u32, 0u32, 0u32);
        for rule in 0..n_rules {
            let (trial, mut rng) = eval_trial(list, rule, seed, 0, &Default::default())?;
            let mut ds = DeltaState::new(n, &mut dbuf[..]).map_err(bad)?;
            for t in 0..trial.len() {
                trial.write_step(t, &mut rng, u)?;
                let t0 = meter.now();
                let c = delta::step(model, &outgoing, &mut ds, theta, u, out).map_err(bad)?;
                ticks += meter.since(t0);
                messages += c.messages;
                updates += c.updates;
            }
        }
        defmt::info!(
            "COST kernel=delta theta={=f32} instr_per_step={=f32} plain_instr_per_step={=f32} messages_per_step={=f32} updates_per_step={=f32} nnz={=usize} steps={=u32}",
            theta,
            meter.per_rep(ticks, steps),
            plain,
            messages as f32 / steps.max(1) as f32,
            updates as f32 / steps.max(1) as f32,
            nnz,
            steps
        );
    }
    Ok(())
}
