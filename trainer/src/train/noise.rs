//! Recurrent training noise: Gaussian draws from a counter-based generator, vectorised.
//!
//! One step at N = 625, T = 100, B = 64 needs 4 * 10^6 normals; a sequential generator with the
//! ziggurat cost more than the sparse recurrence itself. Here the k-th pair of draws is a pure
//! function of (seed, k): three rounds of a 32-bit integer mixer (one of the counter, then one per
//! uniform with its own key) give two uniforms, and Box-Muller turns them into two independent
//! N(0, 1) values (radius from a polynomial log, angle from the top three bits as the octant plus
//! polynomial sine and cosine on [0, pi/4)). Every lane computes the same integer and f32
//! operations, with fused multiply-adds through `f32::mul_add` (correctly rounded on every path:
//! one instruction in the AVX2 and AVX-512 builds, a library call in the plain one), so all builds
//! give bit-identical draws. Each step takes one 64-bit seed from the caller's [`Rng`]. Same
//! seed, same draws.

use crate::simd::multiversion;
use gyrus_runtime::tasks::Rng;

/// Takes the seed of one step's noise from the caller's generator (two 32-bit draws).
pub fn noise_seed(rng: &mut Rng) -> u64 {
    (u64::from(rng.next_u32()) << 32) | u64::from(rng.next_u32())
}

/// Pairs of draws computed together (the vector width the loop is written for).
const LANES: usize = 16;

/// A 32-bit bijective integer mixer (the "lowbias32" constants of Chris Wellons' hash prospector).
#[inline(always)]
fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// ln(x) for x in (0, 1] (Cephes `logf`: mantissa in [sqrt(1/2), sqrt(2)), degree-9 polynomial;
/// relative error ~1e-7).
#[inline(always)]
fn ln_unit(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    // Mantissa in [0.5, 1).
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let small = m < std::f32::consts::FRAC_1_SQRT_2;
    e -= i32::from(small);
    m = if small { m + m - 1.0 } else { m - 1.0 };
    let z = m * m;
    let mut p = 7.037_683_6e-2f32;
    p = p.mul_add(m, -1.151_461e-1);
    p = p.mul_add(m, 1.167_699_9e-1);
    p = p.mul_add(m, -1.242_014_1e-1);
    p = p.mul_add(m, 1.424_932_3e-1);
    p = p.mul_add(m, -1.666_805_8e-1);
    p = p.mul_add(m, 2.000_071_4e-1);
    p = p.mul_add(m, -2.499_999_4e-1);
    p = p.mul_add(m, 3.333_333e-1);
    let ef = e as f32;
    let mut y = (m * z).mul_add(p, -2.121_944_4e-4 * ef);
    y = z.mul_add(-0.5, y);
    ef.mul_add(0.693_359_4, m + y)
}

/// (sin, cos) of x in [0, pi/4] (the Cephes single-precision polynomials, error ~1e-7).
#[inline(always)]
fn sincos_octant(x: f32) -> (f32, f32) {
    let z = x * x;
    let mut s = -1.951_529_6e-4f32;
    s = s.mul_add(z, 8.332_161e-3);
    s = s.mul_add(z, -1.666_665_5e-1);
    let mut c = 2.443_315_7e-5f32;
    c = c.mul_add(z, -1.388_731_6e-3);
    c = c.mul_add(z, 4.166_664_6e-2);
    (
        (x * z).mul_add(s, x),
        (z * z).mul_add(c, z.mul_add(-0.5, 1.0)),
    )
}

/// The two normals of pair `k` (k < 2^32 within one key block).
#[inline(always)]
fn pair(k0: u32, k1: u32, k: u32) -> (f32, f32) {
    // One mix of the counter, then one per uniform with its own key.
    let x = mix32(k ^ k0);
    let h1 = mix32(x ^ k1);
    let h2 = mix32(x ^ k1.rotate_left(16) ^ 0x2545_f491);
    // u1 in (0, 1): 24 bits, offset by half a step so ln(u1) is finite (|z| < 5.9).
    let u1 = (h1 >> 8) as f32 * (1.0 / 16_777_216.0) + 1.0 / 33_554_432.0;
    let r = (-2.0 * ln_unit(u1)).sqrt();
    // Angle 2 pi u2: the top two bits pick the quadrant, the next bit the half of it
    // (theta or pi/2 - theta), 21 more give theta in [0, pi/4).
    let quadrant = h2 >> 30;
    let half = (h2 >> 29) & 1;
    let theta = ((h2 >> 8) & 0x001f_ffff) as f32 * (std::f32::consts::FRAC_PI_4 / 2_097_152.0);
    let (s, c) = sincos_octant(theta);
    // Rotate (cos, sin) by the quadrant and the half, branch-free: the upper half of a quadrant
    // and the odd quadrants each swap the two; the cosine is negative in quadrants 1 and 2, the
    // sine in 2 and 3.
    let swap = (quadrant ^ half) & 1 == 1;
    let (bc, bs) = if swap { (s, c) } else { (c, s) };
    let cos_a = f32::from_bits(bc.to_bits() ^ (((quadrant ^ (quadrant >> 1)) & 1) << 31));
    let sin_a = f32::from_bits(bs.to_bits() ^ ((quadrant >> 1) << 31));
    (r * cos_a, r * sin_a)
}

/// The draw [`add_range`] puts at position `x` of a key block whose whole 2 * LANES chunks end
/// at `full`.
#[inline(always)]
fn draw_at(k0: u32, k1: u32, full: usize, x: usize) -> f32 {
    let (p, second) = if x < full {
        let r = x % (2 * LANES);
        (x / (2 * LANES) * LANES + r % LANES, r >= LANES)
    } else {
        let q = x - full;
        (full / 2 + q / 2, q % 2 == 1)
    };
    let (a, b) = pair(k0, k1, p as u32);
    if second {
        b
    } else {
        a
    }
}

multiversion! {
    /// [`range_body`] for one range.
    fn add_range(k0: u32, k1: u32, sigma: f32, len: usize, start: usize, out: &mut [f32]) {
        range_body(k0, k1, sigma, len, start, out);
    }
}

/// Adds sigma z to `out` = positions `start..` of one key block of `len` values: chunk c of
/// 2 * LANES values takes z0 of pairs c * LANES + l (l < LANES), then z1 of the same pairs; the
/// tail after the last whole chunk takes pairs in order, z0 then z1.
#[inline(always)]
fn range_body(k0: u32, k1: u32, sigma: f32, len: usize, start: usize, out: &mut [f32]) {
    let full = len / (2 * LANES) * (2 * LANES);
    let end = start + out.len();
    // Whole chunks inside the range go through the vector loop, the rest one by one.
    let c0 = start.div_ceil(2 * LANES) * (2 * LANES);
    let c1 = (end.min(full) / (2 * LANES) * (2 * LANES)).max(c0);
    for x in start..c0.min(end) {
        out[x - start] = sigma.mul_add(draw_at(k0, k1, full, x), out[x - start]);
    }
    if c0 < end {
        let mut k = (c0 / 2) as u32;
        // Two chunks per iteration (independent work for the out-of-order core), then one.
        let mut pairs = out[c0 - start..c1 - start].chunks_exact_mut(4 * LANES);
        for two in &mut pairs {
            let mut z0 = [0.0f32; 2 * LANES];
            let mut z1 = [0.0f32; 2 * LANES];
            for l in 0..2 * LANES {
                let (a, b) = pair(k0, k1, k.wrapping_add(l as u32));
                z0[l] = a;
                z1[l] = b;
            }
            for (c, chunk) in two.chunks_exact_mut(2 * LANES).enumerate() {
                let (h0, h1) = chunk.split_at_mut(LANES);
                for (v, &zv) in h0.iter_mut().zip(&z0[c * LANES..(c + 1) * LANES]) {
                    *v = sigma.mul_add(zv, *v);
                }
                for (v, &zv) in h1.iter_mut().zip(&z1[c * LANES..(c + 1) * LANES]) {
                    *v = sigma.mul_add(zv, *v);
                }
            }
            k = k.wrapping_add(2 * LANES as u32);
        }
        for chunk in pairs.into_remainder().chunks_exact_mut(2 * LANES) {
            // The chunk holds z0 of its LANES pairs, then their z1.
            let mut z0 = [0.0f32; LANES];
            let mut z1 = [0.0f32; LANES];
            for l in 0..LANES {
                let (a, b) = pair(k0, k1, k.wrapping_add(l as u32));
                z0[l] = a;
                z1[l] = b;
            }
            let (h0, h1) = chunk.split_at_mut(LANES);
            for (v, &zv) in h0.iter_mut().zip(&z0) {
                *v = sigma.mul_add(zv, *v);
            }
            for (v, &zv) in h1.iter_mut().zip(&z1) {
                *v = sigma.mul_add(zv, *v);
            }
            k = k.wrapping_add(LANES as u32);
        }
        for x in c1..end {
            out[x - start] = sigma.mul_add(draw_at(k0, k1, full, x), out[x - start]);
        }
    }
}

multiversion! {
    /// What [`add_range`] adds to two whole chunks of 2 * LANES values at positions `at` (multiples
    /// of 2 * LANES before the key block's last whole chunk): `a` at `at[0]`, `b` at `at[1]`.
    fn add_chunk_pair(k0: u32, k1: u32, sigma: f32, at: [usize; 2], a: &mut [f32], b: &mut [f32]) {
        let ks: [u32; 2 * LANES] = std::array::from_fn(|l| {
            ((at[l / LANES] / 2) as u32).wrapping_add((l % LANES) as u32)
        });
        let mut z0 = [0.0f32; 2 * LANES];
        let mut z1 = [0.0f32; 2 * LANES];
        for l in 0..2 * LANES {
            let (x, y) = pair(k0, k1, ks[l]);
            z0[l] = x;
            z1[l] = y;
        }
        for (c, chunk) in [a, b].into_iter().enumerate() {
            // The chunk holds z0 of its LANES pairs, then their z1.
            let (h0, h1) = chunk.split_at_mut(LANES);
            for (v, &zv) in h0.iter_mut().zip(&z0[c * LANES..(c + 1) * LANES]) {
                *v = sigma.mul_add(zv, *v);
            }
            for (v, &zv) in h1.iter_mut().zip(&z1[c * LANES..(c + 1) * LANES]) {
                *v = sigma.mul_add(zv, *v);
            }
        }
    }
}

/// Pairs per key block: 2^32 (2^33 values), each block with its own keys.
const BLOCK: usize = 1 << 33;

fn keys(seed: u64, blk: usize) -> (u32, u32) {
    let s = seed ^ (blk as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let k0 = mix32(s as u32 ^ 0x85eb_ca6b);
    let k1 = mix32((s >> 32) as u32 ^ mix32(k0));
    (k0, k1)
}

/// Adds `sigma` * N(0, 1) to every element of `buf`: the same `seed` and length give the same
/// draws (and a prefix of whole 32-value chunks gets the same draws as the longer buffer).
pub fn add_noise(seed: u64, sigma: f32, buf: &mut [f32]) {
    add_noise_range(seed, sigma, buf.len(), 0, buf);
}

/// [`add_noise_range`] for the runs of `out` (`run` values each) at positions
/// `first + r * stride` (r = 0, 1, ...) of a buffer of `total` values, e.g. one step's block
/// [N, B] of an [N, T*B] noise buffer.
pub fn add_noise_runs(
    seed: u64,
    sigma: f32,
    total: usize,
    first: usize,
    stride: usize,
    run: usize,
    out: &mut [f32],
) {
    if out.is_empty() {
        return;
    }
    assert!(
        run > 0 && stride >= run,
        "noise runs of {run} every {stride}"
    );
    let count = out.len().div_ceil(run);
    let end = first + (count - 1) * stride + (out.len() - (count - 1) * run);
    assert!(end <= total, "noise runs past the buffer of {total}");
    if (end - 1) / BLOCK == first / BLOCK {
        let blk = first / BLOCK;
        let (k0, k1) = keys(seed, blk);
        let from = blk * BLOCK;
        let len = (total - from).min(BLOCK);
        let full = len / (2 * LANES) * (2 * LANES);
        let start = first - from;
        let mut done = 0;
        if run == 2 * LANES
            && start.is_multiple_of(2 * LANES)
            && stride.is_multiple_of(2 * LANES)
            && end - from <= full
        {
            // Runs of one whole chunk each (a chunk of 32 streams): two per call, for the
            // independent work a run of 64 gives the single-range loop.
            for (p, two) in out.chunks_exact_mut(2 * run).enumerate() {
                let (a, b) = two.split_at_mut(run);
                let at = start + 2 * p * stride;
                add_chunk_pair(k0, k1, sigma, [at, at + stride], a, b);
                done += 2;
            }
        }
        // One range per run (a loop over runs inside one vector function compiles to slower
        // code than the single-range function, measured).
        for (r, part) in out.chunks_mut(run).enumerate().skip(done) {
            add_range(k0, k1, sigma, len, start + r * stride, part);
        }
    } else {
        for (r, part) in out.chunks_mut(run).enumerate() {
            add_noise_range(seed, sigma, total, first + r * stride, part);
        }
    }
}

/// Adds to `out` exactly what [`add_noise`] adds to positions `start..start + out.len()` of a
/// buffer of `total` values (so the noise of any run can be drawn where it is used).
pub fn add_noise_range(seed: u64, sigma: f32, total: usize, start: usize, out: &mut [f32]) {
    assert!(
        start + out.len() <= total,
        "noise range {start}..{} past the buffer of {total}",
        start + out.len()
    );
    let mut x = start;
    let mut rest = out;
    while !rest.is_empty() {
        let blk = x / BLOCK;
        let from = blk * BLOCK;
        let len = (total - from).min(BLOCK);
        let here = (from + len - x).min(rest.len());
        let (head, tail) = rest.split_at_mut(here);
        let (k0, k1) = keys(seed, blk);
        add_range(k0, k1, sigma, len, x - from, head);
        x += here;
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |err| < 1.5e-7).
    fn phi(x: f64) -> f64 {
        let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / 2f64.sqrt());
        let poly = t
            * (0.254_829_592
                + t * (-0.284_496_736
                    + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
        let erf = 1.0 - poly * (-x * x / 2.0).exp();
        0.5 * (1.0 + erf.copysign(x))
    }

    /// Any range or set of strided runs of the stream, aligned or not, gets the draws of the
    /// whole buffer there.
    #[test]
    fn ranges_match_the_whole_buffer() {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let total = 5 * 2 * LANES + 7;
        let mut whole = vec![0.0f32; total];
        add_noise(9, 1.5, &mut whole);
        for (start, len) in [
            (0, total),
            (3, 40),
            (32, 64),
            (31, 2),
            (150, 17),
            (160, 7),
            (0, 0),
        ] {
            let mut part = vec![0.0f32; len];
            add_noise_range(9, 1.5, total, start, &mut part);
            if len > 0 {
                // The same range as one run.
                let mut one = vec![0.0f32; len];
                add_noise_runs(9, 1.5, total, start, len, len, &mut one);
                assert_eq!(one, part);
            }
            assert_eq!(
                bits(&part),
                bits(&whole[start..start + len]),
                "{start}+{len}"
            );
        }
        for (first, stride, run, count) in [
            (0, 40, 32, 4),
            (8, 41, 9, 4),
            (20, 35, 33, 4),
            // Aligned runs of one whole chunk, two at a time (and an odd one out).
            (32, 64, 32, 2),
            (0, 32, 32, 5),
        ] {
            let mut part = vec![0.0f32; run * count];
            add_noise_runs(9, 1.5, total, first, stride, run, &mut part);
            for (r, got) in part.chunks(run).enumerate() {
                let at = first + r * stride;
                assert_eq!(bits(got), bits(&whole[at..at + run]), "run {r} at {at}");
            }
        }
    }

    /// The plain build (no vector features, `mul_add` as a library call) gives the draws of the
    /// dispatched one bit for bit.
    #[test]
    fn plain_build_gives_the_same_bits() {
        let (k0, k1) = keys(77, 0);
        let len = 7 * 2 * LANES + 5;
        let mut fast = vec![0.25f32; len];
        add_range(k0, k1, 0.3, len, 0, &mut fast);
        let mut plain = vec![0.25f32; len];
        range_body(k0, k1, 0.3, len, 0, &mut plain);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fast), bits(&plain));
    }

    #[test]
    fn noise_is_seeded_and_standard() {
        let mut a = vec![0.0f32; 100_001];
        add_noise(5, 2.0, &mut a);
        let mut b = vec![0.0f32; 100_001];
        add_noise(5, 2.0, &mut b);
        assert_eq!(a, b);
        let mut c = vec![0.0f32; 100_001];
        add_noise(6, 2.0, &mut c);
        assert_ne!(a, c);
        // Neighbouring seeds do not give shifted or permuted copies.
        let same = a.iter().zip(&c).filter(|(x, y)| x == y).count();
        assert!(same < 10, "{same} equal draws for seeds 5 and 6");
        // A prefix of whole chunks gets the same draws as the whole buffer.
        let mut p = vec![0.0f32; 24 * 2 * LANES + 9];
        add_noise(5, 2.0, &mut p);
        assert_eq!(p[..24 * 2 * LANES], a[..24 * 2 * LANES]);
        // Adds to what is there.
        let mut d = vec![1.0f32; 100_001];
        add_noise(5, 2.0, &mut d);
        assert!(d.iter().zip(&a).all(|(x, y)| *x == 1.0 + y));
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

    /// The draws follow N(0, 1): Kolmogorov-Smirnov distance to the normal CDF, tail mass,
    /// kurtosis, and no correlation between the two draws of a pair or between neighbours.
    #[test]
    fn noise_is_gaussian_and_uncorrelated() {
        let mut z = vec![0.0f32; 400_000];
        add_noise(0x1234_5678_9abc, 1.0, &mut z);
        let n = z.len() as f64;
        let mut s: Vec<f64> = z.iter().map(|&v| f64::from(v)).collect();
        let m4 = s.iter().map(|v| v.powi(4)).sum::<f64>() / n;
        assert!((m4 - 3.0).abs() < 0.06, "fourth moment {m4}");
        let beyond3 = s.iter().filter(|v| v.abs() > 3.0).count() as f64 / n;
        assert!((beyond3 - 0.0027).abs() < 0.0006, "P(|z| > 3) = {beyond3}");
        let lag = |d: usize, stride: usize| {
            let mut acc = 0.0f64;
            let mut cnt = 0.0f64;
            let mut i = 0;
            while i + d < s.len() {
                acc += s[i] * s[i + d];
                cnt += 1.0;
                i += stride;
            }
            acc / cnt
        };
        for (d, stride) in [(1, 2), (1, 1), (2, 1), (32, 1)] {
            let c = lag(d, stride);
            assert!(
                c.abs() < 0.01,
                "correlation at lag {d} (stride {stride}): {c}"
            );
        }
        s.sort_by(f64::total_cmp);
        let ks = s
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let f = phi(v);
                (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
            })
            .fold(0.0f64, f64::max);
        // Critical value at 1e-3 significance: 1.95 / sqrt(n) = 0.0031.
        assert!(ks < 0.0031, "Kolmogorov-Smirnov distance {ks}");
    }

    #[test]
    fn polynomials_match_libm() {
        for i in 1..=10_000 {
            let x = i as f32 / 10_000.0;
            let (l, r) = (ln_unit(x), x.ln());
            assert!(
                (l - r).abs() <= 2e-7 * r.abs().max(1.0),
                "ln {x}: {l} vs {r}"
            );
            let t = x * std::f32::consts::FRAC_PI_4;
            let (s, c) = sincos_octant(t);
            assert!(
                (s - t.sin()).abs() < 3e-7 && (c - t.cos()).abs() < 3e-7,
                "{t}"
            );
        }
        assert!((ln_unit(1.0 / 33_554_432.0) - (1.0f32 / 33_554_432.0).ln()).abs() < 1e-5);
    }
}
