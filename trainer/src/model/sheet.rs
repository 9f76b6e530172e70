//! The sheet of hidden units: unit n of an R x C sheet sits at row n / C, column n % C.
//!
//! Its one home is the runtime's [`gyrus_runtime::sheet`] (positions, the BIMT distance, the
//! wiring sum, `RxC` parsing), so that the trainer, BIMT, analysis, export and the runtime's
//! `measure` agree by construction.

pub use gyrus_runtime::sheet::{Sheet, WiringSum};
