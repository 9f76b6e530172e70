//! Runtime dispatch of hot loops to an AVX2+FMA build of the same code (x86-64), so the crate
//! needs no `target-cpu` flag. The loops contain no explicit FMA and reductions use a fixed order,
//! so both builds give bit-identical results.

/// Defines `fn $name(...)` whose body is compiled twice, plain and with AVX2+FMA enabled, and
/// picks the second at run time when the CPU has it.
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn inner($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx($($arg: $ty),*) $(-> $ret)? {
                    inner($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports every feature enabled on `avx`.
                    return unsafe { avx($($arg),*) };
                }
            }
            inner($($arg),*)
        }
    };
}

pub(crate) use multiversion;
