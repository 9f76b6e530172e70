//! Compressed-row recurrence for masked families, fused with the element-wise step updates.
//!
//! Unit-major buffers (see `workspace.rs`): one step of one unit is a run of B values, so each
//! stored connection is one B-wide multiply-add, kept in registers across a row's connections:
//! - forward, per unit i: acc = a_t[i] + sum_k w[k] h_{t-1}[col k]; f = phi(acc);
//!   h_t[i] = (1 - alpha) h_{t-1}[i] + alpha f (pre-activations are not stored);
//! - backward, per unit j, over the transposed mask (the rows i that read unit j):
//!   dh = g_t[j] + (1 - alpha) dh_{t+1}[j] + sum_i w[i, j] da_{t+1}[i];
//!   da_t[j] = alpha phi'(f) dh (written over g_t[j]).
//!
//! The backward reads each column as a gathered sum (no scattered read-modify-write), from
//! [`Transposed`], rebuilt from the mask and weights once per backward pass.

use super::kernels::Step;
use super::simd::multiversion;
use crate::model::{Activation, Csr};

/// Values per register-blocked chunk of a unit's run (4 AVX2 registers).
const W: usize = 32;

/// The mask transposed (compressed columns): for unit j, the rows i with a connection i <- j,
/// and the weight of each, in increasing i.
#[derive(Clone, Debug, Default)]
pub(crate) struct Transposed {
    ptr: Vec<usize>,
    rows: Vec<u32>,
    vals: Vec<f32>,
}

impl Transposed {
    /// Rebuilds from `mask` and its weights `w` (reusing the buffers).
    pub fn rebuild(&mut self, mask: &Csr, w: &[f32]) {
        let n = mask.n();
        let (row_ptr, cols) = (mask.row_ptr(), mask.cols());
        self.ptr.clear();
        self.ptr.resize(n + 1, 0);
        for &c in cols {
            self.ptr[c as usize + 1] += 1;
        }
        for j in 0..n {
            self.ptr[j + 1] += self.ptr[j];
        }
        self.rows.resize(cols.len(), 0);
        self.vals.resize(cols.len(), 0.0);
        // Rows visited in increasing order, so each column's list is sorted by row.
        let mut next: Vec<usize> = self.ptr[..n].to_vec();
        for i in 0..n {
            for k in row_ptr[i]..row_ptr[i + 1] {
                let c = cols[k] as usize;
                self.rows[next[c]] = i as u32;
                self.vals[next[c]] = w[k];
                next[c] += 1;
            }
        }
    }
}

/// acc[l] += w * x[l] over one chunk.
#[inline(always)]
fn axpy(acc: &mut [f32], w: f32, x: &[f32]) {
    for (a, &v) in acc.iter_mut().zip(x) {
        *a += w * v;
    }
}

/// One unit's forward chunk `c0..c0 + len` (len <= W) of step `s`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_chunk<const L: usize>(
    act: Activation,
    alpha: f32,
    i: usize,
    c0: usize,
    (row_ptr, cols, w): (&[usize], &[u32], &[f32]),
    s: Step,
    a: &[f32],
    f: &mut [f32],
    h: &mut [f32],
) {
    let mut acc = [0.0f32; L];
    let ra = i * s.ld + s.off + c0;
    acc.copy_from_slice(&a[ra..ra + L]);
    for k in row_ptr[i]..row_ptr[i + 1] {
        let rh = cols[k] as usize * s.ld_h + s.off + c0;
        axpy(&mut acc, w[k], &h[rh..rh + L]);
    }
    let rh = i * s.ld_h + s.off + c0;
    if alpha == 1.0 {
        act.apply_to(&acc, &mut h[rh + s.b..rh + s.b + L]);
    } else {
        let f_i = &mut f[ra..ra + L];
        act.apply_to(&acc, f_i);
        let keep = 1.0 - alpha;
        let (prev, next) = h[rh..rh + s.b + L].split_at_mut(s.b);
        for ((nx, &p), &v) in next.iter_mut().zip(&prev[..L]).zip(f_i.iter()) {
            *nx = keep * p + alpha * v;
        }
    }
}

/// Forward of one unit's run, tail (< W values) without register blocking.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_tail(
    act: Activation,
    alpha: f32,
    i: usize,
    c0: usize,
    (row_ptr, cols, w): (&[usize], &[u32], &[f32]),
    s: Step,
    a: &[f32],
    f: &mut [f32],
    h: &mut [f32],
) {
    let len = s.b - c0;
    let mut acc = [0.0f32; W];
    let acc = &mut acc[..len];
    let ra = i * s.ld + s.off + c0;
    acc.copy_from_slice(&a[ra..ra + len]);
    for k in row_ptr[i]..row_ptr[i + 1] {
        let rh = cols[k] as usize * s.ld_h + s.off + c0;
        axpy(acc, w[k], &h[rh..rh + len]);
    }
    let rh = i * s.ld_h + s.off + c0;
    if alpha == 1.0 {
        act.apply_to(acc, &mut h[rh + s.b..rh + s.b + len]);
    } else {
        let f_i = &mut f[ra..ra + len];
        act.apply_to(acc, f_i);
        let keep = 1.0 - alpha;
        let (prev, next) = h[rh..rh + s.b + len].split_at_mut(s.b);
        for ((nx, &p), &v) in next.iter_mut().zip(&prev[..len]).zip(f_i.iter()) {
            *nx = keep * p + alpha * v;
        }
    }
}

multiversion! {
    /// One forward step over the mask, fused with the activation and the leak: reads the input
    /// part of the pre-activations `a` (W_in u + b + noise) and h_{t-1}; writes f (alpha < 1) and
    /// h_t.
    pub(crate) fn sparse_step_forward(act: Activation, alpha: f32, row_ptr: &[usize], cols: &[u32], w: &[f32], s: Step, a: &[f32], f: &mut [f32], h: &mut [f32]) {
        let n = row_ptr.len() - 1;
        let m = (row_ptr, cols, w);
        for i in 0..n {
            let mut c0 = 0;
            while c0 + W <= s.b {
                forward_chunk::<W>(act, alpha, i, c0, m, s, a, f, h);
                c0 += W;
            }
            if c0 < s.b {
                forward_tail(act, alpha, i, c0, m, s, a, f, h);
            }
        }
    }
}

/// Where the backward step reads phi(a_t) and writes dh.
#[derive(Clone, Copy)]
pub(crate) struct BackStep<'a> {
    /// phi(a_t) of unit i at `phi[i * phi_ld + phi_off ..][..B]`.
    pub phi: &'a [f32],
    /// Row length of `phi`.
    pub phi_ld: usize,
    /// Offset of this step's block in `phi`.
    pub phi_off: usize,
    /// Whether a later step exists (t < T - 1): only then do the carried terms count.
    pub has_next: bool,
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_run(
    act: Activation,
    alpha: f32,
    j: usize,
    c0: usize,
    acc: &mut [f32],
    t: &Transposed,
    s: Step,
    p: BackStep<'_>,
    g: &mut [f32],
    dh: &mut [f32],
) {
    let len = acc.len();
    let rg = j * s.ld + s.off + c0;
    acc.copy_from_slice(&g[rg..rg + len]);
    if p.has_next {
        let rd = j * s.b + c0;
        if alpha != 1.0 {
            axpy(acc, 1.0 - alpha, &dh[rd..rd + len]);
        }
        let next = s.off + s.b + c0;
        for k in t.ptr[j]..t.ptr[j + 1] {
            let r = t.rows[k] as usize * s.ld + next;
            axpy(acc, t.vals[k], &g[r..r + len]);
        }
    }
    if alpha != 1.0 {
        let rd = j * s.b + c0;
        dh[rd..rd + len].copy_from_slice(acc);
    }
    let rf = j * p.phi_ld + p.phi_off + c0;
    let phi = &p.phi[rf..rf + len];
    let out = &mut g[rg..rg + len];
    match act {
        Activation::Relu => {
            for ((o, &d), &y) in out.iter_mut().zip(acc.iter()).zip(phi) {
                *o = if y > 0.0 { alpha * d } else { 0.0 };
            }
        }
        Activation::Tanh => {
            for ((o, &d), &y) in out.iter_mut().zip(acc.iter()).zip(phi) {
                *o = alpha * (1.0 - y * y) * d;
            }
        }
        Activation::Softplus => {
            for ((o, &d), &y) in out.iter_mut().zip(acc.iter()).zip(phi) {
                *o = alpha * -(-y).exp_m1() * d;
            }
        }
    }
}

multiversion! {
    /// One backward step over the transposed mask, fused with the activation derivative: on
    /// entry `g` holds the readout's dLoss/dh_t in this step's block and dLoss/da_{t+1} in the
    /// next; on exit this block holds dLoss/da_t. `dh` ([N, B]) carries dLoss/dh between steps
    /// when alpha < 1 (unused otherwise).
    pub(crate) fn sparse_step_backward(act: Activation, alpha: f32, t: &Transposed, s: Step, p: BackStep<'_>, g: &mut [f32], dh: &mut [f32]) {
        let n = t.ptr.len() - 1;
        for j in 0..n {
            let mut c0 = 0;
            while c0 + W <= s.b {
                let mut acc = [0.0f32; W];
                backward_run(act, alpha, j, c0, &mut acc, t, s, p, g, dh);
                c0 += W;
            }
            if c0 < s.b {
                let mut acc = [0.0f32; W];
                backward_run(act, alpha, j, c0, &mut acc[..s.b - c0], t, s, p, g, dh);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_lists_rows_per_column() {
        let mask = Csr::from_rows(3, vec![vec![0, 2], vec![1], vec![0, 1, 2]]).unwrap();
        let mut t = Transposed::default();
        t.rebuild(&mask, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(t.ptr, vec![0, 2, 4, 6]);
        assert_eq!(t.rows, vec![0, 2, 1, 2, 0, 2]);
        assert_eq!(t.vals, vec![1.0, 4.0, 3.0, 5.0, 2.0, 6.0]);
    }
}
