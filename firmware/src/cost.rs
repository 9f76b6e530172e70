//! Deterministic cost in instructions from SysTick.
//!
//! Under QEMU with `-icount shift=0` virtual time advances one nanosecond per guest instruction, so
//! SysTick (core clock) counts instructions at a fixed rate (40 per tick on mps2-an386). The rate
//! is calibrated at boot with a loop of known length, so the figures hold on other machines and
//! shifts. DWT CYCCNT is not modelled by QEMU. On real hardware the same code measures cycles.

use cortex_m::peripheral::{syst::SystClkSource, SYST};

/// Largest SysTick reload value (24-bit counter).
const RELOAD: u32 = 0x00FF_FFFF;

/// Iterations of the calibration loop (two instructions each).
const CAL_ITERS: u32 = 100_000;

/// A free-running SysTick and its calibrated rate.
pub struct Meter {
    /// Owned so that nothing else reconfigures the counter.
    _syst: SYST,
    /// Guest instructions per tick, as measured by [`Meter::new`].
    instr_per_tick: f32,
    cal_ticks: u32,
}

impl Meter {
    /// Starts SysTick from the core clock and calibrates it.
    pub fn new(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_counter();
        let mut m = Meter {
            _syst: syst,
            instr_per_tick: 1.0,
            cal_ticks: 0,
        };
        let t0 = m.now();
        spin(CAL_ITERS);
        let ticks = m.since(t0).max(1);
        m.cal_ticks = ticks;
        m.instr_per_tick = (2 * CAL_ITERS) as f32 / ticks as f32;
        m
    }

    /// Calibration: (loop instructions, ticks they took).
    pub fn calibration(&self) -> (u32, u32) {
        (2 * CAL_ITERS, self.cal_ticks)
    }

    /// The current counter value (counts down).
    #[inline(always)]
    pub fn now(&self) -> u32 {
        SYST::get_current()
    }

    /// Ticks elapsed since `start` (one wrap at most: about 671 M instructions on mps2).
    #[inline(always)]
    pub fn since(&self, start: u32) -> u32 {
        start.wrapping_sub(SYST::get_current()) & RELOAD
    }

    /// Instructions for `ticks` ticks spent on `reps` repetitions, per repetition.
    pub fn per_rep(&self, ticks: u32, reps: u32) -> f32 {
        ticks as f32 * self.instr_per_tick / reps.max(1) as f32
    }

    /// How many repetitions of a block that took `ticks_once` fit within half a counter wrap,
    /// capped at `max`.
    pub fn reps_within_wrap(&self, ticks_once: u32, max: u32) -> u32 {
        (RELOAD / 2 / ticks_once.max(1)).clamp(1, max.max(1))
    }

    /// Runs `f` `reps` times and returns the ticks it took (all repetitions); keep the total below
    /// one counter wrap (see [`Meter::reps_within_wrap`]).
    pub fn measure(&self, reps: u32, mut f: impl FnMut()) -> u32 {
        let t0 = self.now();
        for _ in 0..reps {
            f();
        }
        self.since(t0)
    }
}

/// Exactly `2 * n` instructions (`subs`, `bne`) plus a few around the loop.
#[inline(never)]
fn spin(n: u32) {
    // SAFETY: a register-only countdown loop; touches no memory and no stack.
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {0}, #1",
            "bne 2b",
            inout(reg) n => _,
            options(nomem, nostack),
        );
    }
}
