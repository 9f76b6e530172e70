//! A fixed connectivity mask as compressed rows: row i = receiving unit, columns = sending units.

/// Compressed sparse rows of a 0/1 mask (no values): the allowed connections j -> i, columns sorted
/// and unique within each row. Entry k of a sparse weight vector belongs to the k-th stored column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Csr {
    n: usize,
    row_ptr: Vec<usize>,
    cols: Vec<u32>,
}

impl Csr {
    /// Builds the mask of an `n` x `n` matrix from one list of sending units per receiving unit.
    /// Columns are sorted and deduplicated; indices `>= n` are an error.
    pub fn from_rows(n: usize, rows: Vec<Vec<u32>>) -> anyhow::Result<Self> {
        if rows.len() != n {
            anyhow::bail!("mask has {} rows, {} expected", rows.len(), n);
        }
        let mut row_ptr = Vec::with_capacity(n + 1);
        let mut cols = Vec::new();
        row_ptr.push(0);
        for mut r in rows {
            r.sort_unstable();
            r.dedup();
            if let Some(&last) = r.last() {
                if last as usize >= n {
                    anyhow::bail!("mask column {last} out of range (n = {n})");
                }
            }
            cols.extend_from_slice(&r);
            row_ptr.push(cols.len());
        }
        Ok(Csr { n, row_ptr, cols })
    }

    /// Matrix side n.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of allowed connections.
    pub fn nnz(&self) -> usize {
        self.cols.len()
    }

    /// Row offsets (length n + 1): row i holds entries `row_ptr[i]..row_ptr[i + 1]`.
    pub fn row_ptr(&self) -> &[usize] {
        &self.row_ptr
    }

    /// Column (sending unit) of every entry.
    pub fn cols(&self) -> &[u32] {
        &self.cols
    }

    /// Sending units of receiving unit `i`.
    pub fn row(&self, i: usize) -> &[u32] {
        &self.cols[self.row_ptr[i]..self.row_ptr[i + 1]]
    }

    /// Entry index of connection j -> i, if allowed.
    pub fn find(&self, i: usize, j: usize) -> Option<usize> {
        let start = self.row_ptr[i];
        self.row(i)
            .binary_search(&(j as u32))
            .ok()
            .map(|k| start + k)
    }

    /// Scatters per-entry `values` into a dense row-major n x n matrix (zeros elsewhere).
    pub fn scatter(&self, values: &[f32], dense: &mut [f32]) {
        dense.fill(0.0);
        for i in 0..self.n {
            let row = &mut dense[i * self.n..(i + 1) * self.n];
            for k in self.row_ptr[i]..self.row_ptr[i + 1] {
                row[self.cols[k] as usize] = values[k];
            }
        }
    }

    /// Gathers the allowed entries of a dense row-major n x n matrix into `values`.
    pub fn gather(&self, dense: &[f32], values: &mut [f32]) {
        for i in 0..self.n {
            let row = &dense[i * self.n..(i + 1) * self.n];
            for k in self.row_ptr[i]..self.row_ptr[i + 1] {
                values[k] = row[self.cols[k] as usize];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_sorted_rows_and_round_trips() {
        let m = Csr::from_rows(3, vec![vec![2, 0, 2], vec![], vec![1]]).unwrap();
        assert_eq!(m.nnz(), 3);
        assert_eq!(m.row(0), &[0, 2]);
        assert_eq!(m.row(1), &[] as &[u32]);
        assert_eq!(m.find(0, 2), Some(1));
        assert_eq!(m.find(1, 1), None);
        let mut dense = vec![7.0; 9];
        m.scatter(&[1.0, 2.0, 3.0], &mut dense);
        assert_eq!(dense, vec![1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 0.0]);
        let mut back = vec![0.0; 3];
        m.gather(&dense, &mut back);
        assert_eq!(back, vec![1.0, 2.0, 3.0]);
        assert!(Csr::from_rows(2, vec![vec![2], vec![]]).is_err());
        assert!(Csr::from_rows(2, vec![vec![0]]).is_err());
    }
}
