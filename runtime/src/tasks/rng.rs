//! The seeded random source of the task generator.
//!
//! PCG-32 (`rand_pcg`), with the derived draws (integers below a bound, uniform floats, Gaussians)
//! written here on top of its 32-bit output, using `libm` for the transcendental functions. Every
//! operation is plain integer or IEEE-754 single-precision arithmetic, so the stream of draws is
//! the same on x86-64 and on a Cortex-M4F for the same seed.

use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg32;

/// Mixes a 64-bit value (SplitMix64's finaliser); used to derive independent seeds.
pub const fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derives the seed of sub-stream `index` of purpose `domain` from a user seed.
pub const fn derive_seed(seed: u64, domain: u64, index: u64) -> u64 {
    mix64(mix64(seed ^ mix64(domain)) ^ index)
}

/// A small deterministic random number generator (PCG-32 plus the draws the generator needs).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub struct Rng {
    pcg: Pcg32,
    /// The second Gaussian of the last Box-Muller pair, if not used yet (as raw bits).
    spare: Option<u32>,
}

impl Rng {
    /// A generator seeded from a 64-bit seed.
    pub fn new(seed: u64) -> Self {
        Rng {
            pcg: Pcg32::seed_from_u64(seed),
            spare: None,
        }
    }

    /// The next raw 32-bit output.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        self.pcg.next_u32()
    }

    /// A uniform integer in `0..n` (Lemire's unbiased multiply-and-reject). `n = 0` gives 0.
    #[inline]
    pub fn below(&mut self, n: u32) -> u32 {
        if n <= 1 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u64::from(self.next_u32()) * u64::from(n);
            if (m as u32) >= threshold {
                return (m >> 32) as u32;
            }
        }
    }

    /// A fair coin.
    #[inline]
    pub fn coin(&mut self) -> bool {
        self.next_u32() >> 31 == 1
    }

    /// A uniform float in `[0, 1)` with 24 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    /// A standard normal deviate (Box-Muller, both values of each pair used).
    #[inline]
    pub fn normal(&mut self) -> f32 {
        if let Some(bits) = self.spare.take() {
            return f32::from_bits(bits);
        }
        // u1 in (0, 1] so that ln(u1) is finite.
        let u1 = ((self.next_u32() >> 8) + 1) as f32 * (1.0 / 16_777_216.0);
        let u2 = self.uniform();
        let r = libm::sqrtf(-2.0 * libm::logf(u1));
        let (s, c) = libm::sincosf(core::f32::consts::TAU * u2);
        self.spare = Some((r * s).to_bits());
        r * c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::new(7);
        let mut seen = [0u32; 5];
        for _ in 0..5000 {
            let v = rng.below(5);
            assert!(v < 5);
            seen[v as usize] += 1;
        }
        for &c in &seen {
            assert!((800..1200).contains(&c), "counts {seen:?}");
        }
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut rng = Rng::new(3);
        let n = 200_000;
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for _ in 0..n {
            let x = f64::from(rng.normal());
            s += x;
            s2 += x * x;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "var {var}");
    }

    #[test]
    fn derived_seeds_differ() {
        assert_ne!(derive_seed(1, 0, 0), derive_seed(1, 0, 1));
        assert_ne!(derive_seed(1, 0, 0), derive_seed(2, 0, 0));
        assert_ne!(derive_seed(1, 0, 0), derive_seed(1, 1, 0));
    }
}
