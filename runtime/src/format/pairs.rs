//! The int8 recurrent matrix in the int8 kernel's layout ("pair groups"), stored next to the
//! compressed rows of `rec_q`.
//!
//! Each row's stored entries are cut into *pairs of adjacent columns*: walking the row's columns
//! in increasing order, a pair starts at the next column `c` not yet taken and covers `c` and
//! `c + 1`, with weights `(q_c, q_{c+1})`, `q_{c+1} = 0` when the row stores no entry at `c + 1`.
//! The kernel reads the two quantised activations `hq[c], hq[c + 1]` with one 32-bit load and
//! multiplies both with one `smlad`; on a sheet with local wiring most neighbours of a unit are
//! adjacent columns, so a row needs far fewer pairs than entries (default model: 1,871 pairs for
//! 2,716 entries).
//!
//! Rows are taken in groups of [`QLANES`] consecutive rows (the last group may be partial; its
//! missing lanes are empty rows). Group `g` holds one u32 word, its degree
//! `d = max(1, most pairs of its rows)`, then `d` steps of [`STEP_WORDS`] u32 words each: step `k`
//! has the byte offsets `2 c` of the `k`-th pair of lanes 0 and 1 (u16 halves of one word, lane 0
//! low), then of lanes 2 and 3, then one word per lane with the pair's weights as two i16
//! (`q_c` low, `q_{c+1}` high). Rows with fewer pairs are padded with `(offset 0, weights 0)`.
//! Groups of consecutive rows let the kernel store a group's 4 sums with one `vstmia`, and load
//! their 4 row scales with one `vldmia`; the degree is at least 1 so that every group runs a first
//! step (no separate zeroing).
//!
//! The layout is fully determined by the compressed rows and `rec_q`: opening a blob checks it word
//! by word. It also checks that every row's `sum |q|` is at most [`MAX_ROW_ABS_Q`], so that the
//! kernel's i32 sums of `q * hq` (`|hq| <= 32768`) cannot overflow.

use super::error::{FormatError, Part};
use super::le::LeSlice;
use super::CsrView;

/// Rows summed in lockstep by the int8 recurrent kernel.
pub(crate) const QLANES: usize = 4;

/// u32 words per step of a group: two words of byte offsets, one word of two i16 weights per lane.
pub(crate) const STEP_WORDS: usize = 2 + QLANES;

/// The largest `sum |q|` of an int8 recurrent row: with `|hq| <= 32768` the i32 sum stays below
/// 2^31.
pub const MAX_ROW_ABS_Q: u32 = 65_535;

/// The pair starting at entry `i` of a row whose entries end at `e`, and the entry after it:
/// columns `c` and `c + 1` when the row stores both, else `c` alone (second weight 0).
#[inline(always)]
pub(crate) fn pair_at(
    i: usize,
    e: usize,
    col: impl Fn(usize) -> u16,
    q: impl Fn(usize) -> i8,
) -> Option<((u16, i8, i8), usize)> {
    if i >= e {
        return None;
    }
    let c = col(i);
    if i + 1 < e && u32::from(col(i + 1)) == u32::from(c) + 1 {
        Some(((c, q(i), q(i + 1)), i + 2))
    } else {
        Some(((c, q(i), 0), i + 1))
    }
}

/// Number of pairs of the entries `s..e` of a row.
pub(crate) fn count_pairs(s: usize, e: usize, col: impl Fn(usize) -> u16 + Copy) -> usize {
    let (mut i, mut n) = (s, 0);
    while let Some((_, next)) = pair_at(i, e, col, |_| 0) {
        i = next;
        n += 1;
    }
    n
}

/// Two u16 halves in one word, `a` low.
fn halves(a: u16, b: u16) -> u32 {
    u32::from(a) | (u32::from(b) << 16)
}

/// Calls `emit` with every word of the layout of `rows` rows, in order (row `r`'s entries are
/// `range(r)`, with columns `col(i)` and weights `q(i)`); stops and returns false as soon as
/// `emit` does. Shared by the encoder and the validator.
pub(crate) fn layout(
    rows: usize,
    range: impl Fn(usize) -> (usize, usize),
    col: impl Fn(usize) -> u16 + Copy,
    q: impl Fn(usize) -> i8 + Copy,
    mut emit: impl FnMut(usize, u32) -> bool,
) -> bool {
    for g in 0..rows.div_ceil(QLANES) {
        let (mut pos, mut end) = ([0usize; QLANES], [0usize; QLANES]);
        let mut d = 1;
        for l in 0..QLANES {
            let r = g * QLANES + l;
            if r < rows {
                let (s, e) = range(r);
                (pos[l], end[l]) = (s, e.max(s));
                d = d.max(count_pairs(pos[l], end[l], col));
            }
        }
        if !emit(g, d as u32) {
            return false;
        }
        for _ in 0..d {
            let mut step = [(0u16, 0u16, 0u16); QLANES];
            for (l, st) in step.iter_mut().enumerate() {
                if let Some(((c, q0, q1), next)) = pair_at(pos[l], end[l], col, q) {
                    *st = (
                        c.wrapping_mul(2),
                        i16::from(q0) as u16,
                        i16::from(q1) as u16,
                    );
                    pos[l] = next;
                }
            }
            let ok = emit(g, halves(step[0].0, step[1].0))
                && emit(g, halves(step[2].0, step[3].0))
                && step.iter().all(|&(_, a, b)| emit(g, halves(a, b)));
            if !ok {
                return false;
            }
        }
    }
    true
}

/// The layout of `c` with int8 weights `q` (one per stored entry), encoder side. Never panics:
/// inconsistent input gives some layout that [`validate`] then refuses.
#[cfg(feature = "std")]
pub(crate) fn build(c: &super::CsrRepr, q: &[i8]) -> Vec<u32> {
    let mut out = Vec::new();
    let at = |i: usize| c.row_ptr.get(i).map_or(0, |&p| p as usize);
    layout(
        c.rows,
        |r| (at(r), at(r + 1)),
        |i| c.col_idx.get(i).copied().unwrap_or(0),
        |i| q.get(i).copied().unwrap_or(0),
        |_, w| {
            out.push(w);
            true
        },
    );
    out
}

/// Checks that `words` is exactly the layout of `csr` (already validated) with weights `q`, and
/// the rows' `sum |q|` bound. Never panics.
pub(crate) fn validate<'a>(
    csr: &CsrView<'_>,
    q: &[i8],
    words: &'a [u8],
) -> Result<LeSlice<'a, u32>, FormatError> {
    let part = Part::Int8RecurrentKernel;
    let at = |i: usize| csr.row_ptr.get(i).map_or(0, |p| p as usize);
    for r in 0..csr.rows {
        let (s, e) = (at(r), at(r + 1));
        let sum: u32 = (s..e)
            .map(|i| u32::from(q.get(i).map_or(0, |v| v.unsigned_abs())))
            .sum();
        if sum > MAX_ROW_ABS_Q {
            return Err(FormatError::Int8RowRange { row: r as u32 });
        }
    }
    let w = LeSlice::<u32>::new(words).ok_or(FormatError::Length {
        part,
        expected: words.len() / 4 * 4,
        got: words.len(),
    })?;
    let mut k = 0usize;
    let mut bad = None;
    let complete = layout(
        csr.rows,
        |r| (at(r), at(r + 1)),
        |i| csr.col_idx.get(i).unwrap_or(0),
        |i| q.get(i).copied().unwrap_or(0),
        |g, want| {
            let ok = w.get(k) == Some(want);
            if !ok {
                bad = Some((g, k));
            }
            k += 1;
            ok
        },
    );
    match bad {
        None if complete && k == w.len() => Ok(w),
        Some((_, at)) if at >= w.len() => Err(FormatError::Length {
            part,
            expected: 4 * (at + 1),
            got: words.len(),
        }),
        Some((g, _)) => Err(FormatError::ColumnIndex {
            part,
            row: (g * QLANES) as u32,
        }),
        None => Err(FormatError::Length {
            part,
            expected: 4 * k,
            got: words.len(),
        }),
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::format::{CsrRepr, LeSlice};

    #[test]
    fn rows_are_cut_into_pairs_of_adjacent_columns_from_the_left() {
        let cols = [0u16, 1, 3, 5, 6, 7];
        let q = [1i8, 2, 3, 4, 5, 6];
        let mut i = 0;
        let mut got = Vec::new();
        while let Some((p, next)) = pair_at(i, cols.len(), |k| cols[k], |k| q[k]) {
            got.push(p);
            i = next;
        }
        assert_eq!(got, [(0, 1, 2), (3, 3, 0), (5, 4, 5), (7, 6, 0)]);
        assert_eq!(count_pairs(0, cols.len(), |k| cols[k]), 4);
        assert_eq!(count_pairs(2, 2, |k| cols[k]), 0);
    }

    /// Two rows: `[c0 c1 . c3]` and an empty one; one group (degree 2, lanes 1-3 padded).
    #[test]
    fn a_small_layout_word_by_word_and_its_checks() {
        let c = CsrRepr {
            rows: 2,
            cols: 4,
            row_ptr: vec![0, 3, 3],
            col_idx: vec![0, 1, 3],
            values: vec![0.5, -0.5, 1.0],
        };
        let q = [64i8, -64, 127];
        let w = build(&c, &q);
        let half = |a: i16, b: i16| u32::from(a as u16) | (u32::from(b as u16) << 16);
        let want = [2, 0, 0, half(64, -64), 0, 0, 0, 6, 0, half(127, 0), 0, 0, 0];
        assert_eq!(w, want);
        let bytes = |w: &[u32]| w.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let row_ptr = bytes(&[0, 3, 3]);
        let col: Vec<u8> = [0u16, 1, 3].iter().flat_map(|x| x.to_le_bytes()).collect();
        let val: Vec<u8> = c.values.iter().flat_map(|x| x.to_le_bytes()).collect();
        let csr = crate::format::Csr {
            rows: 2,
            cols: 4,
            row_ptr: LeSlice::new(&row_ptr).unwrap(),
            col_idx: LeSlice::new(&col).unwrap(),
            values: LeSlice::new(&val).unwrap(),
        };
        assert!(validate(&csr, &q, &bytes(&w)).is_ok());
        // A wrong weight, a wrong offset, a degree of 0 or 3, a missing or an extra word.
        for (k, v) in [(3, half(64, -63)), (7, 4), (0, 0), (0, 3)] {
            let mut bad = w.clone();
            bad[k] = v;
            assert!(validate(&csr, &q, &bytes(&bad)).is_err(), "word {k} = {v}");
        }
        assert!(matches!(
            validate(&csr, &q, &bytes(&w[..w.len() - 1])),
            Err(FormatError::Length { .. })
        ));
        let mut long = w.clone();
        long.push(0);
        assert!(matches!(
            validate(&csr, &q, &bytes(&long)),
            Err(FormatError::Length { .. })
        ));
        // The same words checked against other int8 weights.
        assert_eq!(
            validate(&csr, &[127, 127, 127], &bytes(&w)).map(|_| ()),
            Err(FormatError::ColumnIndex {
                part: Part::Int8RecurrentKernel,
                row: 0
            })
        );
    }
}
