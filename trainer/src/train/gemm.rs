//! A checked wrapper over the `gemm` crate for strided matrix views (single-threaded).

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

/// `dst = lhs * rhs`, or `dst += lhs * rhs` when `accumulate`. Panics on inconsistent shapes or
/// views outside their slices (internal invariants, never user input).
pub(crate) fn matmul(
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
            gemm::Parallelism::None,
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
}
