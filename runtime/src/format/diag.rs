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
    /// The layout of a square matrix's compressed rows (time ~ stored weights). Diagonals are
    /// i16: a matrix over [`super::MAX_KERNEL_HIDDEN`] rows gives some layout that [`validate`]
    /// then refuses.
    pub(crate) fn build(c: &super::CsrRepr) -> Self {
        let mut out = DiagRepr {
            counts: Vec::new(),
            diags: Vec::new(),
            values: Vec::new(),
        };
        for g in 0..c.rows.div_ceil(DIAG_LANES) {
            let os = group_diagonals(c, g);
            out.counts.push(os.len() as u16);
            out.diags.extend(os.iter().map(|&o| o as i16 as u16));
            let base = out.values.len();
            out.values.resize(base + os.len() * DIAG_LANES, 0.0);
            for r in g * DIAG_LANES..((g + 1) * DIAG_LANES).min(c.rows) {
                for (j, v) in row(c, r) {
                    if let Ok(k) = os.binary_search(&(j as isize - r as isize)) {
                        out.values[base + k * DIAG_LANES + r % DIAG_LANES] = v;
                    }
                }
            }
        }
        out
    }

    /// Weight slots of the layout of `c` ([`DIAG_LANES`] per diagonal of each group), without
    /// building it.
    pub(crate) fn slots(c: &super::CsrRepr) -> usize {
        (0..c.rows.div_ceil(DIAG_LANES))
            .map(|g| group_diagonals(c, g).len())
            .sum::<usize>()
            * DIAG_LANES
    }
}

/// The stored entries `(column, value)` of row `r` of `c`.
#[cfg(feature = "std")]
fn row(c: &super::CsrRepr, r: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
    let at = |i: usize| c.row_ptr.get(i).map_or(0, |&p| p as usize);
    let (s, e) = (at(r), at(r + 1));
    (s..e.max(s)).filter_map(move |k| Some((usize::from(*c.col_idx.get(k)?), *c.values.get(k)?)))
}

/// The diagonals `o = column - row` that the rows of group `g` store, ascending.
#[cfg(feature = "std")]
fn group_diagonals(c: &super::CsrRepr, g: usize) -> Vec<isize> {
    let mut os: Vec<isize> = (g * DIAG_LANES..((g + 1) * DIAG_LANES).min(c.rows))
        .flat_map(|r| row(c, r).map(move |(j, _)| j as isize - r as isize))
        .collect();
    os.sort_unstable();
    os.dedup();
    os
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

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::format::{
        Activation, CsrRepr, MatrixRepr, ModelRepr, ModelView, Readout, RecLayout, Weights,
    };
    use crate::tasks::Rng;

    /// A `rows x cols` sheet, units in row-major order except that `perm` maps unit `i` to sheet
    /// cell `perm[i]`; weights on the cells within `radius` (Euclidean), random and nonzero.
    fn sheet_mask(rows: usize, cols: usize, radius2: usize, perm: &[usize], seed: u64) -> CsrRepr {
        let n = rows * cols;
        let mut rng = Rng::new(seed);
        let mut d = vec![0.0f32; n * n];
        for i in 0..n {
            for j in 0..n {
                let (a, b) = (perm[i], perm[j]);
                let (dr, dc) = ((a / cols).abs_diff(b / cols), (a % cols).abs_diff(b % cols));
                if dr * dr + dc * dc <= radius2 {
                    d[i * n + j] = 0.05 + rng.uniform();
                }
            }
        }
        CsrRepr::from_dense(n, n, &d, |w| w != 0.0)
    }

    #[test]
    fn the_rule_picks_diagonals_for_local_masks_in_sheet_order_only() {
        let (rows, cols) = (12, 12);
        let n = rows * cols;
        let order: Vec<usize> = (0..n).collect();
        let local = sheet_mask(rows, cols, 4, &order, 1);
        let slots = DiagRepr::build(&local).diags.len() * DIAG_LANES;
        assert!(
            2 * slots <= 3 * local.nnz(),
            "{slots} slots, {} weights",
            local.nnz()
        );
        assert_eq!(RecLayout::choose(&local), RecLayout::Diagonal);
        // The same mask after BIMT-like swaps of units (a shuffled order): scattered diagonals.
        let mut rng = Rng::new(7);
        let mut shuffled = order.clone();
        for i in (1..n).rev() {
            shuffled.swap(i, (rng.uniform() * (i + 1) as f32) as usize % (i + 1));
        }
        let swapped = sheet_mask(rows, cols, 4, &shuffled, 1);
        assert_eq!(swapped.nnz(), local.nnz());
        assert_eq!(RecLayout::choose(&swapped), RecLayout::Rows);
        // A random mask of the same density.
        let mut d = vec![0.0f32; n * n];
        for (k, v) in d.iter_mut().enumerate() {
            if (k * 2654435761) % 97 < 9 {
                *v = 0.5;
            }
        }
        let random = CsrRepr::from_dense(n, n, &d, |w| w != 0.0);
        assert_eq!(RecLayout::choose(&random), RecLayout::Rows);
        // Just at the rule's bound: a lone diagonal per group of 16 rows fills 16 slots with
        // 16 weights (pass); with 10 of them kept, 16 slots hold 10 weights (fail: 32 > 30).
        let eye = |keep: usize| {
            let m = 32;
            let mut d = vec![0.0f32; m * m];
            for r in 0..m {
                if r % 16 < keep {
                    d[r * m + r] = 1.0;
                }
            }
            CsrRepr::from_dense(m, m, &d, |w| w != 0.0)
        };
        assert_eq!(RecLayout::choose(&eye(16)), RecLayout::Diagonal);
        assert_eq!(RecLayout::choose(&eye(11)), RecLayout::Diagonal);
        assert_eq!(RecLayout::choose(&eye(10)), RecLayout::Rows);
    }

    /// The layout written out from its definition, and the kernel's sums in the documented
    /// order (diagonals ascending, first term alone, then `acc + w x`, `+0.0 x` for a lane
    /// without a weight, `x` outside `0..n` read as 0), bit for bit, on a matrix with a partial
    /// last group, an empty group and a row with one weight; aligned and misaligned blobs, plain
    /// and padded states.
    #[test]
    fn layout_and_sums_follow_the_documented_order() {
        let n = 37;
        let mut d = vec![0.0f32; n * n];
        let mut rng = Rng::new(3);
        for r in (0..n).filter(|r| !(16..32).contains(r)) {
            for c in 0..n {
                let o = c as isize - r as isize;
                if [-9, -1, 0, 2, 5].contains(&o) && (r + c) % 3 != 0 {
                    d[r * n + c] = rng.uniform() - 0.5 + 1e-3;
                }
            }
        }
        d[33 * n] = 0.75;
        let m = CsrRepr::from_dense(n, n, &d, |w| w != 0.0);
        let lay = DiagRepr::build(&m);
        let d = &d;
        // Written out: per group the diagonals present, ascending, and the lanes' weights.
        let mut k = 0;
        for g in 0..n.div_ceil(DIAG_LANES) {
            let rows = g * DIAG_LANES..((g + 1) * DIAG_LANES).min(n);
            let mut want: Vec<i16> = rows
                .clone()
                .flat_map(|r| {
                    (0..n)
                        .filter(move |&c| d[r * n + c] != 0.0)
                        .map(move |c| (c as isize - r as isize) as i16)
                })
                .collect();
            want.sort_unstable();
            want.dedup();
            assert_eq!(usize::from(lay.counts[g]), want.len(), "group {g}");
            for &o in &want {
                assert_eq!(lay.diags[k] as i16, o);
                for l in 0..DIAG_LANES {
                    let r = g * DIAG_LANES + l;
                    let c = r as isize + isize::from(o);
                    let w = if r < n && (0..n as isize).contains(&c) {
                        d[r * n + c as usize]
                    } else {
                        0.0
                    };
                    assert_eq!(lay.values[k * DIAG_LANES + l].to_bits(), w.to_bits());
                }
                k += 1;
            }
        }
        assert_eq!(lay.counts[1], 0, "rows 16..32 are empty");
        assert_eq!(k, lay.diags.len());
        let repr = ModelRepr {
            n_inputs: 1,
            n_hidden: n,
            n_outputs: 1,
            sheet_rows: 1,
            sheet_cols: n as u16,
            pitch: 1.0,
            positions: (0..n as u16).map(|u| (0, u)).collect(),
            recurrent: m,
            input: MatrixRepr::compact(n, 1, &vec![0.5; n]),
            output: MatrixRepr::compact(1, n, &vec![0.5; n]),
            b_h: vec![0.0; n],
            b_o: vec![0.0],
            activation: Activation::Tanh,
            alpha: 1.0,
            readout: Readout::Argmax,
            tasks: Vec::new(),
            wiring_length: 0.0,
            active_connections: 0,
            seed: 0,
            int8: None,
            weights: Weights::F32,
            layout: RecLayout::Diagonal,
        };
        let blob = repr.to_bytes().unwrap();
        let aligned = crate::aligned::AlignedCopy::new(&blob);
        let mut words = vec![0u32; blob.len() / 4 + 2];
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
        bytes[1..=blob.len()].copy_from_slice(&blob);
        let fast = ModelView::from_bytes(aligned.bytes()).unwrap();
        let slow = ModelView::from_bytes(&bytes[1..=blob.len()]).unwrap();
        assert!(fast.is_zero_copy() && !slow.is_zero_copy());
        let x: Vec<f32> = (0..n).map(|j| (j as f32 * 0.37).sin()).collect();
        let at = |i: isize| {
            usize::try_from(i)
                .ok()
                .and_then(|i| x.get(i))
                .copied()
                .unwrap_or(0.0)
        };
        let mut want = vec![0.0f32; n];
        let mut k = 0;
        for g in 0..n.div_ceil(DIAG_LANES) {
            let count = usize::from(lay.counts[g]);
            for l in 0..DIAG_LANES.min(n - g * DIAG_LANES) {
                let r = g * DIAG_LANES + l;
                let mut acc = 0.0f32;
                for j in 0..count {
                    let o = isize::from(lay.diags[k + j] as i16);
                    let t = lay.values[(k + j) * DIAG_LANES + l] * at(r as isize + o);
                    acc = if j == 0 { t } else { acc + t };
                }
                want[r] = acc;
            }
            k += count;
        }
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        let mut xp = vec![0.0f32; n + 2 * DIAG_PAD];
        xp[DIAG_PAD..DIAG_PAD + n].copy_from_slice(&x);
        for view in [fast, slow] {
            let (mut a, mut b) = (vec![f32::NAN; n], vec![f32::NAN; n]);
            crate::kernel::phase::recurrent(&view, &x, &mut a, None).unwrap();
            crate::kernel::phase::recurrent_padded(&view, &xp, &mut b, None).unwrap();
            assert_eq!(bits(&a), bits(&want));
            assert_eq!(bits(&b), bits(&want));
            assert!(a[16..32].iter().all(|&v| v.to_bits() == 0));
        }
    }
}
