//! [`Limit`]: every size limit the runtime enforces on a blob, in one list. The reader refuses a
//! blob over one with [`FormatError::Limit`]; the exporter checks the same list before it writes
//! anything (`ModelRepr::check_limits`), so that no blob is written that the runtime cannot open.

use super::error::FormatError;
use super::{MAX_ACT_FRAC_BITS, MAX_KERNEL_HIDDEN, MAX_ROW_ABS_Q};

/// A size limit of the format and its kernels (`docs/format.md`, "Limits").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Limit {
    /// Inputs per step: at most 65,535 (indexed by u16).
    Inputs,
    /// Hidden units kept: at most [`MAX_KERNEL_HIDDEN`] = 16,384 (the f32 kernel stores byte
    /// offsets `4 * column` in u16).
    Hidden,
    /// Outputs: at most 65,535 (indexed by u16).
    Outputs,
    /// `sum |q|` of one int8 recurrent row: at most [`MAX_ROW_ABS_Q`] = 65,535 (the exact i32
    /// sum of `q * hq`, `|hq| <= 32768`, must not overflow).
    Int8RowAbsQ,
    /// Fraction bits of the int8 activation format: at most [`MAX_ACT_FRAC_BITS`] = 24.
    ActFracBits,
    /// Bytes of the whole blob: at most `u32::MAX` (the header stores the length in a u32).
    BlobBytes,
}

impl Limit {
    /// Every limit.
    pub const ALL: [Limit; 6] = [
        Limit::Inputs,
        Limit::Hidden,
        Limit::Outputs,
        Limit::Int8RowAbsQ,
        Limit::ActFracBits,
        Limit::BlobBytes,
    ];

    /// The largest value allowed.
    pub const fn max(self) -> u64 {
        match self {
            Limit::Inputs | Limit::Outputs => u16::MAX as u64,
            Limit::Hidden => MAX_KERNEL_HIDDEN as u64,
            Limit::Int8RowAbsQ => MAX_ROW_ABS_Q as u64,
            Limit::ActFracBits => MAX_ACT_FRAC_BITS as u64,
            Limit::BlobBytes => u32::MAX as u64,
        }
    }

    /// The name of the limit in the runtime's code.
    pub const fn name(self) -> &'static str {
        match self {
            Limit::Inputs => "u16::MAX (inputs)",
            Limit::Hidden => "MAX_KERNEL_HIDDEN",
            Limit::Outputs => "u16::MAX (outputs)",
            Limit::Int8RowAbsQ => "MAX_ROW_ABS_Q",
            Limit::ActFracBits => "MAX_ACT_FRAC_BITS",
            Limit::BlobBytes => "u32::MAX (blob bytes)",
        }
    }

    /// What is counted.
    pub const fn what(self) -> &'static str {
        match self {
            Limit::Inputs => "inputs",
            Limit::Hidden => "hidden units",
            Limit::Outputs => "outputs",
            Limit::Int8RowAbsQ => "sum of |q| of an int8 recurrent row",
            Limit::ActFracBits => "fraction bits of the int8 activation format",
            Limit::BlobBytes => "blob bytes",
        }
    }

    /// `Err(FormatError::Limit { .. })` when `value` is above [`Limit::max`].
    pub fn check(self, value: u64) -> Result<(), FormatError> {
        if value > self.max() {
            Err(FormatError::Limit { limit: self, value })
        } else {
            Ok(())
        }
    }
}
