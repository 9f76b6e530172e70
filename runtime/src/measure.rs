//! On-device measures of an exported model, recomputed from the blob (`docs/models.md`,
//! "Measures"):
//! - active connection: a stored recurrent weight with |w| > 1e-2 ([`ACTIVE_THRESHOLD`]);
//!   self-connections count (their distance is 0). The f32 weights when the blob has them; an
//!   int8-only blob is measured on its dequantised weights `q * scale` (quantisation may move a
//!   weight across the threshold, so its count can differ from the trainer's);
//! - wiring length: the sum over active recurrent connections of the BIMT distance
//!   D = (|i - m| + |j - n|) / S, S = max(R, C), between the kept units' sheet positions. The
//!   integer sum of |i - m| + |j - n| is exact; it is divided by S once, in f64
//!   ([`crate::sheet::WiringSum`]);
//! - footprint: flash = the blob's length; RAM = the state buffer
//!   ([`crate::kernel::State::buffer_len`] floats: h, the next h, the zeros around them, the int8 scratch) plus one input
//!   and one output vector.
//!
//! ```text
//! let m = measure::measure(&model);
//! assert_eq!(m.active_connections, model.trained_active_connections());
//! ```

use crate::format::ModelView;
use crate::sheet::WiringSum;

/// Weights with a larger magnitude are active connections.
pub const ACTIVE_THRESHOLD: f32 = 1e-2;

/// Everything [`measure`] reports.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Measures {
    /// Sum of D over active recurrent connections.
    pub wiring_length: f64,
    /// Number of active recurrent connections.
    pub active_connections: u32,
    /// Recurrent weights stored in the blob (active or not).
    pub stored_connections: u32,
    /// Bytes of flash: the blob.
    pub flash_bytes: usize,
    /// Bytes of RAM the kernel needs: state, input and output vectors.
    pub ram_bytes: usize,
}

/// Active recurrent connections and the integer sum of their |i - m| + |j - n|.
fn active(model: &ModelView<'_>) -> WiringSum {
    let at = |(i, j): (u16, u16)| (usize::from(i), usize::from(j));
    let mut sum = WiringSum::default();
    model.recurrent().for_each(|r, c, w| {
        if let (Some(a), Some(b)) = (model.position(r), model.position(c)) {
            if libm::fabsf(w) > ACTIVE_THRESHOLD {
                sum.add(at(a), at(b));
            }
        }
    });
    sum
}

/// S = max(R, C) of the blob's sheet.
fn side(model: &ModelView<'_>) -> usize {
    let (rows, cols) = model.sheet();
    usize::from(rows.max(cols))
}

/// Wiring length: sum of D over active recurrent connections.
pub fn wiring_length(model: &ModelView<'_>) -> f64 {
    active(model).length(side(model))
}

/// Number of active recurrent connections.
pub fn active_connections(model: &ModelView<'_>) -> u32 {
    active(model).connections
}

/// Bytes of RAM for [`crate::kernel::step`] and [`crate::kernel::step_int8`]: state buffer
/// (with the int8 scratch), input and output vectors.
pub fn ram_bytes(model: &ModelView<'_>) -> usize {
    4 * (crate::kernel::State::buffer_len(model.n_hidden()) + model.n_inputs() + model.n_outputs())
}

/// All measures at once.
pub fn measure(model: &ModelView<'_>) -> Measures {
    let sum = active(model);
    Measures {
        wiring_length: sum.length(side(model)),
        active_connections: sum.connections,
        stored_connections: model.recurrent().stored() as u32,
        flash_bytes: model.blob().len(),
        ram_bytes: ram_bytes(model),
    }
}
