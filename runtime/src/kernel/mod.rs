//! Step kernels: one time step of an exported network.
//!
//! ```text
//! h'  = (1 - alpha) h + alpha phi(W h + W_in u + b_h)      (W reads the previous h)
//! o   = W_out h' + b_o
//! ```
//! (`docs/models.md`, "The network"). Use:
//! ```text
//! let model = ModelView::from_bytes(BLOB)?;
//! let mut buf = [0.0f32; 2 * 625 + 48 + 313 + 313];     // State::buffer_len(n_hidden)
//! let mut state = State::new(model.n_hidden(), &mut buf)?;
//! kernel::step(&model, &mut state, &input, &mut output)?;   // state.hidden() is h'
//! ```
//! - [`step`]: f32 weights; the recurrent product runs over the blob's lane-grouped copy of the
//!   compressed rows (8 rows summed in lockstep, inline assembly on Cortex-M4F; cost ~ stored
//!   weights plus padding, see `format::ell`), or, for a local mask the exporter stored in
//!   diagonals, over groups of 16 consecutive rows, one window of `h` per diagonal and no column
//!   index per weight (`kernel::diag`; it reads the zeros around `h` that [`State`] carries);
//!   either way with each row's terms summed in index order.
//! - [`step_int8`]: the blob's int8 variant. Each weight is `q * s` with `q` an i8 and `s` one f32
//!   scale per row (symmetric, no zero point, `s = max|w| / 127`). The recurrent product runs on
//!   integers: `h` is quantised once per step to i16 in the blob's fixed-point format (`f`
//!   fraction bits, `hq = sat16(trunc(h 2^f))`), each row sums `q hq` exactly in i32 over the
//!   blob's pair-group layout (adjacent columns two at a time, `smlad` on Cortex-M4F; see
//!   `format::pairs`), and `acc = (sum 2^-f) s` once per row. The input and output products run
//!   on integers too (`kernel::qio`): the inputs are quantised once per step to i16 with a
//!   power-of-two scale chosen from the step's largest input, the new state with the blob's
//!   format, each row's `sum q x` is exact, then one f32 scale per row. Biases and the state stay
//!   f32. The whole step quantises the hidden state once: the readout quantises the new state in
//!   its own order and, in the same pass, in order into the recurrent product's scratch, and the
//!   [`State`] records that this scratch matches `h`, so the next `step_int8` skips quantising
//!   `h` (anything else that changes the state clears the record; the results are the same bits
//!   either way). The [`phase`] functions each quantise what they need, as before.
//! - Both run the input product over the nonzero inputs only when the input matrix is dense (up
//!   to 256 inputs; task inputs are mostly zero), in increasing input order.
//! - [`dense::step_dense`]: the same network with dense matrices, the baseline of the benchmark.
//! - [`delta`]: event-driven steps; a unit sends its change to its targets only when it moved
//!   by more than a threshold (incremental sums, outgoing weights built into caller buffers).
//! - [`phase`]: the four phases of a step (recurrent product, input product + bias, activation and
//!   leak, readout) as separate functions, bit-identical to [`step`] when chained, so firmware can
//!   time each.
//!
//! Sizes are checked on every call (a few compares); indices inside the model were checked once
//! by [`ModelView::from_bytes`], so the inner loops run unchecked. A 4-aligned blob is read
//! zero-copy; otherwise the same loops read through `from_le_bytes`. All functions are
//! `#[inline(never)]` entry points so firmware can measure them.

mod activation;
mod columns;
pub mod delta;
pub mod dense;
mod diag;
mod ell;
mod pairs;
pub mod phase;
mod qio;
mod sparse;
mod state;

pub use state::State;

use diag::Hidden;

use crate::format::ModelView;
use core::fmt;

/// A size mismatch between the model and the caller's buffers, or a missing int8 variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KernelError {
    /// The state buffer is too short.
    StateBuffer {
        /// Floats needed.
        needed: usize,
        /// Floats given.
        got: usize,
    },
    /// The state has a different number of hidden units than the model.
    Hidden {
        /// Units of the model.
        needed: usize,
        /// Units of the state.
        got: usize,
    },
    /// The input has the wrong length.
    Input {
        /// Inputs of the model.
        needed: usize,
        /// Length given.
        got: usize,
    },
    /// The output has the wrong length.
    Output {
        /// Outputs of the model.
        needed: usize,
        /// Length given.
        got: usize,
    },
    /// [`step_int8`] on a blob without the int8 weights.
    NoInt8,
    /// [`step`] on a blob without the f32 weights (an int8-only blob).
    NoF32,
    /// The int8 scratch of [`phase::recurrent`] is too short.
    Scratch {
        /// Entries needed (`n_hidden + 1`).
        needed: usize,
        /// Entries given.
        got: usize,
    },
    /// A dense buffer has the wrong length ([`dense::Dense`]).
    DenseBuffer {
        /// Floats needed.
        needed: usize,
        /// Floats given.
        got: usize,
    },
    /// An array of the blob is not 4-aligned and the runtime was built without its feature
    /// `misaligned`: the blob does not start at a 4-aligned address (copy it to an aligned buffer:
    /// `aligned::AlignedCopy`), or it is a version-4 blob, whose arrays are misaligned at any
    /// address (re-encode it: `cargo run -p gyrus-runtime --example reencode -- IN OUT`).
    Misaligned,
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KernelError::StateBuffer { needed, got } => {
                write!(f, "state buffer has {got} floats, {needed} needed")
            }
            KernelError::Hidden { needed, got } => {
                write!(f, "state has {got} hidden units, the model {needed}")
            }
            KernelError::Input { needed, got } => {
                write!(f, "input has {got} values, the model takes {needed}")
            }
            KernelError::Output { needed, got } => {
                write!(f, "output has {got} values, the model gives {needed}")
            }
            KernelError::NoInt8 => f.write_str("the model blob has no int8 weights"),
            KernelError::NoF32 => f.write_str(
                "the model blob has no f32 weights (it was exported with --weights int8)",
            ),
            KernelError::Scratch { needed, got } => {
                write!(f, "int8 scratch has {got} entries, {needed} needed")
            }
            KernelError::DenseBuffer { needed, got } => {
                write!(f, "dense buffer has {got} floats, {needed} needed")
            }
            KernelError::Misaligned => f.write_str(
                "an array of the model blob is not 4-aligned and this runtime was built without its feature `misaligned`: copy the blob to an aligned buffer, or re-encode a version-4 blob (cargo run -p gyrus-runtime --example reencode -- IN OUT)",
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for KernelError {}

pub(crate) fn check_sizes(
    n: (usize, usize, usize),
    state: &State<'_>,
    input: &[f32],
    output: &[f32],
) -> Result<(), KernelError> {
    let (n_in, n_h, n_out) = n;
    if state.n_hidden() != n_h {
        return Err(KernelError::Hidden {
            needed: n_h,
            got: state.n_hidden(),
        });
    }
    if input.len() != n_in {
        return Err(KernelError::Input {
            needed: n_in,
            got: input.len(),
        });
    }
    if output.len() != n_out {
        return Err(KernelError::Output {
            needed: n_out,
            got: output.len(),
        });
    }
    Ok(())
}

fn run(
    model: &ModelView<'_>,
    state: &mut State<'_>,
    input: &[f32],
    output: &mut [f32],
    int8: bool,
) -> Result<(), KernelError> {
    check_sizes(
        (model.n_inputs(), model.n_hidden(), model.n_outputs()),
        state,
        input,
        output,
    )?;
    if int8 && model.le.int8.is_none() {
        return Err(KernelError::NoInt8);
    }
    if !int8 && model.le.f32.is_none() {
        return Err(KernelError::NoF32);
    }
    if !cfg!(feature = "misaligned") && model.fast.is_none() {
        return Err(KernelError::Misaligned);
    }
    let (act, alpha) = (model.activation(), model.alpha());
    let frac_bits = match (&model.le.int8, int8) {
        (Some(q), true) => Some(q.act_frac_bits),
        _ => None,
    };
    let Some(f) = frac_bits else {
        let (hp, next, _) = state.padded_parts();
        let h = Hidden::Padded(hp);
        // SAFETY: the model was validated when opened, the sizes were just checked (the state's
        // padded `h` has n_hidden + 2 DIAG_PAD floats, its next half n_hidden) and the f32
        // weights are present.
        unsafe {
            match &model.fast {
                Some(net) => sparse::step_net(net, act, alpha, h, input, next, output, None),
                #[cfg(feature = "misaligned")]
                None => sparse::step_net(&model.le, act, alpha, h, input, next, output, None),
                #[cfg(not(feature = "misaligned"))]
                None => {}
            }
        }
        state.swap();
        return Ok(());
    };
    let (hp, next, scratch) = state.int8_parts(f);
    let h = Hidden::Padded(hp);
    // SAFETY: as above, with the int8 weights present (`frac_bits` is theirs), the state's
    // int8 scratches of n_hidden + 1 and n_hidden entries, and the first marked current only if
    // it holds `h` quantised with this blob's format (`State`). One call per case, so that the
    // f32 step is compiled without the int8 branches.
    unsafe {
        match &model.fast {
            Some(net) => sparse::step_net(net, act, alpha, h, input, next, output, Some(scratch)),
            #[cfg(feature = "misaligned")]
            None => sparse::step_net(&model.le, act, alpha, h, input, next, output, Some(scratch)),
            #[cfg(not(feature = "misaligned"))]
            None => {}
        }
    }
    // The readout left the new state quantised in the recurrent product's scratch.
    state.swap();
    state.set_quantised(frac_bits);
    Ok(())
}

/// One step with the f32 weights: updates `state` to h' and writes `output` (length n_outputs)
/// from `input` (length n_inputs); [`KernelError::NoF32`] if the blob has none.
#[inline(never)]
pub fn step(
    model: &ModelView<'_>,
    state: &mut State<'_>,
    input: &[f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    run(model, state, input, output, false)
}

/// One step with the int8 weights (see the module doc); [`KernelError::NoInt8`] if the blob has
/// none.
#[inline(never)]
pub fn step_int8(
    model: &ModelView<'_>,
    state: &mut State<'_>,
    input: &[f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    run(model, state, input, output, true)
}
