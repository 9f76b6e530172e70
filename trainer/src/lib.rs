//! The gyrus trainer as a library; the `gyrus` binary is a thin shell over [`cli`].
//!
//! Folders: `cli/` (one file per subcommand), `model/` (parameters, connectivity families, sheet),
//! `train/` (hand-written BPTT, Adam, the loop, checkpoints), `plot/` (figures), `npz` (NumPy output).
#![deny(missing_docs)]

pub mod analysis;
pub mod cli;
pub mod deploy;
pub mod export;
pub mod model;
pub mod npz;
pub mod plot;
pub mod regularize;
pub mod sweep;
pub mod tasks;
pub mod train;
