//! Recurrent training noise: Gaussian draws from a fast seeded generator (PCG-64 MCG + ziggurat).
//!
//! Drawing 10^5..10^7 normals per step with the task generator's Box-Muller `Rng` would cost more
//! than the network itself at N = 256, so each step takes one 64-bit seed from the caller's
//! [`Rng`] and expands it here. Same seed, same draws.

use gyrus_runtime::tasks::Rng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::rand_core::SeedableRng;
use rand_pcg::Pcg64Mcg;

/// Takes the seed of one step's noise from the caller's generator (two 32-bit draws).
pub fn noise_seed(rng: &mut Rng) -> u64 {
    (u64::from(rng.next_u32()) << 32) | u64::from(rng.next_u32())
}

/// Adds `sigma` * N(0, 1) to every element of `buf`, in order, from `seed`.
pub fn add_noise(seed: u64, sigma: f32, buf: &mut [f32]) {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    for v in buf {
        let z: f32 = StandardNormal.sample(&mut rng);
        *v += sigma * z;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_seeded_and_standard() {
        let mut a = vec![0.0f32; 100_000];
        add_noise(5, 2.0, &mut a);
        let mut b = vec![0.0f32; 100_000];
        add_noise(5, 2.0, &mut b);
        assert_eq!(a, b);
        let mut c = vec![0.0f32; 100_000];
        add_noise(6, 2.0, &mut c);
        assert_ne!(a, c);
        let n = a.len() as f64;
        let mean = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = a
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 4.0).abs() < 0.1, "var {var}");
        let mut r1 = Rng::new(1);
        let mut r2 = Rng::new(1);
        assert_eq!(noise_seed(&mut r1), noise_seed(&mut r2));
        assert_ne!(noise_seed(&mut r1), noise_seed(&mut Rng::new(2)));
    }
}
