//! Network parameters, connectivity families (masks) and the hidden-unit sheet.
//!
//! - [`Sheet`]: where hidden unit n sits (row n / cols, column n % cols).
//! - [`Family`]: the connectivity families of `docs/models.md`, built into a [`Structure`]
//!   (dense, a fixed sparse mask as compressed rows [`Csr`], or the frozen identity).
//! - [`Activation`]: relu, tanh (fast rational form), softplus.
//! - [`NetConfig`] and [`Network`]: the parameters in one flat buffer with named views.

mod activation;
mod config;
mod family;
mod mask;
pub(crate) mod network;
mod sheet;

pub use activation::{fast_tanh, Activation, Training};
pub use config::NetConfig;
pub use family::{Family, Structure};
pub use mask::Csr;
pub use network::{Layout, Network};
pub use sheet::{Sheet, WiringSum};
