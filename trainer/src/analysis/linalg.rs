//! Linear algebra for the dynamics analyses, on `nalgebra` (f64): eigenvalues of a general
//! matrix, thin SVD, principal components, classical multidimensional scaling. Decompositions
//! that fail to converge give an error instead of looping.

use anyhow::{anyhow, bail, Result};
use nalgebra::{DMatrix, DVector, Schur, SymmetricEigen, SVD};

/// Iteration cap per matrix dimension for the iterative decompositions.
const ITERS_PER_DIM: usize = 1000;

/// A complex number (re, im).
pub type Complex = (f64, f64);

/// All eigenvalues of a square matrix (real Schur form), sorted by decreasing modulus, ties by
/// decreasing real part, then decreasing imaginary part.
pub fn eigenvalues(m: &DMatrix<f64>) -> Result<Vec<Complex>> {
    if !m.is_square() {
        bail!("eigenvalues of a {}x{} matrix", m.nrows(), m.ncols());
    }
    if m.iter().any(|v| !v.is_finite()) {
        bail!("the matrix has non-finite entries");
    }
    let n = m.nrows().max(1);
    let schur = Schur::try_new(m.clone(), f64::EPSILON, ITERS_PER_DIM * n)
        .ok_or_else(|| anyhow!("the Schur decomposition did not converge"))?;
    let mut ev: Vec<Complex> = schur
        .complex_eigenvalues()
        .iter()
        .map(|c| (c.re, c.im))
        .collect();
    ev.sort_by(|a, b| {
        let (ma, mb) = (a.0.hypot(a.1), b.0.hypot(b.1));
        mb.total_cmp(&ma)
            .then(b.0.total_cmp(&a.0))
            .then(b.1.total_cmp(&a.1))
    });
    Ok(ev)
}

/// Thin SVD with U (no V): left singular vectors [rows, min] and singular values, descending.
pub fn svd_u(m: &DMatrix<f64>) -> Result<(DMatrix<f64>, DVector<f64>)> {
    if m.iter().any(|v| !v.is_finite()) {
        bail!("the matrix has non-finite entries");
    }
    let n = m.nrows().max(m.ncols()).max(1);
    let svd = SVD::try_new(m.clone(), true, false, f64::EPSILON, ITERS_PER_DIM * n)
        .ok_or_else(|| anyhow!("the SVD did not converge"))?;
    let u = svd.u.ok_or_else(|| anyhow!("the SVD gave no U"))?;
    Ok((u, svd.singular_values))
}

/// Singular values of a matrix, descending.
pub fn singular_values(m: &DMatrix<f64>) -> Result<Vec<f64>> {
    if m.iter().any(|v| !v.is_finite()) {
        bail!("the matrix has non-finite entries");
    }
    let n = m.nrows().max(m.ncols()).max(1);
    let svd = SVD::try_new(m.clone(), false, false, f64::EPSILON, ITERS_PER_DIM * n)
        .ok_or_else(|| anyhow!("the SVD did not converge"))?;
    Ok(svd.singular_values.iter().copied().collect())
}

/// Eigen-decomposition of a symmetric matrix: eigenvalues descending and the matching unit
/// eigenvectors as columns.
pub fn symmetric_eigen(m: &DMatrix<f64>) -> Result<(Vec<f64>, DMatrix<f64>)> {
    if !m.is_square() || m.iter().any(|v| !v.is_finite()) {
        bail!("symmetric eigen-decomposition needs a finite square matrix");
    }
    let n = m.nrows().max(1);
    let e = SymmetricEigen::try_new(m.clone(), f64::EPSILON, ITERS_PER_DIM * n)
        .ok_or_else(|| anyhow!("the symmetric eigen-decomposition did not converge"))?;
    let mut order: Vec<usize> = (0..e.eigenvalues.len()).collect();
    order.sort_by(|&a, &b| e.eigenvalues[b].total_cmp(&e.eigenvalues[a]));
    let values = order.iter().map(|&k| e.eigenvalues[k]).collect();
    let vectors = DMatrix::from_fn(m.nrows(), order.len(), |r, c| e.eigenvectors[(r, order[c])]);
    Ok((values, vectors))
}

/// Principal components of the rows of `data` [samples, dims]: the column means and the top `k`
/// directions (unit vectors, columns of the returned [dims, k] matrix, by decreasing variance),
/// with the variance along each. Each direction's sign is fixed so that its largest-magnitude
/// entry is positive.
pub fn pca(data: &DMatrix<f64>, k: usize) -> Result<(DVector<f64>, DMatrix<f64>, Vec<f64>)> {
    let (s, d) = data.shape();
    if s < 2 || d == 0 {
        bail!("principal components need at least 2 samples of at least 1 dimension");
    }
    let mean = DVector::from_fn(d, |c, _| data.column(c).mean());
    let mut x = data.clone();
    for c in 0..d {
        x.column_mut(c).add_scalar_mut(-mean[c]);
    }
    let cov = (x.transpose() * &x) / (s - 1) as f64;
    let (values, vectors) = symmetric_eigen(&cov)?;
    let k = k.min(d);
    let mut dirs = vectors.columns(0, k).into_owned();
    for mut col in dirs.column_iter_mut() {
        let big = col
            .iter()
            .copied()
            .fold(0.0f64, |a, v| if v.abs() > a.abs() { v } else { a });
        if big < 0.0 {
            col.neg_mut();
        }
    }
    Ok((mean, dirs, values[..k].iter().map(|v| v.max(0.0)).collect()))
}

/// Classical (Torgerson) multidimensional scaling of a symmetric distance matrix [n, n] into 2-D:
/// the top two eigenvectors of -1/2 J D^2 J scaled by the square roots of their eigenvalues
/// (a dimension with a non-positive eigenvalue is set to 0).
pub fn classical_mds(d: &DMatrix<f64>) -> Result<Vec<[f64; 2]>> {
    let n = d.nrows();
    if !d.is_square() || n == 0 {
        bail!("MDS needs a non-empty square distance matrix");
    }
    let sq = d.map(|v| v * v);
    let row_means: Vec<f64> = (0..n).map(|i| sq.row(i).mean()).collect();
    let all = sq.mean();
    let b = DMatrix::from_fn(n, n, |i, j| {
        -0.5 * (sq[(i, j)] - row_means[i] - row_means[j] + all)
    });
    let (values, vectors) = symmetric_eigen(&b)?;
    Ok((0..n)
        .map(|i| {
            let mut p = [0.0; 2];
            for (k, v) in p.iter_mut().enumerate() {
                if k < values.len() && values[k] > 0.0 {
                    *v = vectors[(i, k)] * values[k].sqrt();
                }
            }
            p
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigenvalues_of_known_matrices() {
        // Rotation by 90 degrees scaled by 2: +-2i; then a diagonal entry 0.5.
        let m = DMatrix::from_row_slice(3, 3, &[0.0, -2.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.5]);
        let ev = eigenvalues(&m).unwrap();
        assert_eq!(ev.len(), 3);
        assert!(
            (ev[0].0).abs() < 1e-12 && (ev[0].1 - 2.0).abs() < 1e-12,
            "{ev:?}"
        );
        assert!((ev[1].1 + 2.0).abs() < 1e-12);
        assert!((ev[2].0 - 0.5).abs() < 1e-12 && ev[2].1 == 0.0);
        let bad = DMatrix::from_row_slice(1, 1, &[f64::NAN]);
        assert!(eigenvalues(&bad).is_err());
    }

    #[test]
    fn pca_finds_the_long_axis() {
        // Points along (3, 4)/5 with a little spread along (-4, 3)/5.
        let mut rows = Vec::new();
        for k in -5..=5 {
            let (a, b) = (f64::from(k), if k % 2 == 0 { 0.1 } else { -0.1 });
            rows.extend([1.0 + 0.6 * a - 0.8 * b, 2.0 + 0.8 * a + 0.6 * b]);
        }
        let data = DMatrix::from_row_slice(11, 2, &rows);
        let (mean, dirs, var) = pca(&data, 2).unwrap();
        assert!((mean[0] - 1.0).abs() < 0.05 && (mean[1] - 2.0).abs() < 0.05);
        assert!((dirs[(0, 0)] - 0.6).abs() < 1e-3 && (dirs[(1, 0)] - 0.8).abs() < 1e-3);
        assert!(var[0] > 100.0 * var[1]);
    }

    #[test]
    fn mds_reproduces_planar_distances() {
        let pts = [[0.0, 0.0], [3.0, 0.0], [3.0, 4.0], [0.0, 4.0], [1.0, 1.0]];
        let dist = |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).hypot(a[1] - b[1]);
        let d = DMatrix::from_fn(5, 5, |i, j| dist(pts[i], pts[j]));
        let e = classical_mds(&d).unwrap();
        for i in 0..5 {
            for j in 0..5 {
                assert!((dist(e[i], e[j]) - d[(i, j)]).abs() < 1e-9);
            }
        }
    }
}
