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

/// A compressed-row matrix: `row_ptr` (u32), `col_idx` (u16), `values` (f32, or i8 in the int8
/// weights).
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) struct CsrWire<'a> {
    #[serde(borrow)]
    pub row_ptr: Section<'a>,
    #[serde(borrow)]
    pub col_idx: Section<'a>,
    #[serde(borrow)]
    pub values: Section<'a>,
}

/// The recurrent matrix in the f32 kernel's lane-grouped layout (`format::ell`): group headers
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

/// The recurrent matrix in the f32 kernel's diagonal layout (`format::diag`): diagonals per group
/// (u16), the diagonal `o` per (group, diagonal) (i16 bits in a u16), the lanes' weights (f32).
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) struct DiagWire<'a> {
    #[serde(borrow)]
    pub counts: Section<'a>,
    #[serde(borrow)]
    pub diags: Section<'a>,
    #[serde(borrow)]
    pub values: Section<'a>,
}

/// The f32 recurrent matrix in one of the two kernel layouts (the exporter's choice per model).
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) enum RecWire<'a> {
    Rows(#[serde(borrow)] EllWire<'a>),
    Diagonal(#[serde(borrow)] DiagWire<'a>),
}

/// Input or output weights: dense row-major, compressed rows, or (from version 6 on) dense
/// column-major. A new variant goes last, so that the earlier ones keep their encoding.
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) enum MatWire<'a> {
    Dense(#[serde(borrow)] Section<'a>),
    Csr(#[serde(borrow)] CsrWire<'a>),
    ByColumn(#[serde(borrow)] Section<'a>),
}

/// The f32 weights, each matrix once, in the layout its kernel reads.
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) struct F32Wire<'a> {
    #[serde(borrow)]
    pub rec: RecWire<'a>,
    #[serde(borrow)]
    pub w_in: MatWire<'a>,
    #[serde(borrow)]
    pub w_out: MatWire<'a>,
}

/// The int8 weights: the activation format, then per matrix its i8 weights (their own structure:
/// the nonzero `q` only) and one f32 scale per row.
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) struct Int8Wire<'a> {
    /// Fraction bits of the quantised hidden state (`hq = sat16(trunc(h 2^f))`).
    pub act_frac_bits: u8,
    /// The recurrent matrix in the int8 kernel's pair-group layout (`format::pairs`, u32 words).
    #[serde(borrow)]
    pub rec: Section<'a>,
    #[serde(borrow)]
    pub rec_scale: Section<'a>,
    #[serde(borrow)]
    pub w_in: MatWire<'a>,
    #[serde(borrow)]
    pub in_scale: Section<'a>,
    #[serde(borrow)]
    pub w_out: MatWire<'a>,
    #[serde(borrow)]
    pub out_scale: Section<'a>,
}

/// The body: everything between the fixed header and the CRC. `F` is the wire form of the f32
/// weights: [`F32Wire`] (the recurrent layout chosen per blob) from version 5 on, [`F32WireV4`]
/// in version 4 ([`BodyV4`]); every other field is the same in both versions.
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) struct Body<'a, F = F32Wire<'a>> {
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
    pub b_h: Section<'a>,
    #[serde(borrow)]
    pub b_o: Section<'a>,
    pub f32: Option<F>,
    #[serde(borrow)]
    pub int8: Option<Int8Wire<'a>>,
}

/// The f32 weights of a version-4 blob: the recurrent matrix always in lane groups.
#[derive(Serialize, Deserialize, Clone, Copy, Debug)]
pub(crate) struct F32WireV4<'a> {
    #[serde(borrow)]
    pub rec: EllWire<'a>,
    #[serde(borrow)]
    pub w_in: MatWire<'a>,
    #[serde(borrow)]
    pub w_out: MatWire<'a>,
}

/// The body of a version-4 blob: [`Body`] without the choice of the f32 recurrent layout.
pub(crate) type BodyV4<'a> = Body<'a, F32WireV4<'a>>;

impl<'a> From<BodyV4<'a>> for Body<'a> {
    /// The same arrays, the recurrent lane groups as [`RecWire::Rows`].
    fn from(b: BodyV4<'a>) -> Self {
        Body {
            n_inputs: b.n_inputs,
            n_hidden: b.n_hidden,
            n_outputs: b.n_outputs,
            sheet_rows: b.sheet_rows,
            sheet_cols: b.sheet_cols,
            pitch: b.pitch,
            activation: b.activation,
            alpha: b.alpha,
            readout: b.readout,
            tasks: b.tasks,
            wiring_length: b.wiring_length,
            active_connections: b.active_connections,
            seed: b.seed,
            positions: b.positions,
            b_h: b.b_h,
            b_o: b.b_o,
            f32: b.f32.map(|f| F32Wire {
                rec: RecWire::Rows(f.rec),
                w_in: f.w_in,
                w_out: f.w_out,
            }),
            int8: b.int8,
        }
    }
}

impl<'a> Body<'a> {
    /// `f(name, section)` for every section, in serialization order (the encoder pads them in
    /// this order; `gyrus inspect` reports their sizes).
    pub fn for_each_section(&self, mut f: impl FnMut(&'static str, Section<'a>)) {
        let mat = |name: [&'static str; 5],
                   m: &MatWire<'a>,
                   f: &mut dyn FnMut(&'static str, Section<'a>)| match m {
            MatWire::Dense(s) => f(name[0], *s),
            MatWire::Csr(c) => {
                f(name[1], c.row_ptr);
                f(name[2], c.col_idx);
                f(name[3], c.values);
            }
            MatWire::ByColumn(s) => f(name[4], *s),
        };
        f("positions", self.positions);
        f("b_h", self.b_h);
        f("b_o", self.b_o);
        if let Some(w) = &self.f32 {
            match &w.rec {
                RecWire::Rows(e) => {
                    f("f32 recurrent: group headers", e.head);
                    f("f32 recurrent: offsets", e.off);
                    f("f32 recurrent: weights", e.values);
                }
                RecWire::Diagonal(d) => {
                    f("f32 recurrent (diagonal): counts", d.counts);
                    f("f32 recurrent (diagonal): diagonals", d.diags);
                    f("f32 recurrent (diagonal): weights", d.values);
                }
            }
            mat(
                [
                    "f32 input: weights (dense)",
                    "f32 input: row offsets",
                    "f32 input: columns",
                    "f32 input: weights",
                    "f32 input: weights (dense, by column)",
                ],
                &w.w_in,
                &mut f,
            );
            mat(
                [
                    "f32 output: weights (dense)",
                    "f32 output: row offsets",
                    "f32 output: columns",
                    "f32 output: weights",
                    "f32 output: weights (dense, by column)",
                ],
                &w.w_out,
                &mut f,
            );
        }
        if let Some(q) = &self.int8 {
            f("int8 recurrent: pair words", q.rec);
            f("int8 recurrent: row scales", q.rec_scale);
            mat(
                [
                    "int8 input: weights (dense)",
                    "int8 input: row offsets",
                    "int8 input: columns",
                    "int8 input: weights",
                    "int8 input: weights (dense, by column)",
                ],
                &q.w_in,
                &mut f,
            );
            f("int8 input: row scales", q.in_scale);
            mat(
                [
                    "int8 output: weights (dense)",
                    "int8 output: row offsets",
                    "int8 output: columns",
                    "int8 output: weights",
                    "int8 output: weights (dense, by column)",
                ],
                &q.w_out,
                &mut f,
            );
            f("int8 output: row scales", q.out_scale);
        }
    }

    /// Every section with its name, in serialization order.
    #[cfg(feature = "std")]
    pub fn named_sections(&self) -> Vec<(&'static str, Section<'a>)> {
        let mut out = Vec::new();
        self.for_each_section(|n, s| out.push((n, s)));
        out
    }

    /// The data of every section in serialization order.
    #[cfg(feature = "std")]
    pub fn sections(&self) -> Vec<&'a [u8]> {
        self.named_sections()
            .into_iter()
            .map(|(_, s)| s.data)
            .collect()
    }
}
