//! [`WeightsView`]: one weight matrix of an opened blob, whatever layout stores it, as entries
//! `(row, column, value)`; compressed rows and dense matrices are derived from it.
//!
//! A blob stores each matrix once, in the layout its kernel reads (`format::ell` or `format::diag`
//! for the f32 recurrent weights, `format::pairs` for the int8 ones, dense or compressed rows for the
//! input and output weights). Tools that want plain matrices (inspect, analyse, plots, NumPy
//! export, the trainer's parity checks) read them through this type:
//!
//! ```text
//! let w = model.recurrent();                 // f32 if the blob has them, else int8 * scale
//! w.for_each(|row, col, value| ...);         // storage order, no allocation
//! w.for_each_in_row(r, |col, value| ...);    // one row, increasing columns
//! w.to_csr(&mut row_ptr, &mut col_idx, &mut values)?;   // compressed rows, caller buffers
//! w.to_dense(&mut dense)?;                   // row-major
//! // feature `std`: CsrRepr::from_weights(&w), w.to_dense_vec()
//! ```
//! Only nonzero weights are entries (a dense matrix's zeros are skipped; the sparse layouts store
//! none). int8 values are `q as f32 * scale[row]`, one rounding.

use super::arrays::{Matrix, MatrixView, QMatrixView};
use super::diag::{self, DiagView};
use super::ell::{self, EllView};
use super::le::LeSlice;
use super::pairs;

/// Which weights of a blob: the f32 ones or the int8 ones (`q * scale`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Precision {
    /// The f32 weights.
    F32,
    /// The int8 weights, dequantised.
    Int8,
}

/// The int8 weights' activation format and per-row scales (their weights:
/// [`ModelView::recurrent_of`](super::ModelView::recurrent_of) and friends with
/// [`Precision::Int8`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Int8View<'a> {
    /// Fraction bits `f` of the quantised hidden state the int8 recurrent product reads:
    /// `hq = sat16(trunc(h 2^f))`, so activations are `hq 2^-f`.
    pub act_frac_bits: u8,
    /// One scale per recurrent row.
    pub rec_scale: LeSlice<'a, f32>,
    /// One scale per input-weight row (per hidden unit).
    pub in_scale: LeSlice<'a, f32>,
    /// One scale per output-weight row (per output).
    pub out_scale: LeSlice<'a, f32>,
}

#[derive(Clone, Copy, Debug)]
enum Src<'a> {
    Ell(EllView<'a>),
    Diag(DiagView<'a>),
    Pairs {
        words: LeSlice<'a, u32>,
        scale: LeSlice<'a, f32>,
    },
    F32(MatrixView<'a>),
    Int8 {
        m: QMatrixView<'a>,
        scale: LeSlice<'a, f32>,
    },
}

/// One weight matrix of an opened blob (see the module doc).
#[derive(Clone, Copy, Debug)]
pub struct WeightsView<'a> {
    rows: usize,
    cols: usize,
    stored: usize,
    src: Src<'a>,
}

impl<'a> WeightsView<'a> {
    pub(crate) fn ell(e: EllView<'a>, cols: usize, stored: usize) -> Self {
        WeightsView {
            rows: e.rows,
            cols,
            stored,
            src: Src::Ell(e),
        }
    }

    pub(crate) fn diag(d: DiagView<'a>, stored: usize) -> Self {
        WeightsView {
            rows: d.rows,
            cols: d.rows,
            stored,
            src: Src::Diag(d),
        }
    }

    pub(crate) fn pairs(
        words: LeSlice<'a, u32>,
        scale: LeSlice<'a, f32>,
        rows: usize,
        cols: usize,
        stored: usize,
    ) -> Self {
        WeightsView {
            rows,
            cols,
            stored,
            src: Src::Pairs { words, scale },
        }
    }

    pub(crate) fn f32(m: MatrixView<'a>) -> Self {
        let stored = match &m {
            Matrix::Dense { values, .. } | Matrix::ByColumn { values, .. } => values.len(),
            Matrix::Csr(c) => c.values.len(),
        };
        WeightsView {
            rows: m.rows(),
            cols: m.cols(),
            stored,
            src: Src::F32(m),
        }
    }

    pub(crate) fn int8(m: QMatrixView<'a>, scale: LeSlice<'a, f32>) -> Self {
        let stored = match &m {
            Matrix::Dense { values, .. } | Matrix::ByColumn { values, .. } => values.len(),
            Matrix::Csr(c) => c.values.len(),
        };
        WeightsView {
            rows: m.rows(),
            cols: m.cols(),
            stored,
            src: Src::Int8 { m, scale },
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Weights the blob stores for this matrix (dense: `rows * cols`, zeros included; sparse
    /// layouts: their entries, padding excluded).
    pub fn stored(&self) -> usize {
        self.stored
    }

    /// Nonzero weights (the entries [`WeightsView::for_each`] visits). Sparse layouts store only
    /// nonzero weights, so this is [`WeightsView::stored`] for them; a dense matrix is counted.
    pub fn nnz(&self) -> usize {
        match &self.src {
            Src::F32(Matrix::Dense { .. } | Matrix::ByColumn { .. })
            | Src::Int8 {
                m: Matrix::Dense { .. } | Matrix::ByColumn { .. },
                ..
            } => {
                let mut n = 0;
                self.for_each(|_, _, _| n += 1);
                n
            }
            _ => self.stored,
        }
    }

    /// True for the int8 weights (values `q * scale[row]`).
    pub fn is_int8(&self) -> bool {
        matches!(self.src, Src::Pairs { .. } | Src::Int8 { .. })
    }

    /// `f(row, column, value)` for every nonzero weight, in storage order (the f32 recurrent
    /// lane groups visit rows in their kernel order; every other layout row by row). Within a row,
    /// columns increase.
    pub fn for_each(&self, mut f: impl FnMut(usize, usize, f32)) {
        match &self.src {
            Src::Ell(e) => ell::for_each(e, f),
            Src::Diag(d) => diag::for_each(d, f),
            Src::Pairs { words, scale } => pairs::for_each(words, self.rows, None, |r, c, q| {
                f(r, c, f32::from(q) * scale.get(r).unwrap_or(0.0))
            }),
            Src::F32(_) | Src::Int8 { .. } => {
                for r in 0..self.rows {
                    self.for_each_in_row(r, |c, v| f(r, c, v));
                }
            }
        }
    }

    /// `f(column, value)` for every nonzero weight of row `r`, in increasing column order
    /// (nothing when `r` is out of range).
    pub fn for_each_in_row(&self, r: usize, mut f: impl FnMut(usize, f32)) {
        if r >= self.rows {
            return;
        }
        match &self.src {
            Src::Ell(e) => ell::for_each_in_row(e, r, f),
            Src::Diag(d) => diag::for_each_in_row(d, r, f),
            Src::Pairs { words, scale } => {
                let s = scale.get(r).unwrap_or(0.0);
                pairs::for_each(words, self.rows, Some(r), |_, c, q| f(c, f32::from(q) * s))
            }
            Src::F32(m @ (Matrix::Dense { values, .. } | Matrix::ByColumn { values, .. })) => {
                for c in 0..self.cols {
                    match m.dense_index(r, c).and_then(|k| values.get(k)) {
                        Some(v) if v != 0.0 => f(c, v),
                        _ => {}
                    }
                }
            }
            Src::F32(Matrix::Csr(m)) => {
                for (c, v) in m.row(r).filter(|&(_, v)| v != 0.0) {
                    f(c, v)
                }
            }
            Src::Int8 { m, scale } => {
                let s = scale.get(r).unwrap_or(0.0);
                match m {
                    Matrix::Dense { values, .. } | Matrix::ByColumn { values, .. } => {
                        for c in 0..self.cols {
                            match m.dense_index(r, c).and_then(|k| values.get(k)) {
                                Some(&q) if q != 0 => f(c, f32::from(q) * s),
                                _ => {}
                            }
                        }
                    }
                    Matrix::Csr(m) => {
                        let start = m.row_ptr.get(r).unwrap_or(0) as usize;
                        let end = m.row_ptr.get(r + 1).map_or(start, |e| e as usize);
                        for k in start..end {
                            if let (Some(c), Some(&q)) = (m.col_idx.get(k), m.values.get(k)) {
                                if q != 0 {
                                    f(usize::from(c), f32::from(q) * s);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Writes the row-major dense matrix into `out`, which must have exactly `rows * cols` floats
    /// (`Err(rows * cols)` otherwise).
    pub fn to_dense(&self, out: &mut [f32]) -> Result<(), usize> {
        let needed = self.rows * self.cols;
        if out.len() != needed {
            return Err(needed);
        }
        out.fill(0.0);
        let cols = self.cols;
        self.for_each(|r, c, v| out[r * cols + c] = v);
        Ok(())
    }

    /// Writes the compressed rows of the nonzero weights into caller buffers: `row_ptr` of
    /// exactly `rows + 1` entries, `col_idx` and `values` of exactly [`WeightsView::nnz`] entries
    /// (`Err((rows + 1, nnz))` otherwise). Columns increase within each row.
    pub fn to_csr(
        &self,
        row_ptr: &mut [u32],
        col_idx: &mut [u16],
        values: &mut [f32],
    ) -> Result<(), (usize, usize)> {
        let nnz = self.nnz();
        if row_ptr.len() != self.rows + 1 || col_idx.len() != nnz || values.len() != nnz {
            return Err((self.rows + 1, nnz));
        }
        let mut k = 0usize;
        row_ptr[0] = 0;
        for r in 0..self.rows {
            self.for_each_in_row(r, |c, v| {
                if k < nnz {
                    col_idx[k] = c as u16;
                    values[k] = v;
                }
                k += 1;
            });
            row_ptr[r + 1] = k.min(nnz) as u32;
        }
        Ok(())
    }

    /// The row-major dense matrix (feature `std`).
    #[cfg(feature = "std")]
    pub fn to_dense_vec(&self) -> Vec<f32> {
        let mut d = vec![0.0; self.rows * self.cols];
        // The length is right by construction.
        let _ = self.to_dense(&mut d);
        d
    }

    /// The matrix as an owned f32 matrix (feature `std`): a dense f32 matrix as it is stored
    /// (zeros included), anything else as compressed rows of its nonzero weights (int8:
    /// dequantised).
    #[cfg(feature = "std")]
    pub fn f32_matrix(&self) -> super::MatrixRepr {
        let (rows, cols) = (self.rows, self.cols);
        // Row-major, from either dense order.
        let dense = |at: &dyn Fn(usize) -> f32| super::MatrixRepr::Dense {
            rows,
            cols,
            values: (0..rows * cols).map(at).collect(),
        };
        match &self.src {
            Src::F32(m @ (Matrix::Dense { values, .. } | Matrix::ByColumn { values, .. })) => {
                dense(&|k| {
                    m.dense_index(k / cols, k % cols)
                        .and_then(|i| values.get(i))
                        .unwrap_or(0.0)
                })
            }
            Src::Int8 {
                m: m @ (Matrix::Dense { values, .. } | Matrix::ByColumn { values, .. }),
                scale,
            } => dense(&|k| {
                let q = m
                    .dense_index(k / cols, k % cols)
                    .and_then(|i| values.get(i))
                    .map_or(0, |&q| q);
                f32::from(q) * scale.get(k / cols).unwrap_or(0.0)
            }),
            _ => super::MatrixRepr::Csr(super::CsrRepr::from_weights(self)),
        }
    }

    /// The int8 codes `q` as stored (feature `std`): dense or compressed rows as in the blob
    /// (the recurrent layout as compressed rows). An f32 matrix gives an empty one.
    #[cfg(feature = "std")]
    pub fn q_matrix(&self) -> super::MatrixRepr<i8> {
        let (rows, cols) = (self.rows, self.cols);
        match &self.src {
            Src::Int8 {
                m: m @ (Matrix::Dense { values, .. } | Matrix::ByColumn { values, .. }),
                ..
            } => super::MatrixRepr::Dense {
                rows,
                cols,
                values: (0..rows * cols)
                    .map(|k| {
                        m.dense_index(k / cols, k % cols)
                            .and_then(|i| values.get(i))
                            .map_or(0, |&q| q)
                    })
                    .collect(),
            },
            Src::Int8 {
                m: Matrix::Csr(c), ..
            } => super::MatrixRepr::Csr(super::CsrRepr {
                rows,
                cols,
                row_ptr: c.row_ptr.iter().collect(),
                col_idx: c.col_idx.iter().collect(),
                values: c.values.to_vec(),
            }),
            Src::Pairs { words, .. } => {
                let mut c = super::CsrRepr {
                    rows,
                    cols,
                    row_ptr: vec![0],
                    col_idx: Vec::new(),
                    values: Vec::new(),
                };
                for r in 0..rows {
                    pairs::for_each(words, rows, Some(r), |_, j, q| {
                        c.col_idx.push(j as u16);
                        c.values.push(q);
                    });
                    c.row_ptr.push(c.values.len() as u32);
                }
                super::MatrixRepr::Csr(c)
            }
            _ => super::MatrixRepr::Dense {
                rows: 0,
                cols: 0,
                values: Vec::new(),
            },
        }
    }
}
