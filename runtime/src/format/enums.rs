//! Small enumerations stored in a blob as one-byte codes.

/// The hidden units' nonlinearity phi: the one activation type of gyrus (configs name it in
/// lower case, a blob stores its code). [`Activation::apply`] is phi as the kernels compute it;
/// the trainer evaluates the same functions with a vectorisable tanh (`gyrus_trainer::model`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    /// max(x, 0) (code 0; the default).
    #[default]
    Relu,
    /// tanh(x) (code 1).
    Tanh,
    /// ln(1 + e^x) (code 2).
    Softplus,
}

impl Activation {
    /// The one-byte code in a blob.
    pub const fn code(self) -> u8 {
        match self {
            Activation::Relu => 0,
            Activation::Tanh => 1,
            Activation::Softplus => 2,
        }
    }

    /// The activation with a code, if known.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Activation::Relu),
            1 => Some(Activation::Tanh),
            2 => Some(Activation::Softplus),
            _ => None,
        }
    }

    /// Lower-case name (`relu`, `tanh`, `softplus`).
    pub const fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Softplus => "softplus",
        }
    }
}

/// How the outputs become a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Readout {
    /// The index of the largest output (code 0); class 0 = fixate.
    Argmax,
}

impl Readout {
    /// The one-byte code in a blob.
    pub const fn code(self) -> u8 {
        match self {
            Readout::Argmax => 0,
        }
    }

    /// The readout with a code, if known.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Readout::Argmax),
            _ => None,
        }
    }
}
