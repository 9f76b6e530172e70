//! The weight arrays of a validated model, generic over how elements are read: [`LeSlice`] (any
//! alignment; the public view types) or plain slices (the zero-copy fast path the kernels use when
//! the blob is 4-aligned).

use super::diag::Diag;
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

/// A weight matrix stored dense (row-major or column-major) or in compressed rows.
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
    /// Column-major `rows * cols` values: entry `(r, c)` at `c * rows + r` (format version 6: the
    /// input matrix, so that the input product over a step's nonzero inputs reads whole columns).
    ByColumn {
        /// Number of rows.
        rows: usize,
        /// Number of columns.
        cols: usize,
        /// The values, column-major.
        values: F,
    },
}

impl<F, U, H> Matrix<F, U, H> {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        match self {
            Matrix::Dense { rows, .. } | Matrix::ByColumn { rows, .. } => *rows,
            Matrix::Csr(c) => c.rows,
        }
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        match self {
            Matrix::Dense { cols, .. } | Matrix::ByColumn { cols, .. } => *cols,
            Matrix::Csr(c) => c.cols,
        }
    }

    /// Where a dense matrix (either order) stores entry `(r, c)`; `None` for compressed rows or
    /// out of range.
    pub fn dense_index(&self, r: usize, c: usize) -> Option<usize> {
        match self {
            Matrix::Dense { rows, cols, .. } if r < *rows && c < *cols => Some(r * cols + c),
            Matrix::ByColumn { rows, cols, .. } if r < *rows && c < *cols => Some(c * rows + r),
            _ => None,
        }
    }
}

/// The f32 recurrent matrix in the layout the exporter chose: lane groups (`format::ell`) or
/// diagonals (`format::diag`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Rec<F, H> {
    Rows(Ell<F, H>),
    Diagonal(Diag<F, H>),
}

/// The f32 weights a kernel reads: the recurrent matrix in its kernel layout, input and output
/// weights dense or in compressed rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct F32Net<F, U, H> {
    pub rec: Rec<F, H>,
    pub w_in: Matrix<F, U, H>,
    pub w_out: Matrix<F, U, H>,
}

/// The int8 weights a kernel reads: `w ~= scale[row] * q`. The recurrent matrix in the pair-group
/// layout (`format::pairs`, u32 words), input and output weights (i8) dense or in compressed rows
/// of their nonzero `q`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Int8Net<'a, F, U, H> {
    pub act_frac_bits: u8,
    pub rec: U,
    pub rec_scale: F,
    pub w_in: Matrix<&'a [i8], U, H>,
    pub in_scale: F,
    pub w_out: Matrix<&'a [i8], U, H>,
    pub out_scale: F,
}

/// All arrays a kernel reads: the f32 weights, the int8 weights (at least one of them), biases.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Net<'a, F, U, H> {
    pub f32: Option<F32Net<F, U, H>>,
    pub int8: Option<Int8Net<'a, F, U, H>>,
    pub b_h: F,
    pub b_o: F,
}

/// A CSR matrix read in place from a blob.
pub type CsrView<'a> = Csr<LeSlice<'a, f32>, LeSlice<'a, u32>, LeSlice<'a, u16>>;
/// A weight matrix read in place from a blob.
pub type MatrixView<'a> = Matrix<LeSlice<'a, f32>, LeSlice<'a, u32>, LeSlice<'a, u16>>;
/// An int8 weight matrix (`q`, dense or compressed rows) read in place from a blob.
pub type QMatrixView<'a> = Matrix<&'a [i8], LeSlice<'a, u32>, LeSlice<'a, u16>>;
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
            Matrix::Dense { values, .. } | Matrix::ByColumn { values, .. } => values.len(),
            Matrix::Csr(c) => c.nnz(),
        }
    }

    /// Entry `(r, c)` (0 where not stored or out of range).
    pub fn get(&self, r: usize, c: usize) -> f32 {
        match self {
            Matrix::Dense { values, .. } | Matrix::ByColumn { values, .. } => self
                .dense_index(r, c)
                .and_then(|k| values.get(k))
                .unwrap_or(0.0),
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
            Matrix::ByColumn { rows, cols, values } => Matrix::ByColumn {
                rows: *rows,
                cols: *cols,
                values: values.as_slice()?,
            },
        })
    }
}

impl<'a> QMatrixView<'a> {
    fn fast(&self) -> Option<Matrix<&'a [i8], &'a [u32], &'a [u16]>> {
        Some(match self {
            Matrix::Dense { rows, cols, values } => Matrix::Dense {
                rows: *rows,
                cols: *cols,
                values,
            },
            Matrix::Csr(c) => Matrix::Csr(Csr {
                rows: c.rows,
                cols: c.cols,
                row_ptr: c.row_ptr.as_slice()?,
                col_idx: c.col_idx.as_slice()?,
                values: c.values,
            }),
            Matrix::ByColumn { rows, cols, values } => Matrix::ByColumn {
                rows: *rows,
                cols: *cols,
                values,
            },
        })
    }
}

impl<'a> LeNet<'a> {
    /// The same arrays as plain slices, when all are aligned (zero copy).
    pub(crate) fn fast(&self) -> Option<FastNet<'a>> {
        let f32 = match &self.f32 {
            None => None,
            Some(f) => Some(F32Net {
                rec: match &f.rec {
                    Rec::Rows(e) => Rec::Rows(e.fast()?),
                    Rec::Diagonal(d) => Rec::Diagonal(d.fast()?),
                },
                w_in: f.w_in.fast()?,
                w_out: f.w_out.fast()?,
            }),
        };
        let int8 = match &self.int8 {
            None => None,
            Some(q) => Some(Int8Net {
                act_frac_bits: q.act_frac_bits,
                rec: q.rec.as_slice()?,
                rec_scale: q.rec_scale.as_slice()?,
                w_in: q.w_in.fast()?,
                in_scale: q.in_scale.as_slice()?,
                w_out: q.w_out.fast()?,
                out_scale: q.out_scale.as_slice()?,
            }),
        };
        Some(Net {
            f32,
            int8,
            b_h: self.b_h.as_slice()?,
            b_o: self.b_o.as_slice()?,
        })
    }
}
