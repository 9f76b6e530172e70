//! The model blob (`.gyrus`): one definition for the trainer's exporter and every runtime.
//! See `docs/format.md`.
//!
//! # Reading (no_std, no alloc)
//! ```text
//! let model = ModelView::from_bytes(BLOB)?;   // validates everything once; never panics
//! model.n_hidden(); model.recurrent(); model.task_names(); ...
//! ```
//! After [`ModelView::from_bytes`] succeeds, every offset and index inside is known to be in range,
//! so [`crate::kernel`] reads without bounds checks. A blob at a 4-aligned address (embed it with a
//! `#[repr(C, align(4))]` wrapper around `include_bytes!`) is read zero-copy: the weight arrays are
//! borrowed as `&[f32]` straight from flash. A misaligned copy opens too, and the kernels then
//! assemble each number with `from_le_bytes` (same results, slower); see
//! [`ModelView::is_zero_copy`].
//!
//! # Writing (feature `std`)
//! Fill a `ModelRepr` and call `ModelRepr::emit` (or `ModelRepr::to_bytes`, which also
//! opens the result); `ModelRepr::from_bytes` reads a blob back into owned form.
//!
//! # Layout (version 6; `docs/format.md`)
//! - bytes 0..4: magic `GYRS`; 4..6: version (u16 LE); 6..8: reserved, zero; 8..12: total blob
//!   length (u32 LE), so that truncation and appended bytes are told apart from corruption.
//! - the body, postcard with serde derives: dimensions, sheet shape and pitch, activation, alpha,
//!   readout, task names (comma-separated, rule-input order), the trainer's wiring length,
//!   active-connection count and seed, then the arrays: sheet positions (u16 row, u16 col per kept
//!   unit, in strictly increasing sheet order), `b_h`, `b_o`, then the f32 weights, the int8
//!   weights, or both, every matrix once, in the layout its kernel reads: f32 recurrent weights
//!   in lane groups (`format::ell`) or diagonals (`format::diag`, local masks), int8 recurrent weights in pair groups (`format::pairs`),
//!   input and output weights dense or in compressed rows (int8: their nonzero `q`, plus one f32
//!   scale per row; a dense input matrix column-major, [`Matrix::ByColumn`]). Compressed rows are derived on demand ([`WeightsView`]). Each array is a
//!   `(pad, data)` pair of byte strings, `data` little-endian and 4-aligned from the blob start.
//! - the last 4 bytes: CRC-32 (IEEE) of everything before them, little-endian.
//!
//! A reader also opens version-5 blobs (the same body, without matrices by column) and version-4
//! ones ([`OLDEST_READ`]: the body without the choice of the f32 recurrent layout, which is lane
//! groups), and refuses any other version with
//! [`FormatError::UnsupportedVersion`] (for older versions its message says how to re-export).

mod arrays;
mod crc;
mod diag;
mod ell;
mod enums;
mod error;
mod le;
mod limits;
mod pairs;
#[cfg(feature = "std")]
mod repr;
mod view;
mod weights;
mod wire;

pub use arrays::{Csr, CsrView, Matrix, MatrixView, QMatrixView};
pub(crate) use arrays::{Net, Rec};
pub use crc::crc32;
pub(crate) use diag::Diag;
pub use diag::{DIAG_LANES, DIAG_PAD};
pub use ell::MAX_KERNEL_HIDDEN;
pub(crate) use ell::{Ell, HEADER, LANES};
pub use enums::{Activation, Readout};
pub use error::{FormatError, Part};
pub(crate) use le::Load;
pub use le::{LeScalar, LeSlice};
pub use limits::Limit;
pub use pairs::MAX_ROW_ABS_Q;
pub(crate) use pairs::{QLANES, STEP_WORDS};
#[cfg(feature = "std")]
pub use repr::{CsrRepr, Int8Repr, MatrixRepr, ModelRepr, RecLayout, Weights};
pub use view::ModelView;
pub use weights::{Int8View, Precision, WeightsView};

/// The first four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"GYRS";
/// The format version this runtime writes and reads (3: every weight matrix stored once, in the
/// layout its kernel reads; f32 weights, int8 weights or both; 4: the int8 recurrent weights as
/// i8, 4 to a word, see `format::pairs`; 5: the f32 recurrent weights in lane groups or in
/// diagonals, the exporter's choice per model, see `format::diag`; 6: a dense input matrix stored
/// by column, [`Matrix::ByColumn`]). Version-4 and version-5 blobs are still read ([`OLDEST_READ`];
/// their dense input matrices are row-major, and a version-4 blob's f32 recurrent weights are in
/// lane groups); older ones are refused with [`FormatError::UnsupportedVersion`], whose message
/// says how to re-export.
pub const VERSION: u16 = 6;
/// The oldest format version this runtime reads (4: the same as 5 without the choice of the f32
/// recurrent layout; 5: the same as 6 without matrices by column). The encoder
/// (`ModelRepr::emit`) always writes [`VERSION`].
pub const OLDEST_READ: u16 = 4;
/// The most fraction bits of the int8 activation format (`Int8::act_frac_bits`).
pub const MAX_ACT_FRAC_BITS: u8 = 24;
/// Length of the fixed header (magic, version, reserved, total length).
pub const HEADER_LEN: usize = 12;
/// Length of the trailing CRC-32.
pub const CRC_LEN: usize = 4;
