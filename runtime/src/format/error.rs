//! Why a blob was refused: [`FormatError`] and the [`Part`] of the blob it concerns.

use super::Limit;
use core::fmt;

/// A named array (or field) of a model blob, used in error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Part {
    /// Sheet positions of the kept hidden units.
    Positions,
    /// Recurrent weights `W` (hidden x hidden).
    Recurrent,
    /// Input weights `W_in` (hidden x inputs).
    Input,
    /// Output weights `W_out` (outputs x hidden).
    Output,
    /// Hidden bias `b_h`.
    HiddenBias,
    /// Output bias `b_o`.
    OutputBias,
    /// Int8 recurrent weights and their per-row scales.
    Int8Recurrent,
    /// Int8 input weights and their per-row scales.
    Int8Input,
    /// Int8 output weights and their per-row scales.
    Int8Output,
    /// A scalar field of the header (grid pitch, leak alpha, wiring length).
    Scalar,
    /// The recurrent weights in the kernel's lane-grouped layout (see `format::ell`).
    RecurrentKernel,
    /// The int8 recurrent weights in the kernel's lane-grouped layout.
    Int8RecurrentKernel,
}

impl Part {
    /// Human-readable name.
    pub const fn name(self) -> &'static str {
        match self {
            Part::Positions => "sheet positions",
            Part::Recurrent => "recurrent weights",
            Part::Input => "input weights",
            Part::Output => "output weights",
            Part::HiddenBias => "hidden bias",
            Part::OutputBias => "output bias",
            Part::Int8Recurrent => "int8 recurrent weights",
            Part::Int8Input => "int8 input weights",
            Part::Int8Output => "int8 output weights",
            Part::Scalar => "scalar field",
            Part::RecurrentKernel => "recurrent weights (kernel layout)",
            Part::Int8RecurrentKernel => "int8 recurrent weights (kernel layout)",
        }
    }
}

/// Why [`ModelView::from_bytes`](super::ModelView::from_bytes) refused a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FormatError {
    /// Shorter than the fixed header plus checksum.
    TooShort {
        /// Bytes given.
        len: usize,
    },
    /// The first four bytes are not the gyrus magic `GYRS`.
    BadMagic,
    /// A format version this reader does not know.
    UnsupportedVersion {
        /// Version in the blob.
        found: u16,
        /// The version this reader reads.
        supported: u16,
    },
    /// Fewer bytes than the header declares: the blob was cut short.
    Truncated {
        /// Length declared in the header.
        declared: u32,
        /// Bytes given.
        got: usize,
    },
    /// More bytes than the header declares: something was appended.
    TrailingBytes {
        /// Length declared in the header.
        declared: u32,
        /// Bytes given.
        got: usize,
    },
    /// The CRC-32 over everything before it does not match: the blob is corrupted.
    Crc {
        /// Checksum stored in the blob.
        stored: u32,
        /// Checksum of the bytes.
        computed: u32,
    },
    /// The body does not decode (postcard), or leaves bytes unread; the checksum matched, so the
    /// writer was faulty.
    Malformed,
    /// A dimension is zero or too large (hidden units are indexed by u16).
    Dimensions,
    /// The sheet has fewer cells than kept hidden units, or is empty.
    Sheet,
    /// A kept unit lies outside the sheet, or positions are not in strictly increasing sheet order.
    Position {
        /// The unit.
        unit: u32,
    },
    /// An array has the wrong length.
    Length {
        /// Which array.
        part: Part,
        /// Expected length in bytes.
        expected: usize,
        /// Length in the blob, in bytes.
        got: usize,
    },
    /// Compressed-row offsets: not starting at 0, decreasing, or not ending at the value count.
    RowOffsets {
        /// Which matrix.
        part: Part,
        /// The row whose offsets are wrong.
        row: u32,
    },
    /// A column index is out of range, or columns within a row are not strictly increasing.
    ColumnIndex {
        /// Which matrix.
        part: Part,
        /// The row that holds it.
        row: u32,
    },
    /// A float that is not finite (or a negative int8 scale).
    BadValue {
        /// Which array.
        part: Part,
        /// Index of the value.
        index: u32,
    },
    /// Unknown activation code.
    Activation(u8),
    /// Unknown readout code.
    Readout(u8),
    /// Leak alpha outside (0, 1].
    Alpha,
    /// Grid pitch not finite and positive.
    Pitch,
    /// A task name that does not parse (or a malformed task list).
    TaskName {
        /// Position in the task list.
        index: u32,
    },
    /// An int8 recurrent row whose `sum |q|` exceeds
    /// [`MAX_ROW_ABS_Q`](super::MAX_ROW_ABS_Q): its i32 sum could overflow.
    Int8RowRange {
        /// The row.
        row: u32,
    },
    /// The int8 activation format has more fraction bits than
    /// [`MAX_ACT_FRAC_BITS`](super::MAX_ACT_FRAC_BITS).
    ActivationFormat(u8),
    /// The blob carries neither f32 nor int8 weights.
    NoWeights,
    /// A matrix stored column-major where the format does not allow it (only the input
    /// matrices, and only from version 6 on).
    ByColumn {
        /// Which matrix.
        part: Part,
    },
    /// A size above one of the runtime's limits ([`Limit`]).
    Limit {
        /// Which limit.
        limit: Limit,
        /// The value in the blob (or the model being exported).
        value: u64,
    },
    /// The task list does not fit the network: `n` tasks need `33 + n` inputs (fixation, two
    /// rings of 16, one rule input per task) and 17 outputs (`docs/tasks.md`). A blob without
    /// tasks may have any sizes. Checked when the runtime is built with its task generator
    /// (feature `tasks`, on by default).
    TaskShape {
        /// Tasks in the list.
        tasks: u32,
        /// Inputs of the network.
        inputs: u32,
        /// Outputs of the network.
        outputs: u32,
        /// Inputs the task list needs.
        needed_inputs: u32,
        /// Outputs the task list needs.
        needed_outputs: u32,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FormatError::*;
        match *self {
            TooShort { len } => write!(f, "model blob of {len} bytes is too short"),
            BadMagic => f.write_str("not a gyrus model blob (bad magic)"),
            UnsupportedVersion { found, supported } if found < supported => write!(
                f,
                "model format version {found} is older than this runtime's version {supported}: re-export the run with this gyrus (`gyrus export RUN_DIR --out model.gyrus [--weights f32|int8|both]`)"
            ),
            UnsupportedVersion { found, supported } => write!(
                f,
                "model format version {found} is not supported (this runtime reads version {supported}); use the gyrus that wrote it"
            ),
            Truncated { declared, got } => {
                write!(f, "model blob truncated: {got} bytes, header declares {declared}")
            }
            TrailingBytes { declared, got } => {
                write!(f, "model blob has trailing bytes: {got} bytes, header declares {declared}")
            }
            Crc { stored, computed } => write!(
                f,
                "model blob corrupted: CRC-32 {computed:#010x} does not match stored {stored:#010x}"
            ),
            Malformed => f.write_str("model blob body does not decode"),
            Dimensions => f.write_str("model dimensions are zero or too large"),
            Sheet => f.write_str("sheet has fewer cells than hidden units"),
            Position { unit } => write!(
                f,
                "hidden unit {unit} lies outside the sheet or out of sheet order"
            ),
            Length {
                part,
                expected,
                got,
            } => write!(
                f,
                "{} have {got} bytes, {expected} expected",
                part.name()
            ),
            RowOffsets { part, row } => write!(f, "{}: bad row offsets at row {row}", part.name()),
            ColumnIndex { part, row } => write!(
                f,
                "{}: column index out of range or unsorted in row {row}",
                part.name()
            ),
            BadValue { part, index } => {
                write!(f, "{}: value {index} is not finite (or a negative scale)", part.name())
            }
            Activation(c) => write!(f, "unknown activation code {c}"),
            Readout(c) => write!(f, "unknown readout code {c}"),
            Alpha => f.write_str("leak alpha outside (0, 1]"),
            Pitch => f.write_str("grid pitch must be finite and positive"),
            TaskName { index } => write!(f, "task name {index} does not parse"),
            Int8RowRange { row } => write!(
                f,
                "int8 recurrent row {row}: sum of |q| above {} (the i32 sum could overflow)",
                super::MAX_ROW_ABS_Q
            ),
            ActivationFormat(b) => write!(
                f,
                "int8 activation format with {b} fraction bits (at most {})",
                super::MAX_ACT_FRAC_BITS
            ),
            NoWeights => f.write_str("model blob has neither f32 nor int8 weights"),
            ByColumn { part } => write!(
                f,
                "{}: stored by column, which only the input matrices of format version 6 may be",
                part.name()
            ),
            Limit { limit, value } => write!(
                f,
                "{}: {value}, above the runtime's limit {} = {}",
                limit.what(),
                limit.name(),
                limit.max()
            ),
            TaskShape {
                tasks,
                inputs,
                outputs,
                needed_inputs,
                needed_outputs,
            } => write!(
                f,
                "the task list does not fit the network: {tasks} tasks need {needed_inputs} inputs and {needed_outputs} outputs, the network has {inputs} and {outputs}"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FormatError {}
