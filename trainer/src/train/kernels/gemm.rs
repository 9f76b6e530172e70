//! A checked wrapper over the `gemm` crate for strided matrix views, on one thread or on the
//! current rayon pool ([`matmul`]; the same bits either way, tested below).

/// A strided matrix inside a slice: element (r, c) sits at `off + r * rs + c * cs`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View {
    pub off: usize,
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl View {
    /// A row-major `rows` x `cols` matrix with leading dimension `ld`, starting at `off`.
    pub fn rm(off: usize, rows: usize, cols: usize, ld: usize) -> Self {
        View {
            off,
            rows,
            cols,
            rs: ld,
            cs: 1,
        }
    }

    /// A column-major `rows` x `cols` matrix (= the transpose of a row-major one) with leading
    /// dimension `ld`, starting at `off`.
    pub fn cm(off: usize, rows: usize, cols: usize, ld: usize) -> Self {
        View {
            off,
            rows,
            cols,
            rs: 1,
            cs: ld,
        }
    }

    fn fits(&self, len: usize) -> bool {
        self.rows == 0
            || self.cols == 0
            || self.off + (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < len
    }
}

/// `dst = lhs * rhs`, or `dst += lhs * rhs` when `accumulate`, on up to `threads` threads of the
/// current rayon pool (1: the calling thread only). The `gemm` crate splits the output among the
/// threads and blocks the inner dimension the same way for any count, so every element is summed
/// in the same order: the same bits with any `threads` (tested below). Panics on inconsistent
/// shapes or views outside their slices (internal invariants, never user input).
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul(
    threads: usize,
    dst: &mut [f32],
    d: View,
    lhs: &[f32],
    l: View,
    rhs: &[f32],
    r: View,
    accumulate: bool,
) {
    assert!(
        d.rows == l.rows && d.cols == r.cols && l.cols == r.rows,
        "gemm shape mismatch"
    );
    assert!(
        d.fits(dst.len()) && l.fits(lhs.len()) && r.fits(rhs.len()),
        "gemm view out of bounds"
    );
    if d.rows == 0 || d.cols == 0 {
        return;
    }
    if l.cols == 0 {
        if !accumulate {
            for i in 0..d.rows {
                for j in 0..d.cols {
                    dst[d.off + i * d.rs + j * d.cs] = 0.0;
                }
            }
        }
        return;
    }
    // SAFETY: every element addressed by the three views lies inside its slice (checked above),
    // `dst` is a unique borrow so it cannot overlap the inputs, and the strides fit in isize
    // because they index existing allocations.
    unsafe {
        gemm::gemm(
            d.rows,
            d.cols,
            l.cols,
            dst.as_mut_ptr().add(d.off),
            d.cs as isize,
            d.rs as isize,
            accumulate,
            lhs.as_ptr().add(l.off),
            l.cs as isize,
            l.rs as isize,
            rhs.as_ptr().add(r.off),
            r.cs as isize,
            r.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            if threads > 1 {
                gemm::Parallelism::Rayon(threads)
            } else {
                gemm::Parallelism::None
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_products_match_naive() {
        // A [2x3] row-major, B^T stored row-major as [2x3] (so B = [3x2] column-major).
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let bt = [1.0, 0.5, -1.0, 2.0, 0.0, 1.0];
        let mut c = [10.0f32; 4];
        matmul(
            1,
            &mut c,
            View::rm(0, 2, 2, 2),
            &a,
            View::rm(0, 2, 3, 3),
            &bt,
            View::cm(0, 3, 2, 3),
            false,
        );
        assert_eq!(c, [-1.0, 5.0, 0.5, 14.0]);
        matmul(
            1,
            &mut c,
            View::rm(0, 2, 2, 2),
            &a,
            View::rm(0, 2, 3, 3),
            &bt,
            View::cm(0, 3, 2, 3),
            true,
        );
        assert_eq!(c, [-2.0, 10.0, 1.0, 28.0]);
    }

    /// The shapes the trainer multiplies (N x N by N x B per step, N x TB by TB x N for dW, with
    /// the strides it uses), on pools of 2, 3 and 4 threads: bit-identical to one thread.
    #[test]
    fn threaded_products_have_the_same_bits() {
        let mut rng = gyrus_runtime::tasks::Rng::new(5);
        let mut fill = |len: usize| (0..len).map(|_| rng.normal()).collect::<Vec<f32>>();
        for (n, b, tb) in [(256, 64, 640), (300, 40, 400), (676, 64, 192)] {
            let (w, h, g) = (fill(n * n), fill(n * (tb + b)), fill(n * tb));
            let products = |threads: usize| {
                let mut step = vec![0.5f32; n * b];
                let mut dw = vec![0.0f32; n * n];
                matmul(
                    threads,
                    &mut step,
                    View::rm(0, n, b, b),
                    &w,
                    View::cm(0, n, n, n),
                    &h,
                    View::rm(b, n, b, tb + b),
                    true,
                );
                matmul(
                    threads,
                    &mut dw,
                    View::rm(0, n, n, n),
                    &g,
                    View::rm(0, n, tb, tb),
                    &h,
                    View::cm(0, tb, n, tb + b),
                    false,
                );
                (step, dw)
            };
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let (s1, d1) = products(1);
            for threads in [2, 3, 4] {
                let pool = crate::train::threads::pool(threads).unwrap();
                let (sk, dk) = pool.install(|| products(threads));
                assert_eq!(bits(&s1), bits(&sk), "N={n} B={b}: step, {threads} threads");
                assert_eq!(bits(&d1), bits(&dk), "N={n} TB={tb}: dW, {threads} threads");
            }
        }
    }
}
