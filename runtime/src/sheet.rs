//! The sheet of hidden units, the one home of its geometry (`docs/models.md`, "The sheet" and
//! "Measures"): unit n of an R x C sheet sits at row n / C, column n % C; the BIMT distance
//! between units at (i, j) and (m, n) is D = (|i - m| + |j - n|) / S, S = max(R, C); the wiring
//! length is the sum of D over the active connections, the integer sum of |i - m| + |j - n|
//! divided by S once, in f64 ([`WiringSum`]), so that every recount is bit-equal.
//!
//! The trainer (structures, BIMT, analysis, export) and [`crate::measure`] all use these.
//!
//! ```
//! use gyrus_runtime::sheet::Sheet;
//! let s: Sheet = "3x4".parse().unwrap();
//! assert_eq!((s.n_units(), s.pos(5)), (12, (1, 1)));
//! assert_eq!(s.distance(0, 11), 5.0 / 4.0);
//! ```

use core::fmt;
use core::str::FromStr;

/// An R x C grid of hidden units, N = R * C.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sheet {
    /// Number of rows R.
    pub rows: usize,
    /// Number of columns C.
    pub cols: usize,
}

/// |i - m| and |j - n| between the grid positions `a` = (i, j) and `b` = (m, n).
#[inline]
pub fn axis_distances(a: (usize, usize), b: (usize, usize)) -> (usize, usize) {
    (a.0.abs_diff(b.0), a.1.abs_diff(b.1))
}

/// The grid (Manhattan) distance |i - m| + |j - n| between positions `a` = (i, j) and
/// `b` = (m, n); the BIMT distance is this over S ([`Sheet::distance`]).
#[inline]
pub fn manhattan(a: (usize, usize), b: (usize, usize)) -> usize {
    let (di, dj) = axis_distances(a, b);
    di + dj
}

impl Sheet {
    /// A sheet of `rows` x `cols` units.
    pub const fn new(rows: usize, cols: usize) -> Self {
        Sheet { rows, cols }
    }

    /// Number of hidden units N = R * C.
    pub const fn n_units(&self) -> usize {
        self.rows * self.cols
    }

    /// (row, column) of unit `n`.
    pub const fn pos(&self, n: usize) -> (usize, usize) {
        (n / self.cols, n % self.cols)
    }

    /// Index of the unit at (`row`, `col`).
    pub const fn index(&self, row: usize, col: usize) -> usize {
        row * self.cols + col
    }

    /// S = max(R, C), the side of the unit square the BIMT distance is measured in (at least 1).
    pub const fn side(&self) -> usize {
        let s = if self.rows > self.cols {
            self.rows
        } else {
            self.cols
        };
        if s == 0 {
            1
        } else {
            s
        }
    }

    /// Row and column distances between units `a` and `b`, each wrapped around the sheet (the
    /// shorter way round a torus) when `torus` is set.
    pub fn offsets(&self, a: usize, b: usize, torus: bool) -> (usize, usize) {
        let (di, dj) = axis_distances(self.pos(a), self.pos(b));
        if torus {
            (di.min(self.rows - di), dj.min(self.cols - dj))
        } else {
            (di, dj)
        }
    }

    /// The grid distance |i - m| + |j - n| between units `a` and `b` (no wrap-around).
    pub fn manhattan(&self, a: usize, b: usize) -> usize {
        manhattan(self.pos(a), self.pos(b))
    }

    /// The BIMT distance D = (|i - m| + |j - n|) / S between units `a` and `b`.
    pub fn distance(&self, a: usize, b: usize) -> f64 {
        self.manhattan(a, b) as f64 / self.side() as f64
    }

    /// Checks that both sides are positive and N fits the index type of the masks (u32).
    pub fn validate(&self) -> Result<(), SheetError> {
        if self.rows == 0 || self.cols == 0 {
            return Err(SheetError::Empty(*self));
        }
        match self.rows.checked_mul(self.cols) {
            Some(n) if n <= u32::MAX as usize => Ok(()),
            _ => Err(SheetError::TooLarge(*self)),
        }
    }
}

/// Prints `RxC`, the form [`FromStr`] reads.
impl fmt::Display for Sheet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.rows, self.cols)
    }
}

/// Reads `RxC` (or `RXC`; spaces around either number are allowed), e.g. `16x16`. Any sizes,
/// zero included: [`Sheet::validate`] checks them.
impl FromStr for Sheet {
    type Err = ParseSheetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (r, c) = s.split_once(['x', 'X']).ok_or(ParseSheetError)?;
        let side = |v: &str| v.trim().parse::<usize>().map_err(|_| ParseSheetError);
        Ok(Sheet::new(side(r)?, side(c)?))
    }
}

/// A sheet that [`Sheet::validate`] refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SheetError {
    /// A side is zero.
    Empty(Sheet),
    /// R * C overflows, or exceeds the masks' u32 indices.
    TooLarge(Sheet),
}

impl fmt::Display for SheetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SheetError::Empty(s) => write!(
                f,
                "sheet must have at least one row and one column, got {s}"
            ),
            SheetError::TooLarge(s) => write!(f, "sheet {s} is too large"),
        }
    }
}

impl core::error::Error for SheetError {}

/// Text that is not `RxC` with two unsigned integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseSheetError;

impl fmt::Display for ParseSheetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected ROWSxCOLS with unsigned integers, e.g. 16x16")
    }
}

impl core::error::Error for ParseSheetError {}

/// The active-connection count and wiring length, accumulated one connection at a time: the exact
/// integer sum of |i - m| + |j - n|, divided by S once at the end ([`WiringSum::length`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WiringSum {
    /// Connections added.
    pub connections: u32,
    /// Sum of their |i - m| + |j - n|.
    pub manhattan: u64,
}

impl WiringSum {
    /// Adds the connection between the units at positions `a` and `b`.
    #[inline]
    pub fn add(&mut self, a: (usize, usize), b: (usize, usize)) {
        self.connections += 1;
        self.manhattan += manhattan(a, b) as u64;
    }

    /// The wiring length: the sum of D = (|i - m| + |j - n|) / S, S = `side` (`max(R, C)`).
    pub fn length(&self, side: usize) -> f64 {
        self.manhattan as f64 / side.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_row_major() {
        let s = Sheet::new(3, 4);
        assert_eq!(s.n_units(), 12);
        assert_eq!(s.pos(0), (0, 0));
        assert_eq!(s.pos(5), (1, 1));
        assert_eq!(s.pos(11), (2, 3));
        for n in 0..12 {
            let (r, c) = s.pos(n);
            assert_eq!(s.index(r, c), n);
        }
        assert!(Sheet::new(0, 3).validate().is_err());
        assert!(Sheet::new(2, 3).validate().is_ok());
        assert_eq!(
            Sheet::new(usize::MAX, 2).validate(),
            Err(SheetError::TooLarge(Sheet::new(usize::MAX, 2)))
        );
    }

    #[test]
    fn distance_is_manhattan_over_the_longer_side() {
        let s = Sheet::new(4, 5);
        assert_eq!(s.distance(0, 0), 0.0);
        // unit 0 at (0,0), unit 19 at (3,4): (3 + 4) / 5.
        assert_eq!(s.distance(0, 19), 7.0 / 5.0);
        assert_eq!(s.distance(7, 13), s.distance(13, 7));
        let tall = Sheet::new(4, 2);
        assert_eq!(tall.distance(0, 7), 1.0);
    }

    #[test]
    fn torus_offsets_wrap_the_shorter_way() {
        let s = Sheet::new(5, 4);
        // (0,0) and (4,3): 4 rows and 3 columns apart, 1 and 1 round the torus.
        assert_eq!(s.offsets(0, 19, false), (4, 3));
        assert_eq!(s.offsets(0, 19, true), (1, 1));
        assert_eq!(s.offsets(0, 9, true), (2, 1)); // (2,1): unchanged
    }

    #[test]
    fn parses_and_prints_rows_x_cols() {
        assert_eq!("16x8".parse(), Ok(Sheet::new(16, 8)));
        assert_eq!(" 2 X 3 ".parse(), Ok(Sheet::new(2, 3)));
        assert_eq!("0x3".parse(), Ok(Sheet::new(0, 3)));
        for bad in ["16", "x4", "4x", "ax4", "-1x2", "4x4x4", ""] {
            assert_eq!(bad.parse::<Sheet>(), Err(ParseSheetError), "{bad:?}");
        }
        assert_eq!(Sheet::new(7, 9).to_string(), "7x9");
    }

    #[test]
    fn wiring_sum_divides_the_integer_sum_once() {
        let mut w = WiringSum::default();
        w.add((0, 0), (2, 1));
        w.add((1, 1), (1, 1));
        w.add((0, 2), (1, 0));
        assert_eq!((w.connections, w.manhattan), (3, 6));
        assert_eq!(w.length(3), 2.0);
    }
}
