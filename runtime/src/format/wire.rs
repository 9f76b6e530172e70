//! The serde (postcard) layout of a blob's body. Private to the format: readers use
//! [`ModelView`](super::ModelView), writers [`ModelRepr`](super::ModelRepr).
//!
//! Every array is a [`Section`]: a pad of 0-3 bytes, then the array's little-endian bytes. postcard
//! writes a `&[u8]` as a varint length followed by the raw bytes, and deserializes it borrowed, so
//! the encoder can choose each pad to make the data start 4-aligned relative to the blob start.

use serde::{Deserialize, Serialize};

/// One array: alignment pad, then the little-endian data.
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) struct Section<'a> {
    pub pad: &'a [u8],
    pub data: &'a [u8],
}

/// A compressed-row matrix: `row_ptr` (u32), `col_idx` (u16), `values` (f32).
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) struct CsrWire<'a> {
    #[serde(borrow)]
    pub row_ptr: Section<'a>,
    #[serde(borrow)]
    pub col_idx: Section<'a>,
    #[serde(borrow)]
    pub values: Section<'a>,
}

/// The recurrent matrix in the kernel's lane-grouped layout (`format::ell`): group headers
/// (degree, zero, lanes' row byte offsets; u16), byte offset per slot (u16), weight per slot (f32).
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) struct EllWire<'a> {
    #[serde(borrow)]
    pub head: Section<'a>,
    #[serde(borrow)]
    pub off: Section<'a>,
    #[serde(borrow)]
    pub values: Section<'a>,
}

/// Input or output weights: dense row-major, or compressed rows.
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) enum MatWire<'a> {
    Dense(#[serde(borrow)] Section<'a>),
    Csr(#[serde(borrow)] CsrWire<'a>),
}

/// The int8 variant: the activation format, then per matrix the int8 weights (same structure as
/// the f32 ones) and one f32 scale per row.
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) struct Int8Wire<'a> {
    /// Fraction bits of the quantised hidden state (`hq = sat16(trunc(h 2^f))`).
    pub act_frac_bits: u8,
    #[serde(borrow)]
    pub rec_q: Section<'a>,
    #[serde(borrow)]
    pub rec_scale: Section<'a>,
    /// `rec_q` in the int8 kernel's pair-group layout (`format::pairs`, u32 words).
    #[serde(borrow)]
    pub rec_q_pairs: Section<'a>,
    #[serde(borrow)]
    pub in_q: Section<'a>,
    #[serde(borrow)]
    pub in_scale: Section<'a>,
    #[serde(borrow)]
    pub out_q: Section<'a>,
    #[serde(borrow)]
    pub out_scale: Section<'a>,
}

/// The body: everything between the fixed header and the CRC.
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) struct Body<'a> {
    pub n_inputs: u32,
    pub n_hidden: u32,
    pub n_outputs: u32,
    pub sheet_rows: u16,
    pub sheet_cols: u16,
    pub pitch: f32,
    pub activation: u8,
    pub alpha: f32,
    pub readout: u8,
    /// Task names in rule-input order, separated by commas ("" = none).
    pub tasks: &'a str,
    pub wiring_length: f64,
    pub active_connections: u32,
    pub seed: u64,
    #[serde(borrow)]
    pub positions: Section<'a>,
    #[serde(borrow)]
    pub rec: CsrWire<'a>,
    #[serde(borrow)]
    pub rec_ell: EllWire<'a>,
    #[serde(borrow)]
    pub w_in: MatWire<'a>,
    #[serde(borrow)]
    pub w_out: MatWire<'a>,
    #[serde(borrow)]
    pub b_h: Section<'a>,
    #[serde(borrow)]
    pub b_o: Section<'a>,
    #[serde(borrow)]
    pub int8: Option<Int8Wire<'a>>,
}

#[cfg(feature = "std")]
impl<'a> Body<'a> {
    /// The data of every section in serialization order (the encoder pads them in this order).
    pub fn sections(&self) -> Vec<&'a [u8]> {
        fn mat<'a>(m: &MatWire<'a>, out: &mut Vec<&'a [u8]>) {
            match m {
                MatWire::Dense(s) => out.push(s.data),
                MatWire::Csr(c) => out.extend([c.row_ptr.data, c.col_idx.data, c.values.data]),
            }
        }
        let mut out = vec![
            self.positions.data,
            self.rec.row_ptr.data,
            self.rec.col_idx.data,
            self.rec.values.data,
            self.rec_ell.head.data,
            self.rec_ell.off.data,
            self.rec_ell.values.data,
        ];
        mat(&self.w_in, &mut out);
        mat(&self.w_out, &mut out);
        out.extend([self.b_h.data, self.b_o.data]);
        if let Some(q) = &self.int8 {
            out.extend([
                q.rec_q.data,
                q.rec_scale.data,
                q.rec_q_pairs.data,
                q.in_q.data,
                q.in_scale.data,
                q.out_q.data,
                q.out_scale.data,
            ]);
        }
        out
    }
}
