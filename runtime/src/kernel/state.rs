//! [`State`]: the hidden state of one network, in buffers the caller owns.

use super::KernelError;

/// Hidden state over a caller buffer of [`State::buffer_len`] floats: the current `h` and a
/// second half the next step writes into (the recurrent product needs the previous `h` whole, so
/// the update cannot be in place); a step swaps the halves, copying nothing.
///
/// On a microcontroller use a `static mut [f32; 2 * N]` or a stack array; a buffer sized for the
/// largest model serves smaller ones (only the first `2 * n_hidden` floats are used).
#[derive(Debug)]
pub struct State<'a> {
    pub(crate) h: &'a mut [f32],
    pub(crate) next: &'a mut [f32],
}

impl<'a> State<'a> {
    /// Floats of buffer a state of `n_hidden` units needs.
    pub const fn buffer_len(n_hidden: usize) -> usize {
        2 * n_hidden
    }

    /// A zero state of `n_hidden` units in the front of `buf`.
    pub fn new(n_hidden: usize, buf: &'a mut [f32]) -> Result<Self, KernelError> {
        let needed = Self::buffer_len(n_hidden);
        let got = buf.len();
        let buf = buf
            .get_mut(..needed)
            .ok_or(KernelError::StateBuffer { needed, got })?;
        buf.fill(0.0);
        let (h, next) = buf.split_at_mut(n_hidden);
        Ok(State { h, next })
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
