//! The weight arrays of a validated model, generic over how elements are read: [`LeSlice`] (any
//! alignment; the public view types) or plain slices (the zero-copy fast path the kernels use when
//! the blob is 4-aligned).

use super::ell::Ell;
use super::le::LeSlice;

/// A compressed-row (CSR) matrix: row `r` holds the entries `row_ptr[r]..row_ptr[r + 1]` of
/// `col_idx` and `values`. For the recurrent matrix, row = the unit receiving, column = the unit
/// sending.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Csr<F, U, H> {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows + 1` offsets into `col_idx` / `values`, starting at 0, non-decreasing.
    pub row_ptr: U,
    /// Column of each stored entry; strictly increasing within a row, `< cols`.
    pub col_idx: H,
    /// Value of each stored entry.
    pub values: F,
}

/// A weight matrix stored dense (row-major) or in compressed rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Matrix<F, U, H> {
    /// Row-major `rows * cols` values.
    Dense {
        /// Number of rows.
        rows: usize,
        /// Number of columns.
        cols: usize,
        /// The values, row-major.
        values: F,
    },
    /// Compressed rows.
    Csr(Csr<F, U, H>),
}

impl<F, U, H> Matrix<F, U, H> {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        match self {
            Matrix::Dense { rows, .. } => *rows,
            Matrix::Csr(c) => c.rows,
        }
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        match self {
            Matrix::Dense { cols, .. } => *cols,
            Matrix::Csr(c) => c.cols,
        }
    }
}

/// The int8 variant of the weights: `w ~= scale[row] * q`, with `q` in the same order and
/// structure as the f32 values of the same matrix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Int8<'a, F> {
    /// Fraction bits `f` of the quantised hidden state the int8 recurrent product reads:
    /// `hq = sat16(trunc(h 2^f))`, so activations are `hq 2^-f`.
    pub act_frac_bits: u8,
    /// Recurrent weights (one per stored f32 recurrent entry).
    pub rec_q: &'a [i8],
    /// One scale per recurrent row.
    pub rec_scale: F,
    /// Input weights (one per stored f32 input entry).
    pub in_q: &'a [i8],
    /// One scale per input-weight row (per hidden unit).
    pub in_scale: F,
    /// Output weights (one per stored f32 output entry).
    pub out_q: &'a [i8],
    /// One scale per output-weight row (per output).
    pub out_scale: F,
}

/// All arrays a kernel reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Net<'a, F, U, H> {
    pub rec: Csr<F, U, H>,
    /// `rec` in the kernel's lane-grouped layout.
    pub rec_ell: Ell<F, H>,
    /// `int8.rec_q` in the int8 kernel's pair-group layout (`format::pairs`; present with `int8`).
    pub rec_q_pairs: Option<U>,
    pub w_in: Matrix<F, U, H>,
    pub w_out: Matrix<F, U, H>,
    pub b_h: F,
    pub b_o: F,
    pub int8: Option<Int8<'a, F>>,
}

/// A CSR matrix read in place from a blob.
pub type CsrView<'a> = Csr<LeSlice<'a, f32>, LeSlice<'a, u32>, LeSlice<'a, u16>>;
/// A weight matrix read in place from a blob.
pub type MatrixView<'a> = Matrix<LeSlice<'a, f32>, LeSlice<'a, u32>, LeSlice<'a, u16>>;
/// The int8 weights read in place from a blob.
pub type Int8View<'a> = Int8<'a, LeSlice<'a, f32>>;
pub(crate) type LeNet<'a> = Net<'a, LeSlice<'a, f32>, LeSlice<'a, u32>, LeSlice<'a, u16>>;
pub(crate) type FastNet<'a> = Net<'a, &'a [f32], &'a [u32], &'a [u16]>;

impl<'a> CsrView<'a> {
    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// The stored entries of row `r` as `(column, value)`; empty out of range.
    pub fn row(&self, r: usize) -> impl Iterator<Item = (usize, f32)> + 'a {
        let start = self.row_ptr.get(r).unwrap_or(0) as usize;
        let end = self.row_ptr.get(r + 1).map_or(start, |e| e as usize);
        let (cols, vals) = (self.col_idx, self.values);
        (start..end).filter_map(move |k| Some((usize::from(cols.get(k)?), vals.get(k)?)))
    }

    fn fast(&self) -> Option<Csr<&'a [f32], &'a [u32], &'a [u16]>> {
        Some(Csr {
            rows: self.rows,
            cols: self.cols,
            row_ptr: self.row_ptr.as_slice()?,
            col_idx: self.col_idx.as_slice()?,
            values: self.values.as_slice()?,
        })
    }
}

impl<'a> MatrixView<'a> {
    /// Number of stored values (dense: rows * cols).
    pub fn stored(&self) -> usize {
        match self {
            Matrix::Dense { values, .. } => values.len(),
            Matrix::Csr(c) => c.nnz(),
        }
    }

    /// Entry `(r, c)` (0 where not stored or out of range).
    pub fn get(&self, r: usize, c: usize) -> f32 {
        match self {
            Matrix::Dense { rows, cols, values } => {
                if r < *rows && c < *cols {
                    values.get(r * cols + c).unwrap_or(0.0)
                } else {
                    0.0
                }
            }
            Matrix::Csr(m) => m.row(r).find(|&(j, _)| j == c).map_or(0.0, |(_, v)| v),
        }
    }

    fn fast(&self) -> Option<Matrix<&'a [f32], &'a [u32], &'a [u16]>> {
        Some(match self {
            Matrix::Dense { rows, cols, values } => Matrix::Dense {
                rows: *rows,
                cols: *cols,
                values: values.as_slice()?,
            },
            Matrix::Csr(c) => Matrix::Csr(c.fast()?),
        })
    }
}

impl<'a> LeNet<'a> {
    /// The same arrays as plain slices, when all are aligned (zero copy).
    pub(crate) fn fast(&self) -> Option<FastNet<'a>> {
        let int8 = match &self.int8 {
            None => None,
            Some(q) => Some(Int8 {
                act_frac_bits: q.act_frac_bits,
                rec_q: q.rec_q,
                rec_scale: q.rec_scale.as_slice()?,
                in_q: q.in_q,
                in_scale: q.in_scale.as_slice()?,
                out_q: q.out_q,
                out_scale: q.out_scale.as_slice()?,
            }),
        };
        Some(Net {
            rec: self.rec.fast()?,
            rec_ell: self.rec_ell.fast()?,
            rec_q_pairs: match self.rec_q_pairs {
                Some(p) => Some(p.as_slice()?),
                None => None,
            },
            w_in: self.w_in.fast()?,
            w_out: self.w_out.fast()?,
            b_h: self.b_h.as_slice()?,
            b_o: self.b_o.as_slice()?,
            int8,
        })
    }
}
