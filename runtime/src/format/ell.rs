//! The recurrent matrix in the kernel's layout ("sliced ELL" over rows sorted by degree), stored
//! next to the compressed rows.
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
//! The layout is fully determined by the compressed rows: opening a blob checks that it is exactly that, slot by slot, and that the lanes' rows are the
//! kernel order (strictly ordered, so they form a permutation of the rows), so the public
//! [`CsrView`] and the kernel always describe the same matrix.

use super::error::{FormatError, Part};
use super::le::LeSlice;
use super::CsrView;

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

/// Checks that `head`, `off`, `values` are exactly the layout of `csr` (already validated).
/// Never panics.
pub(crate) fn validate<'a>(
    csr: &CsrView<'a>,
    head: LeSlice<'a, u16>,
    off: LeSlice<'a, u16>,
    values: &'a [u8],
) -> Result<EllView<'a>, FormatError> {
    let part = Part::RecurrentKernel;
    let rows = csr.rows;
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
    check_order(csr, &ell)?;
    check_slots(csr, &ell, part, |slot, entry| {
        let (o, v) = (off.get(slot), values.get(slot).map(f32::to_bits));
        match entry {
            Some(i) => {
                o == csr.col_idx.get(i).map(|c| (u32::from(c) * 4) as u16)
                    && v == csr.values.get(i).map(f32::to_bits)
            }
            None => o == Some(0) && v == Some(0),
        }
    })?;
    Ok(ell)
}

/// Stored entries `(start, end)` of row `r` of a validated `csr`.
fn row_range(csr: &CsrView<'_>, r: usize, bad: FormatError) -> Result<(usize, usize), FormatError> {
    let s = csr.row_ptr.get(r).ok_or(bad)? as usize;
    let e = csr.row_ptr.get(r + 1).ok_or(bad)? as usize;
    Ok((s, e.checked_sub(s).ok_or(bad)? + s))
}

/// The row in lane `l` of group `g` (`None` past the last row); call after [`check_order`].
fn lane_row(ell: &EllView<'_>, g: usize, l: usize) -> Option<usize> {
    let p = g * LANES + l;
    if p >= ell.rows {
        return None;
    }
    ell.head.get(g * HEADER + 2 + l).map(|o| usize::from(o) / 4)
}

/// The headers' reserved halves are zero and their lanes' rows are the kernel order: byte offsets
/// `4 * row` of rows in range, strictly ordered by (length descending, row ascending), so each
/// row appears exactly once; lanes past the last row hold 0.
fn check_order(csr: &CsrView<'_>, ell: &EllView<'_>) -> Result<(), FormatError> {
    let part = Part::RecurrentKernel;
    let mut prev: Option<(usize, usize)> = None;
    for g in 0..ell.rows.div_ceil(LANES) {
        let bad = |p: usize| FormatError::ColumnIndex {
            part,
            row: p as u32,
        };
        if ell.head.get(g * HEADER + 1) != Some(0) {
            return Err(bad(g * LANES));
        }
        for l in 0..LANES {
            let p = g * LANES + l;
            let o = usize::from(ell.head.get(g * HEADER + 2 + l).ok_or(bad(p))?);
            if p >= ell.rows {
                if o != 0 {
                    return Err(bad(p));
                }
                continue;
            }
            let r = o / 4;
            if o % 4 != 0 || r >= ell.rows {
                return Err(bad(p));
            }
            let (s, e) = row_range(csr, r, bad(r))?;
            let len = e - s;
            if prev.is_some_and(|(pl, pr)| pl < len || (pl == len && pr >= r)) {
                return Err(bad(r));
            }
            prev = Some((len, r));
        }
    }
    Ok(())
}

/// Walks every slot of the layout; `ok(slot, Some(csr entry) | None for padding)` must hold.
fn check_slots(
    csr: &CsrView<'_>,
    ell: &EllView<'_>,
    part: Part,
    ok: impl Fn(usize, Option<usize>) -> bool,
) -> Result<(), FormatError> {
    let mut base = 0usize;
    for g in 0..ell.rows.div_ceil(LANES) {
        let bad = |r: usize| FormatError::ColumnIndex {
            part,
            row: r as u32,
        };
        let d = usize::from(ell.head.get(g * HEADER).ok_or(bad(g * LANES))?);
        let mut longest = 0;
        for l in 0..LANES {
            let (r, (s, e)) = match lane_row(ell, g, l) {
                Some(r) => (r, row_range(csr, r, bad(r))?),
                None => (g * LANES + l, (0, 0)),
            };
            let len = e - s;
            if len > d {
                return Err(bad(r));
            }
            longest = longest.max(len);
            for k in 0..d {
                if !ok(base + k * LANES + l, (k < len).then_some(s + k)) {
                    return Err(bad(r));
                }
            }
        }
        if longest != d {
            return Err(bad(g * LANES));
        }
        base += d * LANES;
    }
    Ok(())
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::format::{Csr, CsrRepr};

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
        row_ptr: Vec<u8>,
        col: Vec<u8>,
        val: Vec<u8>,
        head: Vec<u8>,
        off: Vec<u8>,
        ell_val: Vec<u8>,
    }

    fn bytes(c: &CsrRepr, e: &EllRepr) -> Bytes {
        Bytes {
            row_ptr: le(&c.row_ptr, u32::to_le_bytes),
            col: le(&c.col_idx, u16::to_le_bytes),
            val: le(&c.values, f32::to_le_bytes),
            head: le(&e.head, u16::to_le_bytes),
            off: le(&e.off, u16::to_le_bytes),
            ell_val: le(&e.values, f32::to_le_bytes),
        }
    }

    fn csr(b: &Bytes, rows: usize) -> CsrView<'_> {
        Csr {
            rows,
            cols: rows,
            row_ptr: LeSlice::new(&b.row_ptr).unwrap(),
            col_idx: LeSlice::new(&b.col).unwrap(),
            values: LeSlice::new(&b.val).unwrap(),
        }
    }

    fn open(b: &Bytes, rows: usize) -> Result<EllView<'_>, FormatError> {
        validate(
            &csr(b, rows),
            LeSlice::new(&b.head).unwrap(),
            LeSlice::new(&b.off).unwrap(),
            &b.ell_val,
        )
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
        // A real entry with another column, another weight, a padding slot that is not +0.0.
        assert!(rk(bad_col(&|e| e.off[0] += 4)));
        assert!(rk(bad_col(&|e| e.values[1] = -e.values[1])));
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
