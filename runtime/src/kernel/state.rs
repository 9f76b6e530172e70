//! [`State`]: the hidden state of one network, in buffers the caller owns.

use super::KernelError;
use crate::format::DIAG_PAD;

/// Hidden state over a caller buffer of [`State::buffer_len`] floats: the current `h`, a second
/// half the next step writes into (the recurrent product needs the previous `h` whole, so the
/// update cannot be in place; a step swaps the halves, copying nothing), zeros around both halves
/// for the diagonal recurrent layout (`format::diag`), and the int8 step's scratch, `h`
/// quantised to i16 (`n_hidden + 1` entries).
///
/// The buffer's front, `2 n_hidden + 3 PAD` floats, is `PAD` zeros, half A, `PAD` zeros, half B,
/// `PAD` zeros ([`State::PAD`] = `format::DIAG_PAD`): either half with the zeros around it is a
/// *padded* state, which the diagonal kernel reads without bounds checks or a copy (a window of
/// 16 values may start up to `PAD` before `h` or end up to `PAD` after it). The zeros are never
/// written. Then the int8 scratch, `(n_hidden + 2) / 2` floats.
///
/// On a microcontroller use a `static mut [f32; State::buffer_len(N)]` (a `const fn`) or a stack
/// array; a buffer sized for the largest model serves smaller ones (only the first
/// `State::buffer_len(n_hidden)` floats are used). [`State::new`] refuses a shorter buffer.
#[derive(Debug)]
pub struct State<'a> {
    /// `PAD` zeros, half A, `PAD` zeros, half B, `PAD` zeros.
    buf: &'a mut [f32],
    pub(crate) hq: &'a mut [i16],
    n: usize,
    /// `h` is half B (else half A).
    second: bool,
}

impl<'a> State<'a> {
    /// Zeros before and after each half of the buffer (`format::DIAG_PAD`).
    pub const PAD: usize = DIAG_PAD;

    /// Floats of buffer a state of `n_hidden` units needs: `2 n_hidden + 3 PAD` for `h`, the
    /// next state and the zeros around them, `(n_hidden + 2) / 2` for the int8 scratch.
    pub const fn buffer_len(n_hidden: usize) -> usize {
        2 * n_hidden + 3 * Self::PAD + (n_hidden + 2) / 2
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
        let (buf, hq) = buf.split_at_mut(2 * n_hidden + 3 * Self::PAD);
        let hq: &mut [i16] = bytemuck::cast_slice_mut(hq);
        Ok(State {
            buf,
            hq,
            n: n_hidden,
            second: false,
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
    /// not exposed).
    pub fn hidden_mut(&mut self) -> &mut [f32] {
        let s = self.start();
        self.buf.get_mut(s..s + self.n).unwrap_or(&mut [])
    }

    /// Back to `h = 0`.
    pub fn reset(&mut self) {
        self.hidden_mut().fill(0.0);
    }

    /// The parts a step works on: the current `h` padded (`PAD` zeros, `h`, `PAD` zeros; what
    /// [`super::phase::recurrent_padded`] takes), the other half (where the next state goes,
    /// `n_hidden` floats) and the int8 scratch (`n_hidden + 1` entries).
    pub fn padded_parts(&mut self) -> (&[f32], &mut [f32], &mut [i16]) {
        let (n, p) = (self.n, Self::PAD);
        if self.second {
            let (lo, hi) = self.buf.split_at_mut(p + n);
            (hi, &mut lo[p..], &mut *self.hq)
        } else {
            let (lo, hi) = self.buf.split_at_mut(2 * p + n);
            (lo, &mut hi[..n], &mut *self.hq)
        }
    }

    pub(crate) fn swap(&mut self) {
        self.second = !self.second;
    }
}
