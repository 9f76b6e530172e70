//! Hot loops of the hand-written BPTT: element-wise step updates on the unit-major layout (each
//! unit's values over time and batch contiguous; one step of one unit is a run of B values) and
//! row sums.

use crate::model::{Activation, Training};
use crate::simd::multiversion;

/// Geometry of one step's block inside the unit-major buffers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    /// Batch size B (length of one unit's run).
    pub b: usize,
    /// Row length of the pre-activation / phi / gradient buffers (T * B).
    pub ld: usize,
    /// Row length of the hidden-state buffer ((T + 1) * B; block 0 is h_0).
    pub ld_h: usize,
    /// Offset of this step's block in the [N, T*B] buffers (t * B); h_{t-1} is at the same offset
    /// in the hidden buffer, h_t one block later.
    pub off: usize,
}

multiversion! {
    /// f = phi(a); h_t = (1 - alpha) h_{t-1} + alpha f, for every unit of one step (`a` is this
    /// step's [N, B] block). With alpha = 1, phi(a) goes straight into h_t and `f` is not used
    /// (it may be empty).
    pub(crate) fn step_forward(act: Activation, alpha: f32, n: usize, s: Step, a: &[f32], f: &mut [f32], h: &mut [f32]) {
        for i in 0..n {
            let ra = i * s.ld + s.off;
            let a_i = &a[i * s.b..(i + 1) * s.b];
            let rh = i * s.ld_h + s.off;
            let (prev, next) = h[rh..rh + 2 * s.b].split_at_mut(s.b);
            if alpha == 1.0 {
                act.apply_to(a_i, next);
            } else {
                let f_i = &mut f[ra..ra + s.b];
                act.apply_to(a_i, f_i);
                let keep = 1.0 - alpha;
                for ((n, &p), &v) in next.iter_mut().zip(prev.iter()).zip(f_i.iter()) {
                    *n = keep * p + alpha * v;
                }
            }
        }
    }
}

/// Where phi(a) of a step is stored: `buf[i * ld + off ..][..B]` for unit i (the phi buffer, or
/// the hidden states themselves when alpha = 1).
#[derive(Clone, Copy)]
pub(crate) struct Phi<'a> {
    pub buf: &'a [f32],
    pub ld: usize,
    pub off: usize,
}

#[inline(always)]
fn backward_rows(
    d: impl Fn(f32) -> f32,
    alpha: f32,
    n: usize,
    s: Step,
    f: Phi<'_>,
    g: &mut [f32],
    carry: &mut [f32],
) {
    let keep = 1.0 - alpha;
    for i in 0..n {
        let r = i * s.ld + s.off;
        let g_i = &mut g[r..r + s.b];
        let rf = i * f.ld + f.off;
        let f_i = &f.buf[rf..rf + s.b];
        let c_i = &mut carry[i * s.b..(i + 1) * s.b];
        for ((gv, &fv), cv) in g_i.iter_mut().zip(f_i).zip(c_i.iter_mut()) {
            let dh = *gv + *cv;
            *gv = alpha * d(fv) * dh;
            *cv = keep * dh;
        }
    }
}

multiversion! {
    /// dh = g + carry (g: gradient from the readout); g <- dL/da = alpha phi'(a) dh;
    /// carry <- (1 - alpha) dh (the recurrent part is added by the caller).
    pub(crate) fn step_backward(act: Activation, alpha: f32, n: usize, s: Step, f: Phi<'_>, g: &mut [f32], carry: &mut [f32]) {
        match act {
            Activation::Relu => backward_rows(|y| if y > 0.0 { 1.0 } else { 0.0 }, alpha, n, s, f, g, carry),
            Activation::Tanh => backward_rows(|y| 1.0 - y * y, alpha, n, s, f, g, carry),
            Activation::Softplus => backward_rows(|y| -(-y).exp_m1(), alpha, n, s, f, g, carry),
        }
    }
}

/// Sum of a run: 16 lane sums, then the tail, then the lanes in order.
#[inline(always)]
fn run_sum(row: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let c = row.chunks_exact(16);
    let mut tail = 0.0f32;
    for v in c.remainder() {
        tail += v;
    }
    for ch in c {
        for (s, &v) in acc.iter_mut().zip(ch) {
            *s += v;
        }
    }
    let mut s = tail;
    for v in acc {
        s += v;
    }
    s
}

multiversion! {
    /// out[i] += sum of `m[off + i * stride ..][..len]`, for every i < out.len() (e.g. the runs of
    /// one step's block).
    pub(crate) fn add_run_sums(m: &[f32], off: usize, stride: usize, len: usize, out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o += run_sum(&m[off + i * stride..off + i * stride + len]);
        }
    }
}

multiversion! {
    /// out[i] = sum of row i of a row-major matrix with rows of length `ld`.
    pub(crate) fn row_sums(m: &[f32], ld: usize, out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = run_sum(&m[i * ld..(i + 1) * ld]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_sums_add_each_row() {
        let mut out = [0.0f32; 2];
        row_sums(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, &mut out);
        assert_eq!(out, [6.0, 15.0]);
        add_run_sums(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 1, 3, 2, &mut out);
        assert_eq!(out, [6.0 + 5.0, 15.0 + 11.0]);
    }
}
