//! Event-driven (delta) execution: a hidden unit sends its change to its targets only when it
//! moved by more than `theta` since the value it last sent.
//!
//! Each unit `j` remembers `sent_j`, the value its targets last heard; each receiving unit `i`
//! keeps the incremental sum `acc_i = sum_j W_ij sent_j`. A step:
//!
//! ```text
//! for every unit j with |h_j - sent_j| > theta:          (one message from j)
//!     for every target i of j:  acc_i += W_ij (h_j - sent_j)   (one synaptic update each)
//!     sent_j = h_j
//! next = acc + W_in u + b_h ; next = (1 - alpha) h + alpha phi(next) ; o = W_out next + b_o
//! ```
//!
//! With `theta = 0` every change is sent, so `acc = W h` up to float rounding (the sums are
//! accumulated over time instead of recomputed) and the outputs follow the plain kernel
//! ([`super::step`]) within rounding. The input product, activation and readout are the plain
//! phases ([`super::phase`]); only the recurrent product is event-driven.
//!
//! Pushing changes to targets needs the outgoing connections of each sending unit, the transpose
//! of the blob's receiving-row CSR. [`Outgoing::build`] writes it once into caller buffers (no
//! allocation):
//!
//! ```text
//! let mut off = [0u32; N + 1]; let mut tgt = [0u16; NNZ]; let mut w = [0f32; NNZ];
//! let out = delta::Outgoing::build(&model, &mut off, &mut tgt, &mut w)?;
//! let mut buf = [0.0f32; 4 * N];                        // DeltaState::buffer_len(n_hidden)
//! let mut st = delta::DeltaState::new(model.n_hidden(), &mut buf)?;
//! let count = delta::step(&model, &out, &mut st, theta, &input, &mut output)?;
//! ```

use core::fmt;

use super::{phase, KernelError};
use crate::format::ModelView;

/// Why a delta structure could not be built or stepped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DeltaError {
    /// A caller buffer has the wrong length.
    Buffer {
        /// Length needed.
        needed: usize,
        /// Length given.
        got: usize,
    },
    /// The outgoing structure was built for a different number of units than the model has.
    Outgoing {
        /// Units of the model.
        needed: usize,
        /// Units of the structure.
        got: usize,
    },
    /// `theta` is negative or not finite.
    Theta,
    /// A phase of the plain kernel refused its vectors.
    Kernel(KernelError),
}

impl fmt::Display for DeltaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeltaError::Buffer { needed, got } => {
                write!(f, "delta buffer has length {got}, {needed} needed")
            }
            DeltaError::Outgoing { needed, got } => {
                write!(f, "outgoing structure has {got} units, the model {needed}")
            }
            DeltaError::Theta => f.write_str("theta must be finite and >= 0"),
            DeltaError::Kernel(e) => write!(f, "kernel: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DeltaError {}

impl From<KernelError> for DeltaError {
    fn from(e: KernelError) -> Self {
        DeltaError::Kernel(e)
    }
}

fn exact(needed: usize, got: usize) -> Result<(), DeltaError> {
    if needed == got {
        Ok(())
    } else {
        Err(DeltaError::Buffer { needed, got })
    }
}

/// The recurrent weights by sending unit (the transpose of `model.recurrent()`): the targets of
/// unit `j` are `targets[offsets[j]..offsets[j + 1]]`, in increasing order, with their weights.
#[derive(Clone, Copy, Debug)]
pub struct Outgoing<'a> {
    offsets: &'a [u32],
    targets: &'a [u16],
    weights: &'a [f32],
}

impl<'a> Outgoing<'a> {
    /// Lengths of the three buffers [`Outgoing::build`] needs: `(n_hidden + 1, nnz, nnz)`.
    pub fn buffer_lens(model: &ModelView<'_>) -> (usize, usize, usize) {
        let nnz = model.recurrent().nnz();
        (model.n_hidden() + 1, nnz, nnz)
    }

    /// Transposes the model's recurrent matrix into the caller's buffers, whose lengths must be
    /// exactly [`Outgoing::buffer_lens`].
    pub fn build(
        model: &ModelView<'_>,
        offsets: &'a mut [u32],
        targets: &'a mut [u16],
        weights: &'a mut [f32],
    ) -> Result<Self, DeltaError> {
        let rec = model.recurrent();
        let (n_off, nnz, _) = Self::buffer_lens(model);
        exact(n_off, offsets.len())?;
        exact(nnz, targets.len())?;
        exact(nnz, weights.len())?;
        let n = rec.cols();
        // Column counts into offsets[j + 1], prefix sums, then fill row by row with offsets[j]
        // as a cursor (which leaves offsets[j] = end of column j), then shift back by one.
        offsets.fill(0);
        rec.for_each(|_, c, _| offsets[c + 1] += 1);
        for j in 0..n {
            offsets[j + 1] += offsets[j];
        }
        for i in 0..rec.rows() {
            rec.for_each_in_row(i, |c, w| {
                let pos = &mut offsets[c];
                targets[*pos as usize] = i as u16;
                weights[*pos as usize] = w;
                *pos += 1;
            });
        }
        for j in (1..=n).rev() {
            offsets[j] = offsets[j - 1];
        }
        offsets[0] = 0;
        Ok(Outgoing {
            offsets,
            targets,
            weights,
        })
    }

    /// The structure over buffers filled earlier by [`Outgoing::build`] (e.g. kept in owned
    /// storage). Checks the shape: `offsets` starts at 0, never decreases and ends at the common
    /// length of `targets` and `weights`, and every target is below `offsets.len() - 1`.
    pub fn from_parts(
        offsets: &'a [u32],
        targets: &'a [u16],
        weights: &'a [f32],
    ) -> Result<Self, DeltaError> {
        let bad = DeltaError::Buffer {
            needed: targets.len(),
            got: weights.len(),
        };
        let n = offsets.len().checked_sub(1).ok_or(bad)?;
        if targets.len() != weights.len()
            || offsets[0] != 0
            || offsets.windows(2).any(|w| w[0] > w[1])
            || offsets[n] as usize != targets.len()
            || targets.iter().any(|&t| usize::from(t) >= n)
        {
            return Err(bad);
        }
        Ok(Outgoing {
            offsets,
            targets,
            weights,
        })
    }

    /// Number of sending units.
    pub fn n_units(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Stored connections (= nnz of the recurrent matrix, the plain kernel's updates per step).
    pub fn nnz(&self) -> usize {
        self.targets.len()
    }

    /// The targets of unit `j` and their weights (empty for `j` out of range).
    pub fn of(&self, j: usize) -> (&'a [u16], &'a [f32]) {
        let s = self.offsets.get(j).copied().unwrap_or(0) as usize;
        let e = self.offsets.get(j + 1).copied().unwrap_or(0) as usize;
        (
            self.targets.get(s..e).unwrap_or(&[]),
            self.weights.get(s..e).unwrap_or(&[]),
        )
    }
}

/// Delta-mode state over one caller buffer of [`DeltaState::buffer_len`] floats: `h`, the next
/// `h`, the incremental sums `acc` and the last sent values.
#[derive(Debug)]
pub struct DeltaState<'a> {
    h: &'a mut [f32],
    next: &'a mut [f32],
    acc: &'a mut [f32],
    sent: &'a mut [f32],
}

impl<'a> DeltaState<'a> {
    /// Floats of buffer a state of `n_hidden` units needs.
    pub const fn buffer_len(n_hidden: usize) -> usize {
        4 * n_hidden
    }

    /// A zero state (h = sent = acc = 0) of `n_hidden` units in the front of `buf`.
    pub fn new(n_hidden: usize, buf: &'a mut [f32]) -> Result<Self, DeltaError> {
        let needed = Self::buffer_len(n_hidden);
        let got = buf.len();
        let buf = buf
            .get_mut(..needed)
            .ok_or(DeltaError::Buffer { needed, got })?;
        buf.fill(0.0);
        let (h, rest) = buf.split_at_mut(n_hidden);
        let (next, rest) = rest.split_at_mut(n_hidden);
        let (acc, sent) = rest.split_at_mut(n_hidden);
        Ok(DeltaState { h, next, acc, sent })
    }

    /// Number of hidden units.
    pub fn n_hidden(&self) -> usize {
        self.h.len()
    }

    /// The current hidden state `h`.
    pub fn hidden(&self) -> &[f32] {
        self.h
    }

    /// The values the units last sent.
    pub fn sent(&self) -> &[f32] {
        self.sent
    }

    /// Back to `h = sent = acc = 0` (consistent: `W 0 = 0`).
    pub fn reset(&mut self) {
        self.h.fill(0.0);
        self.acc.fill(0.0);
        self.sent.fill(0.0);
    }
}

/// Work of one delta step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StepCount {
    /// Units that sent their change (messages).
    pub messages: u32,
    /// Synaptic updates performed (sum of the senders' out-degrees).
    pub updates: u32,
}

/// One delta step; see the module doc. Calls `on_send(j)` for every unit `j` that sends, in
/// increasing order (for traffic simulators); [`step`] passes a no-op.
#[inline(never)]
pub fn step_with(
    model: &ModelView<'_>,
    out: &Outgoing<'_>,
    state: &mut DeltaState<'_>,
    theta: f32,
    input: &[f32],
    output: &mut [f32],
    mut on_send: impl FnMut(usize),
) -> Result<StepCount, DeltaError> {
    let n = model.n_hidden();
    if !(theta.is_finite() && theta >= 0.0) {
        return Err(DeltaError::Theta);
    }
    if out.n_units() != n || out.nnz() != model.recurrent().nnz() {
        return Err(DeltaError::Outgoing {
            needed: n,
            got: out.n_units(),
        });
    }
    exact(n, state.h.len())?;
    let mut count = StepCount::default();
    for j in 0..n {
        let d = state.h[j] - state.sent[j];
        if d.abs() > theta {
            let (targets, weights) = out.of(j);
            let acc = &mut *state.acc;
            for (&t, &w) in targets.iter().zip(weights) {
                // SAFETY: every target is below `out.n_units()` (checked by `build` /
                // `from_parts`), which equals `n` (checked above), the length of `acc`.
                unsafe { *acc.get_unchecked_mut(usize::from(t)) += w * d };
            }
            state.sent[j] = state.h[j];
            count.messages += 1;
            count.updates += targets.len() as u32;
            on_send(j);
        }
    }
    state.next.copy_from_slice(state.acc);
    phase::input(model, input, state.next, false)?;
    phase::activation(model, state.h, state.next)?;
    phase::readout(model, state.next, output, None)?;
    core::mem::swap(&mut state.h, &mut state.next);
    Ok(count)
}

/// One delta step with threshold `theta` (f32 weights): updates `state` and writes `output`.
#[inline(never)]
pub fn step(
    model: &ModelView<'_>,
    out: &Outgoing<'_>,
    state: &mut DeltaState<'_>,
    theta: f32,
    input: &[f32],
    output: &mut [f32],
) -> Result<StepCount, DeltaError> {
    step_with(model, out, state, theta, input, output, |_| {})
}
