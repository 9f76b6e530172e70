//! Softmax cross-entropy over every step, averaged over the T*B (step, trial) pairs.

/// Mean cross-entropy of `logits` ([rows, classes] row-major) against `targets` (one class per
/// row, already checked < classes), and overwrites the logits with dLoss/dlogits
/// = (softmax - onehot) / rows. The mean is over all rows (T*B), every step counts. (The
/// reference for [`cross_entropy_columns`], which training uses.)
#[cfg(test)]
pub(crate) fn cross_entropy_in_place(logits: &mut [f32], classes: usize, targets: &[u8]) -> f64 {
    let rows = targets.len();
    let inv = 1.0 / rows as f32;
    let mut total = 0.0f64;
    for (row, &t) in logits.chunks_exact_mut(classes).zip(targets) {
        let t = usize::from(t);
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let zt = row[t] - m;
        let mut s = 0.0f32;
        for v in row.iter_mut() {
            *v = (*v - m).exp();
            s += *v;
        }
        // -log softmax_t = log(sum_k exp(z_k - m)) - (z_t - m).
        total += f64::from(s.ln() - zt);
        let inv_s = inv / s;
        for v in row.iter_mut() {
            *v *= inv_s;
        }
        row[t] -= inv;
    }
    total / rows as f64
}

/// [`cross_entropy_in_place`] on transposed logits, for rows that are part of a mean over
/// `mean_over` rows (e.g. one chunk of a batch): `logits_t` is [classes, rows] row-major (class o
/// of row r at `o * rows + r`), overwritten with d(mean loss)/dlogits = (softmax - onehot) /
/// `mean_over` in the same layout. Returns the *sum* of the rows' cross-entropies. The rows are
/// taken 16 at a time so that each class's values are contiguous.
pub(crate) fn cross_entropy_columns(
    logits_t: &mut [f32],
    classes: usize,
    targets: &[u8],
    mean_over: usize,
) -> f64 {
    const C: usize = 16;
    let rows = targets.len();
    assert_eq!(
        logits_t.len(),
        rows * classes,
        "logits do not match the targets"
    );
    let inv = 1.0 / mean_over as f32;
    let mut total = 0.0f64;
    let mut r0 = 0;
    while r0 < rows {
        let w = (rows - r0).min(C);
        let mut m = [f32::NEG_INFINITY; C];
        for o in 0..classes {
            let z = &logits_t[o * rows + r0..o * rows + r0 + w];
            for (mv, &v) in m.iter_mut().zip(z) {
                *mv = mv.max(v);
            }
        }
        let mut s = [0.0f32; C];
        let mut zt = [0.0f32; C];
        for o in 0..classes {
            let z = &mut logits_t[o * rows + r0..o * rows + r0 + w];
            for (l, v) in z.iter_mut().enumerate() {
                if usize::from(targets[r0 + l]) == o {
                    zt[l] = *v - m[l];
                }
                *v = (*v - m[l]).exp();
                s[l] += *v;
            }
        }
        for l in 0..w {
            // -log softmax_t = log(sum_k exp(z_k - m)) - (z_t - m).
            total += f64::from(s[l].ln() - zt[l]);
        }
        for o in 0..classes {
            let z = &mut logits_t[o * rows + r0..o * rows + r0 + w];
            for (l, v) in z.iter_mut().enumerate() {
                *v *= inv / s[l];
                if usize::from(targets[r0 + l]) == o {
                    *v -= inv;
                }
            }
        }
        r0 += w;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_log_softmax() {
        let mut z = vec![1.0f32, 2.0, 0.5, -1.0, 0.0, 3.0];
        let loss = cross_entropy_in_place(&mut z, 3, &[1, 0]);
        let lse = |r: &[f64]| r.iter().map(|v| v.exp()).sum::<f64>().ln();
        let expect = ((lse(&[1.0, 2.0, 0.5]) - 2.0) + (lse(&[-1.0, 0.0, 3.0]) + 1.0)) / 2.0;
        assert!((loss - expect).abs() < 1e-6, "{loss} vs {expect}");
        // Gradient rows sum to zero; the target entry is negative.
        assert!((z[0] + z[1] + z[2]).abs() < 1e-7);
        assert!(z[1] < 0.0 && z[3] < 0.0);
    }

    /// The transposed version gives the same loss and gradient (rows past one block of 16 too).
    #[test]
    fn columns_match_rows() {
        let (rows, classes) = (37, 5);
        let z: Vec<f32> = (0..rows * classes)
            .map(|i| (i as f32 * 0.37).sin() * 3.0)
            .collect();
        let targets: Vec<u8> = (0..rows).map(|r| (r * 7 % classes) as u8).collect();
        let mut by_rows = z.clone();
        let l1 = cross_entropy_in_place(&mut by_rows, classes, &targets);
        let mut cols = vec![0.0f32; z.len()];
        for r in 0..rows {
            for o in 0..classes {
                cols[o * rows + r] = z[r * classes + o];
            }
        }
        let l2 = cross_entropy_columns(&mut cols, classes, &targets, rows) / rows as f64;
        assert!((l1 - l2).abs() < 1e-6, "{l1} vs {l2}");
        for r in 0..rows {
            for o in 0..classes {
                let (a, b) = (by_rows[r * classes + o], cols[o * rows + r]);
                assert!((a - b).abs() < 1e-7, "{r} {o}: {a} vs {b}");
            }
        }
    }
}
