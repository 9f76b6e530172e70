//! The hand-written step's hot loops, one idea per file; `workspace.rs` calls them.
//!
//! - [`step`]: element-wise step updates (activation, leak, derivative) and row sums on the
//!   unit-major layout of dense networks.
//! - [`sparse`]: the masked recurrence over compressed rows and columns, fused with the
//!   activation and the weight gradients, and its split by units across threads.
//! - [`skinny`]: products with few rows or columns (readout, its gradient).
//! - [`gemm`]: a checked wrapper over the `gemm` crate, on one or more threads.
//! - [`transpose`]: layout changes between the step's buffers.
//!
//! Runtime dispatch to AVX2 and AVX-512 builds lives in `crate::simd`; each SIMD kernel is written
//! once over the register width.

pub(crate) mod gemm;
pub(crate) mod skinny;
pub(crate) mod sparse;
pub(crate) mod step;
pub(crate) mod transpose;
