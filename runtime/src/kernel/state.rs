//! [`State`]: the hidden state of one network, in buffers the caller owns.

use super::KernelError;

/// Hidden state over a caller buffer of [`State::buffer_len`] floats: the current `h`, a second
/// half the next step writes into (the recurrent product needs the previous `h` whole, so the
/// update cannot be in place; a step swaps the halves, copying nothing), and the int8 step's
/// scratch, `h` quantised to i16 (`n_hidden + 1` entries, in the buffer's last
/// `(n_hidden + 2) / 2` floats).
///
/// On a microcontroller use a `static mut [f32; State::buffer_len(N)]` (a `const fn`) or a stack
/// array; a buffer sized for the largest model serves smaller ones (only the first
/// `State::buffer_len(n_hidden)` floats are used). [`State::new`] refuses a shorter buffer.
#[derive(Debug)]
pub struct State<'a> {
    pub(crate) h: &'a mut [f32],
    pub(crate) next: &'a mut [f32],
    pub(crate) hq: &'a mut [i16],
}

impl<'a> State<'a> {
    /// Floats of buffer a state of `n_hidden` units needs: `2 n_hidden` for `h` and the next
    /// state, `(n_hidden + 2) / 2` for the int8 scratch.
    pub const fn buffer_len(n_hidden: usize) -> usize {
        2 * n_hidden + (n_hidden + 2) / 2
    }

    /// A zero state of `n_hidden` units in the front of `buf`.
    pub fn new(n_hidden: usize, buf: &'a mut [f32]) -> Result<Self, KernelError> {
        let needed = Self::buffer_len(n_hidden);
        let got = buf.len();
        let buf = buf
            .get_mut(..needed)
            .ok_or(KernelError::StateBuffer { needed, got })?;
        buf.fill(0.0);
        let (h, rest) = buf.split_at_mut(n_hidden);
        let (next, hq) = rest.split_at_mut(n_hidden);
        let hq: &mut [i16] = bytemuck::cast_slice_mut(hq);
        Ok(State { h, next, hq })
    }

    /// Number of hidden units.
    pub fn n_hidden(&self) -> usize {
        self.h.len()
    }

    /// The current hidden state `h`.
    pub fn hidden(&self) -> &[f32] {
        self.h
    }

    /// The current hidden state, writable (to start from a given `h`).
    pub fn hidden_mut(&mut self) -> &mut [f32] {
        self.h
    }

    /// Back to `h = 0`.
    pub fn reset(&mut self) {
        self.h.fill(0.0);
    }

    pub(crate) fn swap(&mut self) {
        core::mem::swap(&mut self.h, &mut self.next);
    }
}
