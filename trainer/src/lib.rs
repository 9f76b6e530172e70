//! The gyrus trainer as a library; the `gyrus` binary is a thin shell over [`cli`].
//!
//! Folders: `cli/` (the subcommands), `model/` (parameters, connectivity families, sheet),
//! `train/` (hand-written BPTT, the loop, checkpoints), `regularize/` (L1, BIMT), `analysis/`
//! (measures of trained networks), `plot/` (figures), `sweep/` (grids, local and Slurm backends),
//! `repro/` (the papers' claims as sweep specs, and their reports),
//! `deploy/` (the many-core mesh simulator); files: `export` (prune, write a blob), `fsio` (atomic
//! file writes), `npz` (NumPy output), `optim` (Adam, gradient clipping), `simd` (runtime dispatch to
//! AVX2/AVX-512 builds), `tasks` (the task batteries as the trainer uses them), `torch`
//! (weights in and out of PyTorch and NumPy).
#![deny(missing_docs)]

pub mod analysis;
pub mod cli;
pub mod deploy;
pub mod export;
pub mod fsio;
pub mod model;
pub mod npz;
pub mod optim;
pub mod plot;
pub mod regularize;
pub mod repro;
mod simd;
pub mod sweep;
pub mod tasks;
pub mod torch;
pub mod train;
