//! The inner loops: row dot products over compressed rows or dense rows, in f32 and int8, and the
//! whole step over a set of arrays. Generic over how elements are read (`&[T]` or
//! [`LeSlice`](crate::format::LeSlice)) so the zero-copy path and the misaligned path share code.
//!
//! Safety: every function here requires a validated model (offsets within the arrays, column
//! indices below the vector length) and vectors of the model's sizes; `kernel::step` checks the
//! sizes, `ModelView::from_bytes` the rest.

use crate::format::{Activation, Csr, Load, Matrix, Net};

use super::activation::leaky_update;

/// sum over the stored entries of row `r` of `value * x[col]`.
#[inline(always)]
unsafe fn csr_dot<F: Load<f32>, U: Load<u32>, H: Load<u16>>(
    m: &Csr<F, U, H>,
    r: usize,
    x: &[f32],
) -> f32 {
    // SAFETY: see the module doc.
    unsafe {
        let (s, e) = (m.row_ptr.at(r) as usize, m.row_ptr.at(r + 1) as usize);
        let mut acc = 0.0f32;
        for k in s..e {
            acc += m.values.at(k) * *x.get_unchecked(usize::from(m.col_idx.at(k)));
        }
        acc
    }
}

/// sum of `q[k] * x[col]` over row `r`'s entries (int8 weights, structure from `m`).
#[inline(always)]
unsafe fn csr_dot_q<F, U: Load<u32>, H: Load<u16>>(
    m: &Csr<F, U, H>,
    q: &[i8],
    r: usize,
    x: &[f32],
) -> f32 {
    // SAFETY: see the module doc; `q` has one entry per stored value.
    unsafe {
        let (s, e) = (m.row_ptr.at(r) as usize, m.row_ptr.at(r + 1) as usize);
        let mut acc = 0.0f32;
        for k in s..e {
            acc += f32::from(*q.get_unchecked(k)) * *x.get_unchecked(usize::from(m.col_idx.at(k)));
        }
        acc
    }
}

#[inline(always)]
unsafe fn mat_dot<F: Load<f32>, U: Load<u32>, H: Load<u16>>(
    m: &Matrix<F, U, H>,
    r: usize,
    x: &[f32],
) -> f32 {
    // SAFETY: see the module doc.
    unsafe {
        match m {
            Matrix::Dense { cols, values, .. } => {
                let base = r * cols;
                let mut acc = 0.0f32;
                for (j, &xj) in x.iter().enumerate().take(*cols) {
                    acc += values.at(base + j) * xj;
                }
                acc
            }
            Matrix::Csr(c) => csr_dot(c, r, x),
        }
    }
}

#[inline(always)]
unsafe fn mat_dot_q<F, U: Load<u32>, H: Load<u16>>(
    m: &Matrix<F, U, H>,
    q: &[i8],
    r: usize,
    x: &[f32],
) -> f32 {
    // SAFETY: see the module doc.
    unsafe {
        match m {
            Matrix::Dense { cols, .. } => {
                let base = r * cols;
                let mut acc = 0.0f32;
                for (j, &xj) in x.iter().enumerate().take(*cols) {
                    acc += f32::from(*q.get_unchecked(base + j)) * xj;
                }
                acc
            }
            Matrix::Csr(c) => csr_dot_q(c, q, r, x),
        }
    }
}

/// Pre-activation `next = W h + W_in u + b_h` (f32 weights).
///
/// # Safety
/// Validated `net`; `h`, `next` of length n_hidden, `u` of length n_inputs.
#[inline(never)]
pub(crate) unsafe fn preact<F: Load<f32>, U: Load<u32>, H: Load<u16>>(
    net: &Net<'_, F, U, H>,
    h: &[f32],
    u: &[f32],
    next: &mut [f32],
) {
    for (i, n) in next.iter_mut().enumerate() {
        // SAFETY: forwarded.
        unsafe {
            *n = csr_dot(&net.rec, i, h) + mat_dot(&net.w_in, i, u) + net.b_h.at(i);
        }
    }
}

/// Pre-activation with the int8 weights: `next_i = s_i sum q_ij h_j + s'_i sum q'_ik u_k + b_h`.
///
/// # Safety
/// As [`preact`], and `net.int8` present.
#[inline(never)]
pub(crate) unsafe fn preact_int8<F: Load<f32>, U: Load<u32>, H: Load<u16>>(
    net: &Net<'_, F, U, H>,
    h: &[f32],
    u: &[f32],
    next: &mut [f32],
) {
    let Some(q) = &net.int8 else { return };
    for (i, n) in next.iter_mut().enumerate() {
        // SAFETY: forwarded.
        unsafe {
            *n = q.rec_scale.at(i) * csr_dot_q(&net.rec, q.rec_q, i, h)
                + q.in_scale.at(i) * mat_dot_q(&net.w_in, q.in_q, i, u)
                + net.b_h.at(i);
        }
    }
}

/// Output `o = W_out h + b_o`.
///
/// # Safety
/// Validated `net`; `h` of length n_hidden, `o` of length n_outputs.
#[inline(always)]
unsafe fn readout<F: Load<f32>, U: Load<u32>, H: Load<u16>>(
    net: &Net<'_, F, U, H>,
    h: &[f32],
    o: &mut [f32],
    int8: bool,
) {
    for (r, out) in o.iter_mut().enumerate() {
        // SAFETY: forwarded.
        unsafe {
            *out = match (&net.int8, int8) {
                (Some(q), true) => q.out_scale.at(r) * mat_dot_q(&net.w_out, q.out_q, r, h),
                _ => mat_dot(&net.w_out, r, h),
            } + net.b_o.at(r);
        }
    }
}

/// One whole step: `next = (1 - alpha) h + alpha phi(preact)`, `o = W_out next + b_o`.
///
/// # Safety
/// As [`preact`] plus `o` of length n_outputs; with `int8`, `net.int8` present.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn step_net<F: Load<f32>, U: Load<u32>, H: Load<u16>>(
    net: &Net<'_, F, U, H>,
    act: Activation,
    alpha: f32,
    h: &[f32],
    u: &[f32],
    next: &mut [f32],
    o: &mut [f32],
    int8: bool,
) {
    // SAFETY: forwarded.
    unsafe {
        if int8 {
            preact_int8(net, h, u, next);
        } else {
            preact(net, h, u, next);
        }
        leaky_update(act, alpha, h, next);
        readout(net, next, o, int8);
    }
}
