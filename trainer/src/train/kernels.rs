//! Hot loops of the hand-written BPTT: element-wise step updates and the sparse (compressed-row)
//! recurrent products, on the unit-major layout (each unit's values over time and batch contiguous;
//! one step of one unit is a run of B values).

use super::simd::multiversion;
use crate::model::Activation;

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
    /// f = phi(a); h_t = (1 - alpha) h_{t-1} + alpha f, for every unit of one step. With
    /// alpha = 1, phi(a) goes straight into h_t and `f` is not used (it may be empty).
    pub(crate) fn step_forward(act: Activation, alpha: f32, n: usize, s: Step, a: &[f32], f: &mut [f32], h: &mut [f32]) {
        for i in 0..n {
            let ra = i * s.ld + s.off;
            let a_i = &a[ra..ra + s.b];
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

/// Dot product with 16 lane accumulators (lane l sums the products of elements = l mod 16), then
/// a fixed pairwise reduction. [`dot_avx`] computes exactly the same sums with two 8-wide
/// registers (separate multiply and add, no FMA), so both give bit-identical results.
#[inline(always)]
fn dot(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let xc = x.chunks_exact(16);
    let yc = y.chunks_exact(16);
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for ((s, &p), &q) in acc.iter_mut().zip(a).zip(b) {
            *s += p * q;
        }
    }
    reduce16(&acc) + dot_tail(xr, yr)
}

#[inline(always)]
fn dot_tail(x: &[f32], y: &[f32]) -> f32 {
    let mut tail = 0.0f32;
    for (a, b) in x.iter().zip(y) {
        tail += a * b;
    }
    tail
}

#[inline(always)]
fn reduce16(acc: &[f32; 16]) -> f32 {
    let mut half = [0.0f32; 8];
    for (l, h) in half.iter_mut().enumerate() {
        *h = acc[l] + acc[l + 8];
    }
    let q = [
        half[0] + half[4],
        half[1] + half[5],
        half[2] + half[6],
        half[3] + half[7],
    ];
    (q[0] + q[2]) + (q[1] + q[3])
}

/// [`dot`] with AVX intrinsics.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx(x: &[f32], y: &[f32]) -> f32 {
    use std::arch::x86_64::{
        _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let n16 = x.len().min(y.len()) / 16 * 16;
    let (mut a0, mut a1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut k = 0;
    while k < n16 {
        // SAFETY: k + 16 <= n16 <= both lengths, so all 16 loads are in bounds.
        unsafe {
            let x0 = _mm256_loadu_ps(x.as_ptr().add(k));
            let x1 = _mm256_loadu_ps(x.as_ptr().add(k + 8));
            let y0 = _mm256_loadu_ps(y.as_ptr().add(k));
            let y1 = _mm256_loadu_ps(y.as_ptr().add(k + 8));
            a0 = _mm256_add_ps(a0, _mm256_mul_ps(x0, y0));
            a1 = _mm256_add_ps(a1, _mm256_mul_ps(x1, y1));
        }
        k += 16;
    }
    let mut acc = [0.0f32; 16];
    // SAFETY: acc has room for two 8-wide stores.
    unsafe {
        _mm256_storeu_ps(acc.as_mut_ptr(), a0);
        _mm256_storeu_ps(acc.as_mut_ptr().add(8), a1);
    }
    reduce16(&acc) + dot_tail(&x[n16..], &y[n16..])
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn weight_grad_rows(
    dot: impl Fn(&[f32], &[f32]) -> f32,
    row_ptr: &[usize],
    cols: &[u32],
    tb: usize,
    ld_h: usize,
    g: &[f32],
    h: &[f32],
    dw: &mut [f32],
) {
    let n = row_ptr.len() - 1;
    for i in 0..n {
        let g_i = &g[i * tb..(i + 1) * tb];
        for k in row_ptr[i]..row_ptr[i + 1] {
            let j = cols[k] as usize;
            dw[k] = dot(g_i, &h[j * ld_h..j * ld_h + tb]);
        }
    }
}

/// Four dot products sharing `x` (all rows of one length), each with [`dot_avx`]'s lane sums
/// (so the same bits), interleaved so that the shared row is loaded once and eight independent
/// add chains hide the add latency.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot4_avx(x: &[f32], ys: [&[f32]; 4]) -> [f32; 4] {
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let len = ys.iter().fold(x.len(), |m, y| m.min(y.len()));
    let n16 = len / 16 * 16;
    let mut a: [[__m256; 2]; 4] = [[_mm256_setzero_ps(); 2]; 4];
    let mut k = 0;
    while k < n16 {
        // SAFETY: k + 16 <= n16 <= every length, so all loads are in bounds.
        unsafe {
            let x0 = _mm256_loadu_ps(x.as_ptr().add(k));
            let x1 = _mm256_loadu_ps(x.as_ptr().add(k + 8));
            for (acc, y) in a.iter_mut().zip(&ys) {
                let y0 = _mm256_loadu_ps(y.as_ptr().add(k));
                let y1 = _mm256_loadu_ps(y.as_ptr().add(k + 8));
                acc[0] = _mm256_add_ps(acc[0], _mm256_mul_ps(x0, y0));
                acc[1] = _mm256_add_ps(acc[1], _mm256_mul_ps(x1, y1));
            }
        }
        k += 16;
    }
    let mut out = [0.0f32; 4];
    for ((o, acc), y) in out.iter_mut().zip(&a).zip(&ys) {
        let mut lanes = [0.0f32; 16];
        // SAFETY: lanes has room for two 8-wide stores.
        unsafe {
            _mm256_storeu_ps(lanes.as_mut_ptr(), acc[0]);
            _mm256_storeu_ps(lanes.as_mut_ptr().add(8), acc[1]);
        }
        *o = reduce16(&lanes) + dot_tail(&x[n16..len], &y[n16..len]);
    }
    out
}

/// [`weight_grad_rows`] with [`dot_avx`] (same bits), four connections of a row at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn weight_grad_avx(
    row_ptr: &[usize],
    cols: &[u32],
    tb: usize,
    ld_h: usize,
    g: &[f32],
    h: &[f32],
    dw: &mut [f32],
) {
    let n = row_ptr.len() - 1;
    let row = |j: u32| &h[j as usize * ld_h..j as usize * ld_h + tb];
    for i in 0..n {
        let g_i = &g[i * tb..(i + 1) * tb];
        let r = row_ptr[i]..row_ptr[i + 1];
        let mut cc = cols[r.clone()].chunks_exact(4);
        let mut dc = dw[r].chunks_exact_mut(4);
        for (c, d) in (&mut cc).zip(&mut dc) {
            // SAFETY: this function only runs where AVX2 and FMA are available (checked by the
            // caller).
            let v = unsafe { dot4_avx(g_i, [row(c[0]), row(c[1]), row(c[2]), row(c[3])]) };
            d.copy_from_slice(&v);
        }
        for (&c, d) in cc.remainder().iter().zip(dc.into_remainder()) {
            // SAFETY: as above.
            *d = unsafe { dot_avx(g_i, row(c)) };
        }
    }
}

/// dW[k] = sum over all steps and trials of dL/da[i] * h_prev[col k]: one dot product of length
/// T*B per allowed connection (`g` is [N, T*B], `h` is [N, (T+1)*B] with h_prev its first T*B).
pub(crate) fn sparse_weight_grad(
    row_ptr: &[usize],
    cols: &[u32],
    tb: usize,
    ld_h: usize,
    g: &[f32],
    h: &[f32],
    dw: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports the features enabled on `weight_grad_avx`.
        return unsafe { weight_grad_avx(row_ptr, cols, tb, ld_h, g, h, dw) };
    }
    weight_grad_rows(dot, row_ptr, cols, tb, ld_h, g, h, dw)
}

multiversion! {
    /// out[i] = sum of row i of a row-major matrix with rows of length `ld`.
    pub(crate) fn row_sums(m: &[f32], ld: usize, out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate() {
            let row = &m[i * ld..(i + 1) * ld];
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
            *o = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive() {
        let x: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let y: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let naive: f64 = x
            .iter()
            .zip(&y)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        assert!((f64::from(dot(&x, &y)) - naive).abs() < 1e-5);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the features are present.
            assert_eq!(unsafe { dot_avx(&x, &y) }.to_bits(), dot(&x, &y).to_bits());
        }
    }

    /// The four-at-a-time AVX weight gradient gives the same bits as one plain dot per
    /// connection.
    #[test]
    fn weight_grad_matches_plain_dots() {
        // 6 units (a row of 5 connections: one group of four and a remainder), T*B = 53 (a tail
        // after the 16-wide blocks), ld_h = T*B + 5.
        let n = 6;
        let mut rows = vec![vec![0, 1, 2, 4, 5], vec![3]];
        rows.resize(n, Vec::new());
        let mask = crate::model::Csr::from_rows(n, rows).unwrap();
        let (tb, ld_h) = (53, 58);
        let g: Vec<f32> = (0..n * tb).map(|i| (i as f32 * 0.37).sin()).collect();
        let h: Vec<f32> = (0..n * ld_h).map(|i| (i as f32 * 0.11).cos()).collect();
        let (rp, cols) = (mask.row_ptr(), mask.cols());
        let mut fast = vec![0.0f32; cols.len()];
        sparse_weight_grad(rp, cols, tb, ld_h, &g, &h, &mut fast);
        let mut plain = vec![0.0f32; cols.len()];
        weight_grad_rows(dot, rp, cols, tb, ld_h, &g, &h, &mut plain);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fast), bits(&plain));
        let naive: f64 = (0..tb)
            .map(|c| f64::from(g[c]) * f64::from(h[ld_h + c]))
            .sum();
        assert!((f64::from(fast[1]) - naive).abs() < 1e-4);
    }

    #[test]
    fn row_sums_add_each_row() {
        let mut out = [0.0f32; 2];
        row_sums(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, &mut out);
        assert_eq!(out, [6.0, 15.0]);
    }
}
