//! The f32 recurrent matrix in the kernel's layout ("sliced ELL" over rows sorted by degree).
//!
//! Rows are first put in *kernel order*: by number of stored entries, longest first, ties by row
//! index. Kernel-order positions are then taken in groups of [`LANES`] (the last group may be
//! partial). Group `g` has a degree `deg[g]`, the largest number of stored entries of its rows
//! (that of its first row), and owns `LANES * deg[g]` slots, stored step by step: slot
//! `k * LANES + l` of the group holds entry `k` of the row at kernel-order position `LANES * g + l`.
//! Rows shorter than the degree are padded with `(offset 0, value +0.0)`. Sorting by degree keeps
//! the padding small when row lengths are uneven (a pruned network); the kernel pays for it with
//! one scattered store per row.
//!
//! Each group has a header of [`HEADER`] u16: the degree, a zero, then the byte offset `4 * row`
//! of the row in each lane (0 for lanes past the last row), where the kernel stores that lane's
//! sum. Slot offsets are byte offsets into the hidden state, `4 * column` (u16, so at most
//! [`MAX_KERNEL_HIDDEN`] hidden units). The kernel sums the `LANES` rows of a group in lockstep:
//! one load brings the next weight of every row, one load eight byte offsets.
//!
//! When the exporter chose it (`RecLayout::Rows`; the other choice is `format::diag`), this is the
//! only copy of the f32 recurrent weights in a blob (format version 3 on): compressed
//! rows are derived from it (`WeightsView`). Every stored weight is nonzero, so a row's length is
//! the number of its leading nonzero slots. Opening a blob checks that the layout is in the one
//! canonical form the encoder writes (columns increasing within a row, padding `(0, +0.0)` after
//! the entries, the lanes' rows a permutation of the rows in kernel order, each group's degree the
//! length of its longest row), so a matrix has exactly one encoding.

use super::error::{FormatError, Part};
use super::le::LeSlice;

/// Rows summed in lockstep by the recurrent kernel.
pub(crate) const LANES: usize = 8;

/// u16 per group header: degree, zero, then one row byte offset per lane.
pub(crate) const HEADER: usize = 2 + LANES;

/// The most hidden units a blob may have: byte offsets `4 * column` must fit in u16.
pub const MAX_KERNEL_HIDDEN: usize = 16384;

/// The lane-grouped layout of one matrix (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Ell<F, H> {
    /// Number of rows (not padded).
    pub rows: usize,
    /// [`HEADER`] u16 per group (`rows.div_ceil(LANES)` groups): degree, 0, lanes' row offsets.
    pub head: H,
    /// Byte offset `4 * column` of each slot.
    pub off: H,
    /// Weight of each slot.
    pub values: F,
}

pub(crate) type EllView<'a> = Ell<LeSlice<'a, f32>, LeSlice<'a, u16>>;
pub(crate) type EllFast<'a> = Ell<&'a [f32], &'a [u16]>;

impl<'a> EllView<'a> {
    pub(crate) fn fast(&self) -> Option<EllFast<'a>> {
        Some(Ell {
            rows: self.rows,
            head: self.head.as_slice()?,
            off: self.off.as_slice()?,
            values: self.values.as_slice()?,
        })
    }
}

/// The kernel layout built from compressed rows (encoder side). Never panics: inconsistent
/// input gives some layout that [`validate`] then refuses.
#[cfg(feature = "std")]
pub(crate) struct EllRepr {
    pub head: Vec<u16>,
    pub off: Vec<u16>,
    pub values: Vec<f32>,
}

#[cfg(feature = "std")]
impl EllRepr {
    pub(crate) fn build(c: &super::CsrRepr) -> Self {
        let range = |r: usize| {
            let at = |i: usize| c.row_ptr.get(i).map_or(0, |&p| p as usize);
            let (s, e) = (at(r), at(r + 1));
            (s, e.max(s))
        };
        let mut order: Vec<usize> = (0..c.rows).collect();
        order.sort_by_key(|&r| {
            let (s, e) = range(r);
            (core::cmp::Reverse(e - s), r)
        });
        let groups = c.rows.div_ceil(LANES);
        let mut out = EllRepr {
            head: Vec::with_capacity(groups * HEADER),
            off: Vec::new(),
            values: Vec::new(),
        };
        for g in 0..groups {
            let lanes = (g * LANES..(g + 1) * LANES).map(|p| order.get(p).copied());
            let rows = lanes.clone().map(|r| r.map_or((0, 0), range));
            let deg = rows.clone().map(|(s, e)| e - s).max().unwrap_or(0);
            out.head.extend([deg as u16, 0]);
            out.head
                .extend(lanes.map(|r| r.map_or(0, |r| (r * 4) as u16)));
            for k in 0..deg {
                for (s, e) in rows.clone() {
                    let i = s + k;
                    let real = i < e;
                    let col = if real {
                        c.col_idx.get(i).copied()
                    } else {
                        None
                    };
                    out.off.push(col.map_or(0, |j| (u32::from(j) * 4) as u16));
                    out.values.push(if real {
                        c.values.get(i).copied().unwrap_or(0.0)
                    } else {
                        0.0
                    });
                }
            }
        }
        out
    }
}

fn length(part: Part, expected: usize, got: usize) -> FormatError {
    FormatError::Length {
        part,
        expected,
        got,
    }
}

/// Checks that `head`, `off`, `values` are a layout of some `rows x cols` matrix, in the one
/// canonical form [`EllRepr::build`] writes (every stored weight nonzero and finite, columns
/// strictly increasing within a row, padding `(0, +0.0)` after a row's entries, the lanes' rows a
/// permutation of the rows in kernel order, each group's degree its longest row). Returns the
/// view and the number of stored weights. Never panics; uses 2 KB of stack.
pub(crate) fn validate<'a>(
    rows: usize,
    cols: usize,
    head: LeSlice<'a, u16>,
    off: LeSlice<'a, u16>,
    values: &'a [u8],
) -> Result<(EllView<'a>, usize), FormatError> {
    let part = Part::RecurrentKernel;
    super::Limit::Hidden.check(rows as u64)?;
    let groups = rows.div_ceil(LANES);
    if head.len() != groups * HEADER {
        return Err(length(part, 2 * groups * HEADER, 2 * head.len()));
    }
    let slots = (0..groups)
        .filter_map(|g| head.get(g * HEADER))
        .map(usize::from)
        .sum::<usize>()
        * LANES;
    if off.len() != slots {
        return Err(length(part, 2 * slots, 2 * off.len()));
    }
    let values = LeSlice::<f32>::new(values)
        .filter(|v| v.len() == slots)
        .ok_or(length(part, 4 * slots, values.len()))?;
    let ell = Ell {
        rows,
        head,
        off,
        values,
    };
    let nnz = check_lanes(&ell, cols)?;
    Ok((ell, nnz))
}

/// The checks of [`validate`] after the lengths; returns the number of stored weights.
fn check_lanes(ell: &EllView<'_>, cols: usize) -> Result<usize, FormatError> {
    let part = Part::RecurrentKernel;
    let mut seen = [0u32; MAX_KERNEL_HIDDEN / 32];
    let (mut prev, mut base, mut nnz): (Option<(usize, usize)>, usize, usize) = (None, 0, 0);
    for g in 0..ell.rows.div_ceil(LANES) {
        let bad = |r: usize| FormatError::ColumnIndex {
            part,
            row: r as u32,
        };
        let d = usize::from(ell.head.get(g * HEADER).ok_or(bad(g * LANES))?);
        if ell.head.get(g * HEADER + 1) != Some(0) {
            return Err(bad(g * LANES));
        }
        let mut longest = 0;
        for l in 0..LANES {
            let p = g * LANES + l;
            let o = usize::from(ell.head.get(g * HEADER + 2 + l).ok_or(bad(p))?);
            let real = p < ell.rows;
            let r = o / 4;
            if (!real && o != 0) || (real && (o % 4 != 0 || r >= ell.rows)) {
                return Err(bad(p));
            }
            // The row's entries: nonzero finite weights at increasing columns, then padding.
            let mut len = 0;
            let mut last: Option<usize> = None;
            for k in 0..d {
                let s = base + k * LANES + l;
                let (c, v) = (
                    ell.off.get(s).ok_or(bad(r))?,
                    ell.values.get(s).ok_or(bad(r))?,
                );
                if len == k && v != 0.0 && real {
                    if !v.is_finite() {
                        return Err(FormatError::BadValue {
                            part,
                            index: s as u32,
                        });
                    }
                    let j = usize::from(c) / 4;
                    if c % 4 != 0 || j >= cols || last.is_some_and(|lj| j <= lj) {
                        return Err(bad(r));
                    }
                    last = Some(j);
                    len += 1;
                } else if c != 0 || v.to_bits() != 0 {
                    return Err(bad(r));
                }
            }
            if !real {
                continue;
            }
            // Kernel order: by length descending, then row ascending; each row once.
            if prev.is_some_and(|(pl, pr)| pl < len || (pl == len && pr >= r)) {
                return Err(bad(r));
            }
            let (word, bit) = (r / 32, 1u32 << (r % 32));
            match seen.get_mut(word) {
                Some(w) if *w & bit == 0 => *w |= bit,
                _ => return Err(bad(r)),
            }
            prev = Some((len, r));
            longest = longest.max(len);
            nnz += len;
        }
        if longest != d {
            return Err(bad(g * LANES));
        }
        base += d * LANES;
    }
    Ok(nnz)
}

/// The stored entries of the layout, in storage order: `f(row, column, weight)`. Call on a
/// validated layout.
pub(crate) fn for_each(ell: &EllView<'_>, mut f: impl FnMut(usize, usize, f32)) {
    let mut base = 0;
    for g in 0..ell.rows.div_ceil(LANES) {
        let d = ell.head.get(g * HEADER).map_or(0, usize::from);
        for l in 0..LANES.min(ell.rows - g * LANES) {
            let r = ell.head.get(g * HEADER + 2 + l).map_or(0, usize::from) / 4;
            for k in 0..d {
                let s = base + k * LANES + l;
                match (ell.off.get(s), ell.values.get(s)) {
                    (Some(c), Some(v)) if v != 0.0 => f(r, usize::from(c) / 4, v),
                    _ => break,
                }
            }
        }
        base += d * LANES;
    }
}

/// The stored entries of row `r` in column order: `f(column, weight)`. Finds the row's lane by
/// scanning the group headers.
pub(crate) fn for_each_in_row(ell: &EllView<'_>, r: usize, mut f: impl FnMut(usize, f32)) {
    let mut base = 0;
    for g in 0..ell.rows.div_ceil(LANES) {
        let d = ell.head.get(g * HEADER).map_or(0, usize::from);
        for l in 0..LANES.min(ell.rows - g * LANES) {
            if ell.head.get(g * HEADER + 2 + l).map(|o| usize::from(o) / 4) != Some(r) {
                continue;
            }
            for k in 0..d {
                let s = base + k * LANES + l;
                match (ell.off.get(s), ell.values.get(s)) {
                    (Some(c), Some(v)) if v != 0.0 => f(usize::from(c) / 4, v),
                    _ => return,
                }
            }
            return;
        }
        base += d * LANES;
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::format::CsrRepr;

    fn le<T: Copy, const N: usize>(v: &[T], f: fn(T) -> [u8; N]) -> Vec<u8> {
        v.iter().flat_map(|&x| f(x)).collect()
    }

    /// 19 rows (two whole groups and a partial one), rows of different lengths, 8 empty rows.
    fn sample() -> CsrRepr {
        let n = 19;
        let mut d = vec![0.0f32; n * n];
        for r in (0..n).filter(|r| !(8..16).contains(r)) {
            for c in 0..n {
                if (r * 7 + c * 3) % (r % 5 + 2) == 0 {
                    d[r * n + c] = (r as f32 - c as f32 * 0.5) / 8.0 + 0.25;
                }
            }
        }
        CsrRepr::from_dense(n, n, &d, |w| w != 0.0)
    }

    struct Bytes {
        head: Vec<u8>,
        off: Vec<u8>,
        ell_val: Vec<u8>,
    }

    fn bytes(_: &CsrRepr, e: &EllRepr) -> Bytes {
        Bytes {
            head: le(&e.head, u16::to_le_bytes),
            off: le(&e.off, u16::to_le_bytes),
            ell_val: le(&e.values, f32::to_le_bytes),
        }
    }

    fn open(b: &Bytes, rows: usize) -> Result<EllView<'_>, FormatError> {
        validate(
            rows,
            rows,
            LeSlice::new(&b.head).unwrap(),
            LeSlice::new(&b.off).unwrap(),
            &b.ell_val,
        )
        .map(|(v, _)| v)
    }

    fn len(c: &CsrRepr, r: usize) -> usize {
        (c.row_ptr[r + 1] - c.row_ptr[r]) as usize
    }

    #[test]
    fn layout_holds_every_entry_in_its_lane_and_step_in_kernel_order() {
        let c = sample();
        let e = EllRepr::build(&c);
        assert_eq!(e.head.len(), 3 * HEADER);
        // Kernel order, written out: longest rows first, ties by index; lanes past the end 0.
        let mut order: Vec<usize> = (0..c.rows).collect();
        order.sort_by(|&a, &b| len(&c, b).cmp(&len(&c, a)).then(a.cmp(&b)));
        let lanes: Vec<u16> = (0..3)
            .flat_map(|g| e.head[g * HEADER + 2..(g + 1) * HEADER].to_vec())
            .collect();
        let want: Vec<u16> = (0..3 * LANES)
            .map(|p| order.get(p).map_or(0, |&r| 4 * r as u16))
            .collect();
        assert_eq!(lanes, want);
        assert_eq!(
            e.head[2 * HEADER],
            0,
            "the last group holds empty rows only"
        );
        let mut base = 0;
        for g in 0..3 {
            let d = usize::from(e.head[g * HEADER]);
            assert_eq!(e.head[g * HEADER + 1], 0);
            for l in 0..LANES {
                let row: Vec<(u16, f32)> = match order.get(g * LANES + l) {
                    Some(&r) => {
                        let (s, t) = (c.row_ptr[r] as usize, c.row_ptr[r + 1] as usize);
                        (s..t).map(|k| (c.col_idx[k], c.values[k])).collect()
                    }
                    None => Vec::new(),
                };
                for k in 0..d {
                    let slot = base + k * LANES + l;
                    let want = row.get(k).map_or((0, 0.0), |&(j, w)| (4 * j, w));
                    assert_eq!(
                        (e.off[slot], e.values[slot]),
                        want,
                        "group {g} lane {l} step {k}"
                    );
                }
            }
            let rows = &order[g * LANES..(g * LANES + LANES).min(c.rows)];
            assert_eq!(d, rows.iter().map(|&r| len(&c, r)).max().unwrap());
            base += d * LANES;
        }
        assert_eq!(base, e.values.len());
        // Sorting pays: fewer slots than groups of consecutive rows.
        let consecutive: usize = (0..3)
            .map(|g| {
                (g * LANES..(g * LANES + LANES).min(c.rows))
                    .map(|r| len(&c, r))
                    .max()
                    .unwrap()
            })
            .sum::<usize>()
            * LANES;
        assert!(base < consecutive, "{base} slots vs {consecutive}");
        let b = bytes(&c, &e);
        assert!(open(&b, c.rows).is_ok());
    }

    #[test]
    fn a_layout_that_differs_from_the_rows_is_refused() {
        let c = sample();
        let good = EllRepr::build(&c);
        let bad_col = |f: &dyn Fn(&mut EllRepr)| {
            let mut e = EllRepr::build(&c);
            f(&mut e);
            let b = bytes(&c, &e);
            open(&b, c.rows).map(|_| ())
        };
        let col = |part| move |r: Result<(), FormatError>| matches!(r, Err(FormatError::ColumnIndex { part: p, .. }) if p == part);
        let rk = col(Part::RecurrentKernel);
        // A row whose columns do not increase, a weight that is not finite, a padding slot that
        // is not (0, +0.0).
        assert!(rk(bad_col(&|e| e.off[LANES] = e.off[0])));
        assert!(matches!(
            bad_col(&|e| e.values[1] = f32::NAN),
            Err(FormatError::BadValue { .. })
        ));
        let pad = (0..good.values.len())
            .find(|&s| good.values[s] == 0.0)
            .expect("the sample has padding");
        assert!(rk(bad_col(&|e| e.values[pad] = -0.0)));
        assert!(rk(bad_col(&|e| e.off[pad] = 4)));
        // Degrees: one too many (slots added consistently) is not the canonical layout.
        assert!(rk(bad_col(&|e| {
            e.head[2 * HEADER] = 1;
            e.off.extend([0; LANES]);
            e.values.extend([0.0; LANES]);
        })));
        // The lanes' rows: swapped, repeated, out of range, not a multiple of 4, set past the
        // last row; the reserved half set.
        assert!(rk(bad_col(&|e| e.head.swap(2, 3))));
        assert!(rk(bad_col(&|e| e
            .head
            .swap(2 * HEADER + 2, 2 * HEADER + 3))));
        assert!(rk(bad_col(&|e| e.head[3] = e.head[2])));
        assert!(rk(bad_col(
            &|e| e.head[2 * HEADER + 4] = e.head[2 * HEADER + 3]
        )));
        assert!(rk(bad_col(&|e| e.head[2] = 4 * 19)));
        assert!(rk(bad_col(&|e| e.head[2] += 1)));
        assert!(rk(bad_col(&|e| e.head[2 * HEADER + 2 + 3] = 4)));
        assert!(rk(bad_col(&|e| e.head[1] = 1)));
        // Lengths.
        assert!(matches!(
            bad_col(&|e| e.head.push(0)),
            Err(FormatError::Length { .. })
        ));
        assert!(matches!(
            bad_col(&|e| {
                e.off.pop();
            }),
            Err(FormatError::Length { .. })
        ));
        assert!(matches!(
            bad_col(&|e| {
                e.values.pop();
            }),
            Err(FormatError::Length { .. })
        ));
    }

    #[test]
    fn too_many_hidden_units_for_u16_byte_offsets() {
        let n = MAX_KERNEL_HIDDEN + 1;
        let c = CsrRepr {
            rows: n,
            cols: n,
            row_ptr: vec![0; n + 1],
            col_idx: Vec::new(),
            values: Vec::new(),
        };
        let b = bytes(&c, &EllRepr::build(&c));
        assert_eq!(
            open(&b, n).unwrap_err(),
            FormatError::Limit {
                limit: crate::format::Limit::Hidden,
                value: n as u64
            }
        );
    }
}
