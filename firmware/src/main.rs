//! gyrus firmware for Cortex-M4F boards, run under QEMU (mps2-an386) by `cargo run --release`.
//!
//! It logs, through defmt over semihosting, machine-readable lines that the host test
//! `tests/tests/firmware_parity.rs` compares with the runtime on the host:
//! - `PARITY tasks ...`: a digest of the evaluation trials of every task of every collection;
//! - `PARITY measure|score|out ...`: the embedded model's measures, per-task scores and a digest of
//!   its outputs, for the f32 and the int8 kernels.
//!
//! Plus `CAL` (SysTick calibration), `MODEL`, `PERF`, `COST` (instructions per step, per nonzero
//! recurrent weight) and `FOOTPRINT` lines for people.
//!
//! It exits QEMU with status 0 on success and 1 on any error, panic or fault.
#![no_std]
#![no_main]

mod blob;
mod cost;
mod digest;
mod footprint;
mod model_report;
mod output_digest;
mod trial_digest;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::debug;
#[cfg(all(feature = "qemu", feature = "rtt"))]
compile_error!(
    "choose one log transport: feature `qemu` (default) or `rtt` (--no-default-features)"
);
#[cfg(not(any(feature = "qemu", feature = "rtt")))]
compile_error!("no log transport: enable feature `qemu` (default) or `rtt`");
#[cfg(feature = "rtt")]
use defmt_rtt as _;
#[cfg(feature = "qemu")]
use defmt_semihosting as _;
use gyrus_runtime::tasks::{Collection, Config, TaskList};
use panic_probe as _;

#[entry]
fn main() -> ! {
    footprint::paint_stack();
    let ok = run();
    defmt::info!("STACK peak={=usize}", footprint::peak_stack_bytes());
    defmt::info!("DONE ok={=bool}", ok);
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::nop();
    }
}

fn run() -> bool {
    let Some(cp) = cortex_m::Peripherals::take() else {
        defmt::error!("core peripherals already taken");
        return false;
    };
    let meter = cost::Meter::new(cp.SYST);
    let (instr, ticks) = meter.calibration();
    defmt::info!("CAL instr={=u32} ticks={=u32}", instr, ticks);
    let tasks_ok = task_parity(&meter);
    let model_ok = model_report::run(&meter);
    tasks_ok && model_ok
}

/// Logs `PARITY tasks coll=<name> rule=<i> trials=<k> steps=<n> fnv=<u32>` for every task.
fn task_parity(meter: &cost::Meter) -> bool {
    let cfg = Config::default();
    let mut ok = true;
    for coll in Collection::ALL {
        let list = TaskList::Collection(coll);
        let (mut total_steps, mut ticks) = (0u32, 0u32);
        for rule in 0..list.len() {
            let t0 = meter.now();
            let digest = trial_digest::trials_digest(
                &list,
                rule,
                trial_digest::SEED,
                trial_digest::TRIALS,
                &cfg,
            );
            ticks += meter.since(t0);
            match digest {
                Ok((fnv, steps)) => {
                    total_steps += steps;
                    defmt::info!(
                        "PARITY tasks coll={=str} rule={=usize} trials={=u64} steps={=u32} fnv={=u32}",
                        coll.name(),
                        rule,
                        trial_digest::TRIALS,
                        steps,
                        fnv
                    );
                }
                Err(e) => {
                    defmt::error!(
                        "task generator failed: coll={=str} rule={=usize}: {}",
                        coll.name(),
                        rule,
                        e
                    );
                    ok = false;
                }
            }
        }
        defmt::info!(
            "GEN coll={=str} steps={=u32} instr_per_step={=f32}",
            coll.name(),
            total_steps,
            meter.per_rep(ticks, total_steps)
        );
    }
    ok
}

/// panic-probe ends in `udf`, which lands here: leave QEMU with a failure status instead of
/// spinning forever (cortex-m-rt's default handler loops).
#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::nop();
    }
}
