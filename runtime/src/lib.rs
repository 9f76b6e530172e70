//! gyrus runtime: everything that must run the same on a PC and on a microcontroller.
//!
//! `no_std` and allocation-free. Modules:
//! - [`tasks`] (feature `tasks`): the Yang et al. 2019 cognitive tasks and the Mod-Cog battery,
//!   generated from a seed into caller-provided buffers, so that host and board see the same trials.
//! - [`format`](mod@format): the model blob: [`format::ModelView`] (validated, zero-copy reader) and, with
//!   feature `std`, `format::ModelRepr` (owned, `emit`).
//! - [`kernel`]: one step of an exported network (sparse f32, int8, dense baseline) over a
//!   caller-owned [`kernel::State`].
//! - [`measure`]: wiring length, active connections and memory footprint recomputed from a blob.
//! - [`sheet`]: the sheet of hidden units: positions, the BIMT distance, the wiring sum, `RxC`.
//! - [`aligned`]: blobs at 4-aligned addresses (embedded, or copied on the heap), read
//!   zero-copy.
//! - `eval` (feature `tasks`): task performance of a blob on seeded evaluation trials.
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![deny(missing_docs)]

pub mod aligned;
#[cfg(feature = "tasks")]
pub mod tasks;

#[cfg(feature = "tasks")]
pub mod eval;
pub mod format;
pub mod kernel;
pub mod measure;
pub mod sheet;
