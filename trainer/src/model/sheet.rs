//! The sheet of hidden units: unit n of an R x C sheet sits at row n / C, column n % C.

use serde::{Deserialize, Serialize};

/// An R x C grid of hidden units, N = R * C.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sheet {
    /// Number of rows R.
    pub rows: usize,
    /// Number of columns C.
    pub cols: usize,
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

    /// Checks that both sides are positive and N fits the index type of the masks (u32).
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.rows == 0 || self.cols == 0 {
            anyhow::bail!(
                "sheet must have at least one row and one column, got {}x{}",
                self.rows,
                self.cols
            );
        }
        match self.rows.checked_mul(self.cols) {
            Some(n) if n <= u32::MAX as usize => Ok(()),
            _ => anyhow::bail!("sheet {}x{} is too large", self.rows, self.cols),
        }
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
    }
}
