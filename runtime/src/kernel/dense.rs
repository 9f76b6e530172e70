//! A plain dense kernel of the same network: every weight stored, zeros included. It is the
//! baseline of the benchmark "sparse vs dense of the same network"; the sparse kernel must win
//! whenever most recurrent weights are zero.
//!
//! ```text
//! let mut buf = vec![0.0; Dense::buffer_len(&model)];
//! let dense = Dense::expand(&model, &mut buf)?;
//! dense::step_dense(&dense, &mut state, &input, &mut output)?;
//! ```

use super::activation::leaky_update;
use super::{check_sizes, KernelError, State};
use crate::format::{Activation, ModelView};

/// A dense copy of a model's weights, in a caller buffer.
#[derive(Debug)]
pub struct Dense<'a> {
    n_inputs: usize,
    n_hidden: usize,
    n_outputs: usize,
    activation: Activation,
    alpha: f32,
    w: &'a [f32],
    w_in: &'a [f32],
    w_out: &'a [f32],
    b_h: &'a [f32],
    b_o: &'a [f32],
}

impl<'a> Dense<'a> {
    /// Floats of buffer [`Dense::expand`] needs for `model`.
    pub fn buffer_len(model: &ModelView<'_>) -> usize {
        let (i, h, o) = (model.n_inputs(), model.n_hidden(), model.n_outputs());
        h * h + h * i + o * h + h + o
    }

    /// Expands `model`'s f32 weights into `buf` (at least [`Dense::buffer_len`] floats).
    pub fn expand(model: &ModelView<'_>, buf: &'a mut [f32]) -> Result<Self, KernelError> {
        let (n_in, n_h, n_out) = (model.n_inputs(), model.n_hidden(), model.n_outputs());
        let needed = Self::buffer_len(model);
        let got = buf.len();
        let buf = buf
            .get_mut(..needed)
            .ok_or(KernelError::DenseBuffer { needed, got })?;
        buf.fill(0.0);
        let (w, rest) = buf.split_at_mut(n_h * n_h);
        let (w_in, rest) = rest.split_at_mut(n_h * n_in);
        let (w_out, rest) = rest.split_at_mut(n_out * n_h);
        let (b_h, b_o) = rest.split_at_mut(n_h);
        // The blob's weights in its default precision (f32, or the dequantised int8 weights of
        // an int8-only blob); the lengths are right by construction.
        let _ = model.recurrent().to_dense(w);
        let _ = model.input_weights().to_dense(w_in);
        let _ = model.output_weights().to_dense(w_out);
        for (d, s) in b_h.iter_mut().zip(model.hidden_bias().iter()) {
            *d = s;
        }
        for (d, s) in b_o.iter_mut().zip(model.output_bias().iter()) {
            *d = s;
        }
        Ok(Dense {
            n_inputs: n_in,
            n_hidden: n_h,
            n_outputs: n_out,
            activation: model.activation(),
            alpha: model.alpha(),
            w,
            w_in,
            w_out,
            b_h,
            b_o,
        })
    }
}

fn dot(row: &[f32], x: &[f32]) -> f32 {
    let mut acc = 0.0f32;
    for (&a, &b) in row.iter().zip(x) {
        acc += a * b;
    }
    acc
}

/// One step of the dense network; same equations and buffers as [`super::step`].
#[inline(never)]
pub fn step_dense(
    model: &Dense<'_>,
    state: &mut State<'_>,
    input: &[f32],
    output: &mut [f32],
) -> Result<(), KernelError> {
    check_sizes(
        (model.n_inputs, model.n_hidden, model.n_outputs),
        state,
        input,
        output,
    )?;
    let (n_in, n_h) = (model.n_inputs, model.n_hidden);
    let (hp, next, _) = state.padded_parts();
    let h = &hp[State::PAD..State::PAD + n_h];
    for (i, n) in next.iter_mut().enumerate() {
        *n = dot(&model.w[i * n_h..(i + 1) * n_h], h)
            + dot(&model.w_in[i * n_in..(i + 1) * n_in], input)
            + model.b_h[i];
    }
    leaky_update(model.activation, model.alpha, h, next);
    for (r, o) in output.iter_mut().enumerate() {
        *o = dot(&model.w_out[r * n_h..(r + 1) * n_h], next) + model.b_o[r];
    }
    state.swap();
    Ok(())
}
