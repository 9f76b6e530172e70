//! Softmax cross-entropy over every step, averaged over the T*B (step, trial) pairs.

/// Mean cross-entropy of `logits` ([rows, classes] row-major) against `targets` (one class per
/// row, already checked < classes), and overwrites the logits with dLoss/dlogits
/// = (softmax - onehot) / rows. The mean is over all rows (T*B), every step counts.
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
}
