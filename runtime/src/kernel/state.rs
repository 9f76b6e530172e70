//! [`State`]: the hidden state of one network, in buffers the caller owns.

use super::sparse::Int8Scratch;
use super::KernelError;
use crate::format::DIAG_PAD;

/// Hidden state over a caller buffer of [`State::buffer_len`] floats: the current `h`, a second
/// half the next step writes into (the recurrent product needs the previous `h` whole, so the
/// update cannot be in place; a step swaps the halves, copying nothing), zeros around both halves
/// for the diagonal recurrent layout (`format::diag`), and the int8 step's two scratches: `h`
/// quantised to i16 in order for the recurrent product (`n_hidden + 1` entries) and the new
/// state quantised in the readout's order (`n_hidden` entries, `kernel::qio`).
///
/// The buffer's front, `2 n_hidden + 3 PAD` floats, is `PAD` zeros, half A, `PAD` zeros, half B,
/// `PAD` zeros ([`State::PAD`] = `format::DIAG_PAD`): either half with the zeros around it is a
/// *padded* state, which the diagonal kernel reads without bounds checks or a copy (a window of
/// 16 values may start up to `PAD` before `h` or end up to `PAD` after it). The zeros are never
/// written. Then the int8 scratches, `(n_hidden + 2) / 2` and `(n_hidden + 1) / 2` floats.
///
/// [`super::step_int8`] quantises the new state for its readout and, in the same pass, into the
/// recurrent product's scratch, and records that this scratch matches `h`: the next
/// `step_int8` (with the same activation format) then skips quantising `h`. Everything else that
/// can change `h` or that scratch clears the record ([`State::new`], [`State::reset`],
/// [`State::hidden_mut`], [`State::padded_parts`], [`super::step`], `dense::step_dense`), so
/// the results never depend on it.
///
/// On a microcontroller use a `static mut [f32; State::buffer_len(N)]` (a `const fn`) or a stack
/// array; a buffer sized for the largest model serves smaller ones (only the first
/// `State::buffer_len(n_hidden)` floats are used). [`State::new`] refuses a shorter buffer.
#[derive(Debug)]
pub struct State<'a> {
    /// `PAD` zeros, half A, `PAD` zeros, half B, `PAD` zeros.
    buf: &'a mut [f32],
    /// The recurrent product's scratch (`h` quantised in order, `n_hidden + 1` entries or more).
    hq: &'a mut [i16],
    /// The readout's scratch (`n_hidden` entries or more).
    hr: &'a mut [i16],
    n: usize,
    /// `h` is half B (else half A).
    second: bool,
    /// `Some(f)`: `hq` holds the current `h` quantised with `f` fraction bits and `hq[n] = 0`
    /// (set only by the int8 step, cleared by everything else that can change `h` or `hq`).
    quantised: Option<u8>,
}

impl<'a> State<'a> {
    /// Zeros before and after each half of the buffer (`format::DIAG_PAD`).
    pub const PAD: usize = DIAG_PAD;

    /// Floats of buffer a state of `n_hidden` units needs: `2 n_hidden + 3 PAD` for `h`, the
    /// next state and the zeros around them, `(n_hidden + 2) / 2 + (n_hidden + 1) / 2` for the
    /// int8 scratches.
    pub const fn buffer_len(n_hidden: usize) -> usize {
        2 * n_hidden + 3 * Self::PAD + (n_hidden + 2) / 2 + n_hidden.div_ceil(2)
    }

    /// A zero state of `n_hidden` units in the front of `buf` (at least
    /// [`State::buffer_len`]`(n_hidden)` floats, else [`KernelError::StateBuffer`]).
    pub fn new(n_hidden: usize, buf: &'a mut [f32]) -> Result<Self, KernelError> {
        let needed = Self::buffer_len(n_hidden);
        let got = buf.len();
        let buf = buf
            .get_mut(..needed)
            .ok_or(KernelError::StateBuffer { needed, got })?;
        buf.fill(0.0);
        let (buf, scratch) = buf.split_at_mut(2 * n_hidden + 3 * Self::PAD);
        let (hq, hr) = scratch.split_at_mut((n_hidden + 2) / 2);
        Ok(State {
            buf,
            hq: bytemuck::cast_slice_mut(hq),
            hr: bytemuck::cast_slice_mut(hr),
            n: n_hidden,
            second: false,
            quantised: None,
        })
    }

    /// Number of hidden units.
    pub fn n_hidden(&self) -> usize {
        self.n
    }

    /// Start of `h` in the buffer.
    fn start(&self) -> usize {
        if self.second {
            2 * Self::PAD + self.n
        } else {
            Self::PAD
        }
    }

    /// The current hidden state `h`.
    pub fn hidden(&self) -> &[f32] {
        let s = self.start();
        self.buf.get(s..s + self.n).unwrap_or(&[])
    }

    /// The current hidden state, writable (to start from a given `h`; the zeros around it are
    /// not exposed). The next [`super::step_int8`] quantises `h` again.
    pub fn hidden_mut(&mut self) -> &mut [f32] {
        self.quantised = None;
        let s = self.start();
        self.buf.get_mut(s..s + self.n).unwrap_or(&mut [])
    }

    /// Back to `h = 0`.
    pub fn reset(&mut self) {
        self.hidden_mut().fill(0.0);
    }

    /// The parts a step works on: the current `h` padded (`PAD` zeros, `h`, `PAD` zeros; what
    /// [`super::phase::recurrent_padded`] takes), the other half (where the next state goes,
    /// `n_hidden` floats) and the int8 scratch of the recurrent product (`n_hidden + 1` entries
    /// or more; what the `phase` functions take). The next [`super::step_int8`] quantises `h`
    /// again.
    pub fn padded_parts(&mut self) -> (&[f32], &mut [f32], &mut [i16]) {
        self.quantised = None;
        let (hp, next) = Self::halves(self.buf, self.n, self.second);
        (hp, next, &mut *self.hq)
    }

    /// The padded `h` and the other half of `buf` (`second`: `h` is half B).
    fn halves(buf: &mut [f32], n: usize, second: bool) -> (&[f32], &mut [f32]) {
        let p = Self::PAD;
        if second {
            let (lo, hi) = buf.split_at_mut(p + n);
            (hi, &mut lo[p..])
        } else {
            let (lo, hi) = buf.split_at_mut(2 * p + n);
            (lo, &mut hi[..n])
        }
    }

    /// The parts of one int8 step ([`super::step_int8`]) with the blob's activation format
    /// `frac_bits`: as [`State::padded_parts`], then both int8 scratches, the first marked
    /// current when it holds `h` quantised with `frac_bits`. Follow with [`State::swap`] and
    /// [`State::set_quantised`]`(Some(frac_bits))` once the step has run.
    pub(crate) fn int8_parts(&mut self, frac_bits: u8) -> (&[f32], &mut [f32], Int8Scratch<'_>) {
        let current = self.quantised == Some(frac_bits);
        self.quantised = None;
        let (hp, next) = Self::halves(self.buf, self.n, self.second);
        let scratch = Int8Scratch {
            plain: self.hq,
            current,
            readout: self.hr,
        };
        (hp, next, scratch)
    }

    /// Records what the recurrent product's scratch holds (see the field `quantised`).
    pub(crate) fn set_quantised(&mut self, frac_bits: Option<u8>) {
        self.quantised = frac_bits;
    }

    pub(crate) fn swap(&mut self) {
        self.second = !self.second;
    }
}
