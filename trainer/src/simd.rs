//! Runtime dispatch of hot loops to AVX-512 and AVX2+FMA builds of the same code (x86-64), so the
//! crate needs no `target-cpu` flag. Rust never fuses a multiply and an add by itself: the loops
//! fuse only where they say so (`f32::mul_add`, `_mm512_fmadd_ps`), which rounds once in every
//! build (without FMA hardware `mul_add` is a slower library call with the same bits), and
//! reductions use a fixed order, so every build gives bit-identical results; the wider builds
//! only change the vector width.

/// Whether the CPU has the AVX-512 subset the 512-bit builds use (F, BW, DQ, VL).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && has_avx2_fma()
}

/// Whether the CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Defines `fn $name(...)` whose body is compiled three times, plain, with AVX2+FMA and with
/// AVX-512 enabled, and picks the widest the CPU has at run time.
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn inner($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                    inner($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx($($arg: $ty),*) $(-> $ret)? {
                    inner($($arg),*)
                }
                if $crate::simd::has_avx512() {
                    // SAFETY: the CPU supports every feature enabled on `avx512`.
                    return unsafe { avx512($($arg),*) };
                }
                if $crate::simd::has_avx2_fma() {
                    // SAFETY: the CPU supports every feature enabled on `avx`.
                    return unsafe { avx($($arg),*) };
                }
            }
            inner($($arg),*)
        }
    };
}

pub(crate) use multiversion;
