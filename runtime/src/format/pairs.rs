//! The int8 recurrent matrix in the int8 kernel's layout ("pair groups").
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
//! low), then of lanes 2 and 3, then one word of weights per two lanes `a, b` (lanes 0 and 1, then
//! 2 and 3): the bytes `q_c(a), q_c(b), q_{c+1}(a), q_{c+1}(b)` as i8, lowest first, so that
//! `sxtb16` gives lane `a`'s pair as two i16 and `sxtb16 ..., ror #8` lane `b`'s (format version 4;
//! version 3 stored the two weights of each lane as two i16, 8 bytes more per step). Rows with
//! fewer pairs are padded with `(offset 0, weights 0)`.
//! Groups of consecutive rows let the kernel store a group's 4 sums with one `vstmia`, and load
//! their 4 row scales with one `vldmia`; the degree is at least 1 so that every group runs a first
//! step (no separate zeroing).
//!
//! This is the only copy of the int8 recurrent weights in a blob (format versions 3, 4): it stores the
//! nonzero `q` only (a weight that quantises to 0 is dropped, which changes no integer sum), so a
//! pair whose first weight is 0 is padding, and compressed rows are derived from the words
//! (`WeightsView`). Opening a blob checks that the words are in the one canonical form the encoder
//! writes (weights in -127..=127, pairs cut greedily from the left at increasing columns, padding
//! `(0, 0, 0)` after a row's pairs, degrees `max(1, most pairs)`), and that every row's `sum |q|`
//! is at most [`MAX_ROW_ABS_Q`], so that the kernel's i32 sums of `q * hq` (`|hq| <= 32768`)
//! cannot overflow.

use super::error::{FormatError, Part};
use super::le::LeSlice;

/// Rows summed in lockstep by the int8 recurrent kernel.
pub(crate) const QLANES: usize = 4;

/// u32 words per step of a group: two words of byte offsets, then two words of weights (one per
/// two lanes: 4 i8, see the module doc).
pub(crate) const STEP_WORDS: usize = 2 + QLANES / 2;

/// The largest `sum |q|` of an int8 recurrent row: with `|hq| <= 32768` the i32 sum stays below
/// 2^31.
pub const MAX_ROW_ABS_Q: u32 = 65_535;

#[cfg(feature = "std")]
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

#[cfg(feature = "std")]
/// Number of pairs of the entries `s..e` of a row.
pub(crate) fn count_pairs(s: usize, e: usize, col: impl Fn(usize) -> u16 + Copy) -> usize {
    let (mut i, mut n) = (s, 0);
    while let Some((_, next)) = pair_at(i, e, col, |_| 0) {
        i = next;
        n += 1;
    }
    n
}

#[cfg(feature = "std")]
/// The weight word of two lanes `a`, `b`: bytes `a_0, b_0, a_1, b_1` (first byte lowest).
fn weights_word(a0: i8, b0: i8, a1: i8, b1: i8) -> u32 {
    u32::from_le_bytes([a0 as u8, b0 as u8, a1 as u8, b1 as u8])
}

#[cfg(feature = "std")]
/// Two u16 halves in one word, `a` low.
fn halves(a: u16, b: u16) -> u32 {
    u32::from(a) | (u32::from(b) << 16)
}

#[cfg(feature = "std")]
/// Calls `emit` with every word of the layout of `rows` rows, in order (row `r`'s entries are
/// `range(r)`, with columns `col(i)` and weights `q(i)`); stops and returns false as soon as
/// `emit` does (the encoder's side; `validate` checks the canonical form directly).
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
            let mut step = [(0u16, 0i8, 0i8); QLANES];
            for (l, st) in step.iter_mut().enumerate() {
                if let Some(((c, q0, q1), next)) = pair_at(pos[l], end[l], col, q) {
                    *st = (c.wrapping_mul(2), q0, q1);
                    pos[l] = next;
                }
            }
            let ok = emit(g, halves(step[0].0, step[1].0))
                && emit(g, halves(step[2].0, step[3].0))
                && step
                    .chunks_exact(2)
                    .all(|l| emit(g, weights_word(l[0].1, l[1].1, l[0].2, l[1].2)));
            if !ok {
                return false;
            }
        }
    }
    true
}

/// The layout of the int8 recurrent matrix `c` (its nonzero `q`), encoder side. Never panics:
/// inconsistent input gives some layout that [`validate`] then refuses.
#[cfg(feature = "std")]
pub(crate) fn build(c: &super::CsrRepr<i8>) -> Vec<u32> {
    let mut out = Vec::new();
    let at = |i: usize| c.row_ptr.get(i).map_or(0, |&p| p as usize);
    layout(
        c.rows,
        |r| (at(r), at(r + 1)),
        |i| c.col_idx.get(i).copied().unwrap_or(0),
        |i| c.values.get(i).copied().unwrap_or(0),
        |_, w| {
            out.push(w);
            true
        },
    );
    out
}

/// One lane's step: the pair's column and weights.
fn lane_step(w: &LeSlice<'_, u32>, p: usize, l: usize) -> Option<(u16, i16, i16)> {
    let o = w.get(p + l / 2)?;
    let half = if l % 2 == 1 { o >> 16 } else { o & 0xffff } as u16;
    let q = w.get(p + 2 + l / 2)?.to_le_bytes();
    let byte = |i: usize| i16::from(q[i] as i8);
    Some((half, byte(l % 2), byte(2 + l % 2)))
}

/// Checks that `words` are a layout of some `rows x cols` int8 matrix in the canonical form (see
/// the module doc), and the rows' `sum |q|` bound. Returns the words and the number of stored
/// weights. Never panics.
pub(crate) fn validate(
    rows: usize,
    cols: usize,
    words: &[u8],
) -> Result<(LeSlice<'_, u32>, usize), FormatError> {
    let part = Part::Int8RecurrentKernel;
    let w = LeSlice::<u32>::new(words).ok_or(FormatError::Length {
        part,
        expected: words.len() / 4 * 4,
        got: words.len(),
    })?;
    let short = |at: usize| FormatError::Length {
        part,
        expected: 4 * at,
        got: words.len(),
    };
    let (mut p, mut nnz) = (0usize, 0usize);
    for g in 0..rows.div_ceil(QLANES) {
        let bad = FormatError::ColumnIndex {
            part,
            row: (g * QLANES) as u32,
        };
        let d = w.get(p).ok_or(short(p + 1))? as usize;
        p += 1;
        let end = d
            .checked_mul(STEP_WORDS)
            .and_then(|n| n.checked_add(p))
            .ok_or(bad)?;
        if end > w.len() {
            return Err(short(end));
        }
        let mut most = 0;
        for l in 0..QLANES {
            let r = g * QLANES + l;
            let (mut pairs, mut sum, mut next_min, mut padding) = (0usize, 0u32, 0usize, false);
            for k in 0..d {
                let (half, q0, q1) = lane_step(&w, p + k * STEP_WORDS, l).ok_or(bad)?;
                let in_i8 = |q: i16| (-127..=127).contains(&q);
                if q0 == 0 || r >= rows {
                    if half != 0 || q0 != 0 || q1 != 0 {
                        return Err(bad);
                    }
                    padding = true;
                    continue;
                }
                let c = usize::from(half / 2);
                if padding
                    || half % 2 != 0
                    || !in_i8(q0)
                    || !in_i8(q1)
                    || c < next_min
                    || c >= cols
                    || (q1 != 0 && c + 1 >= cols)
                {
                    return Err(bad);
                }
                // Cut greedily from the left: the next pair starts two columns on.
                next_min = c + 2;
                pairs += 1;
                nnz += 1 + usize::from(q1 != 0);
                sum += u32::from(q0.unsigned_abs()) + u32::from(q1.unsigned_abs());
            }
            if sum > MAX_ROW_ABS_Q {
                return Err(FormatError::Int8RowRange { row: r as u32 });
            }
            most = most.max(pairs);
        }
        if d != most.max(1) {
            return Err(bad);
        }
        p = end;
    }
    if p != w.len() {
        return Err(FormatError::Length {
            part,
            expected: 4 * p,
            got: words.len(),
        });
    }
    Ok((w, nnz))
}

/// The stored entries of the layout of `rows` rows, `f(row, column, q)`, in storage order; call
/// on validated words. With `only = Some(r)`, row `r` alone, in column order.
pub(crate) fn for_each(
    w: &LeSlice<'_, u32>,
    rows: usize,
    only: Option<usize>,
    mut f: impl FnMut(usize, usize, i8),
) {
    let mut p = 0usize;
    for g in 0..rows.div_ceil(QLANES) {
        let d = w.get(p).unwrap_or(0) as usize;
        p += 1;
        if only.is_none_or(|r| r / QLANES == g) {
            for l in 0..QLANES.min(rows - g * QLANES) {
                let r = g * QLANES + l;
                if only.is_some_and(|o| o != r) {
                    continue;
                }
                for k in 0..d {
                    match lane_step(w, p + k * STEP_WORDS, l) {
                        Some((half, q0, q1)) if q0 != 0 => {
                            let c = usize::from(half / 2);
                            f(r, c, q0 as i8);
                            if q1 != 0 {
                                f(r, c + 1, q1 as i8);
                            }
                        }
                        _ => break,
                    }
                }
            }
        }
        p += d * STEP_WORDS;
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
        let c = CsrRepr::<i8> {
            rows: 2,
            cols: 4,
            row_ptr: vec![0, 3, 3],
            col_idx: vec![0, 1, 3],
            values: vec![64, -64, 127],
        };
        let w = build(&c);
        let wb = |a0: i8, b0: i8, a1: i8, b1: i8| weights_word(a0, b0, a1, b1);
        let want = [2, 0, 0, wb(64, 0, -64, 0), 0, 6, 0, wb(127, 0, 0, 0), 0];
        assert_eq!(w, want);
        let bytes = |w: &[u32]| w.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let good = bytes(&w);
        let (words, nnz) = validate(2, 4, &good).unwrap();
        assert_eq!((words.len(), nnz), (9, 3));
        let mut got = Vec::new();
        for_each(&words, 2, None, |r, c, q| got.push((r, c, q)));
        assert_eq!(got, [(0, 0, 64), (0, 1, -64), (0, 3, 127)]);
        // Not canonical: a first weight 0 with a second one, a pair that starts inside the
        // previous one, an odd offset, a degree of 0 or 3, a weight outside -127..=127, a weight
        // in a padding slot, padding with an offset, a column past the matrix.
        for (k, v) in [
            (3, wb(0, 0, -64, 0)),
            (5, 2),
            (5, 3),
            (0, 0),
            (0, 3),
            (3, wb(-128, 0, -64, 0)),
            (4, wb(0, 0, 7, 0)),
            (1, 2 << 16),
            (5, 8),
        ] {
            let mut bad = w.clone();
            bad[k] = v;
            assert!(validate(2, 4, &bytes(&bad)).is_err(), "word {k} = {v}");
        }
        assert!(matches!(
            validate(2, 4, &bytes(&w[..w.len() - 1])),
            Err(FormatError::Length { .. })
        ));
        let mut long = w.clone();
        long.push(0);
        assert!(matches!(
            validate(2, 4, &bytes(&long)),
            Err(FormatError::Length { .. })
        ));
        assert!(LeSlice::<u32>::new(&good).is_some());
    }
}
