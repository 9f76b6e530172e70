//! The f32 recurrent matrix in the *diagonal* layout (format version 5), for local masks.
//!
//! Rows are taken in groups of [`DIAG_LANES`] consecutive rows (`rows.div_ceil(DIAG_LANES)`
//! groups; the last may be partial). Group `g` (rows `r0 = DIAG_LANES g ..`) lists the diagonals
//! `o = column - row` that any of its rows stores, strictly ascending, and per diagonal one weight
//! per lane: lane `l` holds `W[r0 + l][r0 + l + o]`, `+0.0` where that row stores no weight on
//! the diagonal (or does not exist, in a partial last group). Three arrays:
//! - `counts`: u16 per group, the number of its diagonals;
//! - `diags`: per (group, diagonal), group after group, the diagonal `o` as an i16 (two's
//!   complement, stored in a u16);
//! - `values`: per (group, diagonal), the [`DIAG_LANES`] lane weights (f32).
//!
//! With units in row-major sheet order a local mask has few diagonals and the same ones for every
//! interior group (the default model, 16 x 16 sheet, d = 2: 13), so the kernel loads one window of
//! [`DIAG_LANES`] consecutive values of `h` per diagonal and no column index per weight. Lane `l`
//! on diagonal `o` reads `h[r0 + l + o]`, which may lie before `h[0]` or after `h[n - 1]`: the
//! kernel reads a *padded* state, [`DIAG_PAD`] zeros on each side (`kernel::State` carries them).
//!
//! Canonical form (checked on opening, so that a matrix has one encoding): diagonals strictly
//! ascending within a group; every diagonal holds at least one stored weight (a nonzero, finite
//! weight at a real row and a column in `0..rows`); every other lane weight is exactly `+0.0`.
//! A diagonal with a stored weight at lane `l` has `0 <= r0 + l + o < rows`, so its window
//! `r0 + o .. r0 + o + DIAG_LANES` lies within `-DIAG_PAD .. rows + DIAG_PAD` (also checked):
//! no read leaves the padded state.
//!
//! The exporter chooses this layout or the lane-grouped one (`format::ell`) per model
//! (`RecLayout::choose`): a BIMT network whose units were swapped, or a random mask, has many
//! diagonals per group and keeps the lane groups.

use super::error::{FormatError, Part};
use super::le::LeSlice;

/// Rows per group of the diagonal layout (and lanes summed in lockstep by its kernel).
pub const DIAG_LANES: usize = 16;

/// Zeros the diagonal kernel may read before and after the hidden state (at least
/// `DIAG_LANES - 1`): a padded state is `DIAG_PAD` zeros, `h`, `DIAG_PAD` zeros.
pub const DIAG_PAD: usize = 16;

/// The diagonal layout of one matrix (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Diag<F, H> {
    /// Number of rows (= columns).
    pub rows: usize,
    /// Diagonals per group.
    pub counts: H,
    /// Diagonal `o` (i16 bits) per (group, diagonal).
    pub diags: H,
    /// [`DIAG_LANES`] weights per (group, diagonal).
    pub values: F,
}

pub(crate) type DiagView<'a> = Diag<LeSlice<'a, f32>, LeSlice<'a, u16>>;
pub(crate) type DiagFast<'a> = Diag<&'a [f32], &'a [u16]>;

impl<'a> DiagView<'a> {
    pub(crate) fn fast(&self) -> Option<DiagFast<'a>> {
        Some(Diag {
            rows: self.rows,
            counts: self.counts.as_slice()?,
            diags: self.diags.as_slice()?,
            values: self.values.as_slice()?,
        })
    }
}

/// The owned layout of a matrix (see the module doc), built by the encoder.
#[cfg(feature = "std")]
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DiagRepr {
    pub counts: Vec<u16>,
    pub diags: Vec<u16>,
    pub values: Vec<f32>,
}

#[cfg(feature = "std")]
impl DiagRepr {
    /// The layout of a square matrix's compressed rows. Diagonals are i16: a matrix over
    /// [`super::MAX_KERNEL_HIDDEN`] rows gives some layout that [`validate`] then refuses.
    pub(crate) fn build(c: &super::CsrRepr) -> Self {
        let n = c.rows;
        let mut out = DiagRepr {
            counts: Vec::new(),
            diags: Vec::new(),
            values: Vec::new(),
        };
        let row = |r: usize| {
            let at = |i: usize| c.row_ptr.get(i).map_or(0, |&p| p as usize);
            let (s, e) = (at(r), at(r + 1));
            (s..e.max(s)).filter_map(|k| Some((usize::from(*c.col_idx.get(k)?), *c.values.get(k)?)))
        };
        for g in 0..n.div_ceil(DIAG_LANES) {
            let r0 = g * DIAG_LANES;
            let rows = r0..(r0 + DIAG_LANES).min(n);
            let mut os: Vec<isize> = rows
                .clone()
                .flat_map(|r| row(r).map(move |(j, _)| j as isize - r as isize))
                .collect();
            os.sort_unstable();
            os.dedup();
            out.counts.push(os.len() as u16);
            for &o in &os {
                out.diags.push(o as i16 as u16);
                let mut lanes = [0.0f32; DIAG_LANES];
                for r in rows.clone() {
                    if let Some((_, v)) = row(r).find(|&(j, _)| j as isize - r as isize == o) {
                        lanes[r - r0] = v;
                    }
                }
                out.values.extend(lanes);
            }
        }
        out
    }
}

fn length(expected: usize, got: usize) -> FormatError {
    FormatError::Length {
        part: Part::RecurrentKernel,
        expected,
        got,
    }
}

/// Checks that `counts`, `diags`, `values` are a diagonal layout of some `rows x rows` matrix in
/// the canonical form (module doc). Returns the view and the number of stored weights. Never
/// panics.
pub(crate) fn validate<'a>(
    rows: usize,
    counts: LeSlice<'a, u16>,
    diags: LeSlice<'a, u16>,
    values: &'a [u8],
) -> Result<(DiagView<'a>, usize), FormatError> {
    let part = Part::RecurrentKernel;
    super::Limit::Hidden.check(rows as u64)?;
    let groups = rows.div_ceil(DIAG_LANES);
    if counts.len() != groups {
        return Err(length(2 * groups, 2 * counts.len()));
    }
    let total = counts.iter().map(usize::from).sum::<usize>();
    if diags.len() != total {
        return Err(length(2 * total, 2 * diags.len()));
    }
    let values = LeSlice::<f32>::new(values)
        .filter(|v| v.len() == total * DIAG_LANES)
        .ok_or(length(4 * total * DIAG_LANES, values.len()))?;
    let (n, pad) = (rows as isize, DIAG_PAD as isize);
    let (mut d, mut nnz) = (0usize, 0usize);
    for g in 0..groups {
        let r0 = (g * DIAG_LANES) as isize;
        let bad = FormatError::ColumnIndex {
            part,
            row: (g * DIAG_LANES) as u32,
        };
        let count = usize::from(counts.get(g).ok_or(bad)?);
        let mut prev: Option<isize> = None;
        for _ in 0..count {
            let o = isize::from(diags.get(d).ok_or(bad)? as i16);
            let start = r0 + o;
            if prev.is_some_and(|p| o <= p) || start < -pad || start + DIAG_LANES as isize > n + pad
            {
                return Err(bad);
            }
            prev = Some(o);
            let mut stored = false;
            for l in 0..DIAG_LANES {
                let s = d * DIAG_LANES + l;
                let v = values.get(s).ok_or(bad)?;
                let (r, c) = (r0 + l as isize, start + l as isize);
                if r < n && (0..n).contains(&c) && v != 0.0 {
                    if !v.is_finite() {
                        return Err(FormatError::BadValue {
                            part,
                            index: s as u32,
                        });
                    }
                    stored = true;
                    nnz += 1;
                } else if v.to_bits() != 0 {
                    return Err(FormatError::ColumnIndex {
                        part,
                        row: r.max(0) as u32,
                    });
                }
            }
            if !stored {
                return Err(bad);
            }
            d += 1;
        }
    }
    let view = Diag {
        rows,
        counts,
        diags,
        values,
    };
    Ok((view, nnz))
}

/// The stored entries of row `r` in column order: `f(column, weight)`. Call on a validated
/// layout.
pub(crate) fn for_each_in_row(dv: &DiagView<'_>, r: usize, mut f: impl FnMut(usize, f32)) {
    if r >= dv.rows {
        return;
    }
    let g = r / DIAG_LANES;
    let l = r % DIAG_LANES;
    let first: usize = (0..g)
        .filter_map(|k| dv.counts.get(k))
        .map(usize::from)
        .sum();
    let count = dv.counts.get(g).map_or(0, usize::from);
    for d in first..first + count {
        let (Some(o), Some(v)) = (dv.diags.get(d), dv.values.get(d * DIAG_LANES + l)) else {
            return;
        };
        if v != 0.0 {
            let c = r as isize + isize::from(o as i16);
            f(c as usize, v);
        }
    }
}

/// The stored entries, row by row, columns increasing: `f(row, column, weight)`. Call on a
/// validated layout.
pub(crate) fn for_each(dv: &DiagView<'_>, mut f: impl FnMut(usize, usize, f32)) {
    let mut first = 0usize;
    for g in 0..dv.rows.div_ceil(DIAG_LANES) {
        let count = dv.counts.get(g).map_or(0, usize::from);
        for r in g * DIAG_LANES..((g + 1) * DIAG_LANES).min(dv.rows) {
            let l = r % DIAG_LANES;
            for d in first..first + count {
                if let (Some(o), Some(v)) = (dv.diags.get(d), dv.values.get(d * DIAG_LANES + l)) {
                    if v != 0.0 {
                        f(r, (r as isize + isize::from(o as i16)) as usize, v);
                    }
                }
            }
        }
        first += count;
    }
}
