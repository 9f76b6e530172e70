//! [`ModelRepr`] (feature `std`): an owned model with `Vec` fields, the exporter's side of the
//! format. `emit` writes a blob that [`ModelView::from_bytes`] opens; `parse` reads one back.

use super::crc::crc32;
use super::diag::DiagRepr;
use super::ell::EllRepr;
use super::enums::{Activation, Readout};
use super::error::FormatError;
use super::limits::Limit;
use super::pairs;
use super::view::ModelView;
use super::weights::{Precision, WeightsView};
use super::wire::{Body, CsrWire, DiagWire, EllWire, F32Wire, Int8Wire, MatWire, RecWire, Section};
use super::{CRC_LEN, HEADER_LEN, MAGIC, MAX_ACT_FRAC_BITS, VERSION};

/// An owned compressed-row matrix (see [`super::Csr`] for the layout rules); values f32, or i8
/// for the int8 weights.
#[derive(Clone, Debug, PartialEq)]
pub struct CsrRepr<T = f32> {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows + 1` offsets.
    pub row_ptr: Vec<u32>,
    /// Column of each entry, strictly increasing within a row.
    pub col_idx: Vec<u16>,
    /// Value of each entry.
    pub values: Vec<T>,
}

impl<T> CsrRepr<T> {
    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Row of each stored entry, in storage order.
    fn value_rows(&self) -> Vec<usize> {
        (0..self.rows)
            .flat_map(|r| {
                let at = |i: usize| self.row_ptr.get(i).map_or(0, |&p| p as usize);
                std::iter::repeat_n(r, at(r + 1).saturating_sub(at(r)))
            })
            .collect()
    }
}

impl CsrRepr<f32> {
    /// Compressed rows of a row-major dense matrix, keeping the entries where `keep(value)` holds
    /// (for example `|w| w != 0.0` for the entries a connectivity mask allows and training left
    /// nonzero). Columns must fit in u16.
    pub fn from_dense(rows: usize, cols: usize, dense: &[f32], keep: impl Fn(f32) -> bool) -> Self {
        assert_eq!(
            dense.len(),
            rows * cols,
            "dense matrix has the wrong length"
        );
        let mut m = CsrRepr {
            rows,
            cols,
            row_ptr: vec![0],
            col_idx: Vec::new(),
            values: Vec::new(),
        };
        for row in dense.chunks_exact(cols.max(1)).take(rows) {
            for (j, &w) in row.iter().enumerate() {
                if keep(w) {
                    m.col_idx.push(j as u16);
                    m.values.push(w);
                }
            }
            m.row_ptr.push(m.values.len() as u32);
        }
        m.row_ptr.resize(rows + 1, m.values.len() as u32);
        m
    }

    /// The compressed rows of a blob's matrix (its nonzero weights; see [`WeightsView`]).
    pub fn from_weights(w: &WeightsView<'_>) -> Self {
        let mut m = CsrRepr {
            rows: w.rows(),
            cols: w.cols(),
            row_ptr: vec![0; w.rows() + 1],
            col_idx: vec![0; w.nnz()],
            values: vec![0.0; w.nnz()],
        };
        // The buffers have the lengths `to_csr` asks for.
        let _ = w.to_csr(&mut m.row_ptr, &mut m.col_idx, &mut m.values);
        m
    }

    /// The row-major dense matrix.
    pub fn to_dense(&self) -> Vec<f32> {
        let mut d = vec![0.0; self.rows * self.cols];
        for r in 0..self.rows {
            for k in self.row_ptr[r] as usize..self.row_ptr[r + 1] as usize {
                d[r * self.cols + usize::from(self.col_idx[k])] = self.values[k];
            }
        }
        d
    }
}

/// An owned weight matrix, dense (row-major) or compressed rows; values f32, or i8 for the int8
/// weights.
#[derive(Clone, Debug, PartialEq)]
pub enum MatrixRepr<T = f32> {
    /// Row-major values.
    Dense {
        /// Number of rows.
        rows: usize,
        /// Number of columns.
        cols: usize,
        /// `rows * cols` values.
        values: Vec<T>,
    },
    /// Compressed rows.
    Csr(CsrRepr<T>),
}

impl<T> MatrixRepr<T> {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        match self {
            MatrixRepr::Dense { rows, .. } => *rows,
            MatrixRepr::Csr(c) => c.rows,
        }
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        match self {
            MatrixRepr::Dense { cols, .. } => *cols,
            MatrixRepr::Csr(c) => c.cols,
        }
    }

    /// The stored values in storage order.
    pub fn values(&self) -> &[T] {
        match self {
            MatrixRepr::Dense { values, .. } => values,
            MatrixRepr::Csr(c) => &c.values,
        }
    }

    /// Row of each stored value, in storage order.
    fn value_rows(&self) -> Vec<usize> {
        match self {
            MatrixRepr::Dense { rows, cols, .. } => (0..*rows)
                .flat_map(|r| std::iter::repeat_n(r, *cols))
                .collect(),
            MatrixRepr::Csr(c) => c.value_rows(),
        }
    }
}

impl MatrixRepr<f32> {
    /// The smaller encoding of a row-major dense matrix: compressed rows of its nonzero entries
    /// (4 (rows + 1) + 6 nnz bytes) or dense (4 rows cols bytes).
    pub fn compact(rows: usize, cols: usize, dense: &[f32]) -> Self {
        let csr = CsrRepr::from_dense(rows, cols, dense, |w| w != 0.0);
        if 4 * (rows + 1) + 6 * csr.nnz() < 4 * rows * cols {
            MatrixRepr::Csr(csr)
        } else {
            MatrixRepr::Dense {
                rows,
                cols,
                values: dense.to_vec(),
            }
        }
    }

    /// The row-major dense matrix.
    pub fn to_dense(&self) -> Vec<f32> {
        match self {
            MatrixRepr::Dense { values, .. } => values.clone(),
            MatrixRepr::Csr(c) => c.to_dense(),
        }
    }
}

impl MatrixRepr<i8> {
    /// The smaller encoding of a row-major dense int8 matrix: compressed rows of its nonzero `q`
    /// (4 (rows + 1) + 3 nnz bytes) or dense (rows cols bytes).
    pub fn compact_q(rows: usize, cols: usize, dense: &[i8]) -> Self {
        let mut c = CsrRepr {
            rows,
            cols,
            row_ptr: vec![0],
            col_idx: Vec::new(),
            values: Vec::new(),
        };
        for row in dense.chunks_exact(cols.max(1)).take(rows) {
            for (j, &q) in row.iter().enumerate().filter(|(_, q)| **q != 0) {
                c.col_idx.push(j as u16);
                c.values.push(q);
            }
            c.row_ptr.push(c.values.len() as u32);
        }
        c.row_ptr.resize(rows + 1, c.values.len() as u32);
        if 4 * (rows + 1) + 3 * c.nnz() < rows * cols {
            MatrixRepr::Csr(c)
        } else {
            MatrixRepr::Dense {
                rows,
                cols,
                values: dense.to_vec(),
            }
        }
    }
}

/// Which weights a blob holds (`gyrus export --weights`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Weights {
    /// The f32 weights only.
    F32,
    /// The int8 weights only (no f32 weight matrix; biases stay f32).
    Int8,
    /// Both.
    Both,
}

impl Weights {
    /// Whether the f32 weights are written.
    pub fn has_f32(self) -> bool {
        self != Weights::Int8
    }
    /// Whether the int8 weights are written.
    pub fn has_int8(self) -> bool {
        self != Weights::F32
    }
}

/// The layout of the f32 recurrent weights in a blob (`gyrus export --layout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecLayout {
    /// Lane groups of rows sorted by length, a column offset per weight (`format::ell`): any
    /// mask.
    Rows,
    /// Diagonals per group of consecutive rows, no column index per weight (`format::diag`): for
    /// local masks with units in row-major sheet order.
    Diagonal,
}

impl RecLayout {
    /// The exporter's rule: [`RecLayout::Diagonal`] when its weight slots (`DIAG_LANES` per
    /// diagonal of each group of rows, stored weights plus the `+0.0` lanes) are at most 1.5
    /// times the stored weights (then the diagonal blob is not larger than the lane groups'
    /// 6 bytes per weight, and its kernel, about 1.5 instructions per slot on Cortex-M4F, is
    /// faster than theirs, about 3.8 per weight); else [`RecLayout::Rows`]. A local mask in
    /// row-major sheet order passes; a random mask or a BIMT network whose units were swapped
    /// does not.
    pub fn choose(recurrent: &CsrRepr) -> Self {
        let slots = DiagRepr::slots(recurrent);
        if 2 * slots <= 3 * recurrent.nnz() {
            RecLayout::Diagonal
        } else {
            RecLayout::Rows
        }
    }

    /// The name `gyrus export --layout` takes.
    pub fn name(self) -> &'static str {
        match self {
            RecLayout::Rows => "rows",
            RecLayout::Diagonal => "diagonal",
        }
    }
}

/// The int8 weights: `w ~= scale[row] * q`, `q` in -127..=127, only the nonzero `q` stored (in
/// compressed rows, or dense for the input and output matrices when that is smaller), and the
/// activation format of the int8 recurrent product.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Repr {
    /// Fraction bits `f` of the quantised hidden state, `hq = sat16(trunc(h 2^f))` (at most
    /// [`MAX_ACT_FRAC_BITS`]); see [`Int8Repr::act_frac_bits_for`].
    pub act_frac_bits: u8,
    /// Recurrent weights (nonzero `q`).
    pub recurrent: CsrRepr<i8>,
    /// Per-row scales of the recurrent weights.
    pub rec_scale: Vec<f32>,
    /// Input weights.
    pub input: MatrixRepr<i8>,
    /// Per-row scales of the input weights.
    pub in_scale: Vec<f32>,
    /// Output weights.
    pub output: MatrixRepr<i8>,
    /// Per-row scales of the output weights.
    pub out_scale: Vec<f32>,
}

impl Int8Repr {
    /// The most fraction bits (at most [`MAX_ACT_FRAC_BITS`]) for which `act_max * 2^f <= 32768`:
    /// hidden values up to `act_max` in magnitude are then quantised without saturating (tanh:
    /// `act_max = 1`, 15 bits).
    pub fn act_frac_bits_for(act_max: f32) -> u8 {
        (0..=MAX_ACT_FRAC_BITS)
            .rev()
            .find(|&f| act_max.abs() * (1u32 << f) as f32 <= 32768.0)
            .unwrap_or(0)
    }
}

/// Symmetric per-row quantisation: scale = max |w| of the row / 127 (0 for an all-zero row),
/// q = round(w / scale).
fn quantize(values: &[f32], value_rows: &[usize], rows: usize) -> (Vec<i8>, Vec<f32>) {
    let mut scale = vec![0.0f32; rows];
    for (&v, &r) in values.iter().zip(value_rows) {
        scale[r] = scale[r].max(v.abs());
    }
    for s in &mut scale {
        *s /= 127.0;
    }
    let q = values
        .iter()
        .zip(value_rows)
        .map(|(&v, &r)| {
            if scale[r] > 0.0 {
                (v / scale[r]).round().clamp(-127.0, 127.0) as i8
            } else {
                0
            }
        })
        .collect();
    (q, scale)
}

/// The compressed rows of `c`'s structure with weights `q`, dropping the zeros.
fn nonzero_q(c: &CsrRepr, q: &[i8]) -> CsrRepr<i8> {
    let mut out = CsrRepr {
        rows: c.rows,
        cols: c.cols,
        row_ptr: vec![0],
        col_idx: Vec::new(),
        values: Vec::new(),
    };
    for r in 0..c.rows {
        let (s, e) = (c.row_ptr[r] as usize, c.row_ptr[r + 1] as usize);
        for (&j, &v) in c.col_idx[s..e].iter().zip(&q[s..e]) {
            if v != 0 {
                out.col_idx.push(j);
                out.values.push(v);
            }
        }
        out.row_ptr.push(out.values.len() as u32);
    }
    out
}

/// The int8 matrix of `m` with weights `q` (one per stored value of `m`), in its smaller encoding.
fn q_matrix(m: &MatrixRepr, q: &[i8]) -> MatrixRepr<i8> {
    let (rows, cols) = (m.rows(), m.cols());
    let dense: Vec<i8> = match m {
        MatrixRepr::Dense { .. } => q.to_vec(),
        MatrixRepr::Csr(c) => {
            let mut d = vec![0i8; rows * cols];
            for (k, r) in c.value_rows().into_iter().enumerate() {
                d[r * cols + usize::from(c.col_idx[k])] = q[k];
            }
            d
        }
    };
    MatrixRepr::compact_q(rows, cols, &dense)
}

/// An owned model: what the exporter fills in and [`ModelRepr::emit`] writes.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelRepr {
    /// Inputs per step.
    pub n_inputs: usize,
    /// Hidden units kept after pruning.
    pub n_hidden: usize,
    /// Outputs.
    pub n_outputs: usize,
    /// Sheet rows.
    pub sheet_rows: u16,
    /// Sheet columns.
    pub sheet_cols: u16,
    /// Grid pitch (trainer's units per sheet cell).
    pub pitch: f32,
    /// Sheet position `(row, column)` of each kept unit, in strictly increasing sheet order.
    pub positions: Vec<(u16, u16)>,
    /// Recurrent weights `W` (`n_hidden x n_hidden`, row = receiving unit; every stored weight
    /// nonzero). Read back from an int8-only blob: the dequantised int8 weights.
    pub recurrent: CsrRepr,
    /// Input weights `W_in` (`n_hidden x n_inputs`).
    pub input: MatrixRepr,
    /// Output weights `W_out` (`n_outputs x n_hidden`).
    pub output: MatrixRepr,
    /// Hidden bias.
    pub b_h: Vec<f32>,
    /// Output bias.
    pub b_o: Vec<f32>,
    /// Nonlinearity.
    pub activation: Activation,
    /// Leak alpha in (0, 1].
    pub alpha: f32,
    /// Readout rule.
    pub readout: Readout,
    /// Task names in rule-input order (no commas).
    pub tasks: Vec<String>,
    /// Wiring length as the trainer measured it.
    pub wiring_length: f64,
    /// Active connections as the trainer measured them.
    pub active_connections: u32,
    /// Training seed.
    pub seed: u64,
    /// The int8 weights (see [`ModelRepr::quantize_int8`]).
    pub int8: Option<Int8Repr>,
    /// Which weights [`ModelRepr::emit`] writes (with [`Weights::Int8`] or [`Weights::Both`],
    /// `int8` must be present).
    pub weights: Weights,
    /// The layout of the f32 recurrent weights (see [`RecLayout::choose`]; ignored when no f32
    /// weights are written).
    pub layout: RecLayout,
}

static ZEROS: [u8; 3] = [0; 3];

fn le_bytes<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    v.iter().flat_map(|&x| f(x)).collect()
}

fn i8_bytes(v: &[i8]) -> Vec<u8> {
    v.iter().map(|&x| x as u8).collect()
}

/// A dense input matrix is written column-major (format version 6): the input product over a
/// step's nonzero inputs then reads whole columns (`kernel::sparse::input`, `kernel::qio`).
const INPUT_BY_COLUMN: bool = true;

/// Little-endian bytes of every array, in serialization order.
struct Arrays {
    positions: Vec<u8>,
    b_h: Vec<u8>,
    b_o: Vec<u8>,
    f32: Option<[Vec<Vec<u8>>; 3]>,
    int8: Option<[Vec<Vec<u8>>; 6]>,
}

/// A dense matrix (row-major `values`) by column, or as it is (also when `values` does not hold
/// `rows * cols` entries: the reader then refuses the blob with the length, as for one in rows).
fn order<T: Copy>(rows: usize, cols: usize, values: &[T], by_column: bool) -> Vec<T> {
    if by_column && rows.checked_mul(cols) == Some(values.len()) {
        (0..rows * cols)
            .filter_map(|k| values.get((k % rows) * cols + k / rows).copied())
            .collect()
    } else {
        values.to_vec()
    }
}

/// The arrays of an f32 matrix: one for a dense one (`by_column`: stored column-major, the
/// input matrix from format version 6 on), three for compressed rows.
fn mat_bytes(m: &MatrixRepr, by_column: bool) -> Vec<Vec<u8>> {
    match m {
        MatrixRepr::Dense { rows, cols, values } => vec![le_bytes(
            &order(*rows, *cols, values, by_column),
            f32::to_le_bytes,
        )],
        MatrixRepr::Csr(c) => vec![
            le_bytes(&c.row_ptr, u32::to_le_bytes),
            le_bytes(&c.col_idx, u16::to_le_bytes),
            le_bytes(&c.values, f32::to_le_bytes),
        ],
    }
}

/// [`mat_bytes`] of an int8 matrix.
fn qmat_bytes(m: &MatrixRepr<i8>, by_column: bool) -> Vec<Vec<u8>> {
    match m {
        MatrixRepr::Dense { rows, cols, values } => {
            vec![i8_bytes(&order(*rows, *cols, values, by_column))]
        }
        MatrixRepr::Csr(c) => vec![
            le_bytes(&c.row_ptr, u32::to_le_bytes),
            le_bytes(&c.col_idx, u16::to_le_bytes),
            i8_bytes(&c.values),
        ],
    }
}

/// Hands out sections with their pads, in order.
struct Padder<'p> {
    pads: &'p [usize],
    next: usize,
}

impl Padder<'_> {
    fn sec<'b>(&mut self, data: &'b [u8]) -> Section<'b> {
        let p = self.pads.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        Section {
            pad: &ZEROS[..p],
            data,
        }
    }

    /// One section for a dense matrix (`by_column`: written by [`mat_bytes`] with `by_column`),
    /// three for compressed rows.
    fn mat<'b>(&mut self, b: &'b [Vec<u8>], by_column: bool) -> MatWire<'b> {
        if b.len() == 1 && by_column {
            MatWire::ByColumn(self.sec(&b[0]))
        } else if b.len() == 1 {
            MatWire::Dense(self.sec(&b[0]))
        } else {
            MatWire::Csr(CsrWire {
                row_ptr: self.sec(&b[0]),
                col_idx: self.sec(&b[1]),
                values: self.sec(&b[2]),
            })
        }
    }
}

impl ModelRepr {
    /// Fills [`ModelRepr::int8`] from the f32 weights: per row, scale = max |w| / 127 and
    /// q = round(w / scale) (symmetric, no zero point), the weights that quantise to 0 dropped;
    /// the hidden state is quantised with [`Int8Repr::act_frac_bits_for`]`(act_max)`, `act_max`
    /// the largest |h| to represent (the exporter calibrates it over trials; 1 for tanh).
    /// Deterministic. A model that wrote the f32 weights only now writes both; set
    /// [`ModelRepr::weights`] to [`Weights::Int8`] to write the int8 weights alone.
    pub fn quantize_int8(&mut self, act_max: f32) {
        let (rec_q, rec_scale) = quantize(
            &self.recurrent.values,
            &self.recurrent.value_rows(),
            self.n_hidden,
        );
        let (in_q, in_scale) =
            quantize(self.input.values(), &self.input.value_rows(), self.n_hidden);
        let (out_q, out_scale) = quantize(
            self.output.values(),
            &self.output.value_rows(),
            self.n_outputs,
        );
        self.int8 = Some(Int8Repr {
            act_frac_bits: Int8Repr::act_frac_bits_for(act_max),
            recurrent: nonzero_q(&self.recurrent, &rec_q),
            rec_scale,
            input: q_matrix(&self.input, &in_q),
            in_scale,
            output: q_matrix(&self.output, &out_q),
            out_scale,
        });
        if self.weights == Weights::F32 {
            self.weights = Weights::Both;
        }
    }

    /// Writes the blob: 12-byte header, postcard body with every array 4-aligned from the blob
    /// start, CRC-32. Encodes the fields as they are; [`ModelRepr::to_bytes`] also checks that the
    /// result opens.
    pub fn emit(&self) -> Vec<u8> {
        let arrays = self.arrays();
        let mut pads: Vec<usize> = vec![0; 64];
        // Fix the first misaligned section, re-encode; earlier sections never move, so this ends
        // after at most one pass per section.
        loop {
            let blob = self.encode(&arrays, &pads);
            let body = match postcard::take_from_bytes::<Body<'_>>(
                &blob[HEADER_LEN..blob.len() - CRC_LEN],
            ) {
                Ok((body, _)) => body,
                Err(_) => return blob,
            };
            let base = blob.as_ptr() as usize;
            let misaligned = body.sections().iter().enumerate().find_map(|(k, s)| {
                let off = (s.as_ptr() as usize - base) % 4;
                (off != 0).then_some((k, off))
            });
            match misaligned {
                None => return blob,
                Some((k, off)) => pads[k] = (pads[k] + 4 - off) % 4,
            }
        }
    }

    /// Checks every limit of [`Limit`] (sizes, int8 row sums, activation format) and that a
    /// nonempty task list fits the inputs and outputs, before anything is encoded: the exporter
    /// calls it so that it never writes a blob the runtime refuses. The blob's length
    /// ([`Limit::BlobBytes`]) is checked by [`ModelRepr::to_bytes`].
    pub fn check_limits(&self) -> Result<(), FormatError> {
        Limit::Inputs.check(self.n_inputs as u64)?;
        Limit::Hidden.check(self.n_hidden as u64)?;
        Limit::Outputs.check(self.n_outputs as u64)?;
        super::view::check_task_shape(self.tasks.len(), self.n_inputs, self.n_outputs)?;
        if let Some(q) = self.int8.as_ref().filter(|_| self.weights.has_int8()) {
            Limit::ActFracBits.check(q.act_frac_bits.into())?;
            let c = &q.recurrent;
            for r in 0..c.rows {
                let at = |i: usize| c.row_ptr.get(i).map_or(0, |&p| p as usize);
                let sum: u64 = c
                    .values
                    .get(at(r)..at(r + 1).max(at(r)))
                    .unwrap_or(&[])
                    .iter()
                    .map(|v| u64::from(v.unsigned_abs()))
                    .sum();
                Limit::Int8RowAbsQ.check(sum)?;
            }
        }
        Ok(())
    }

    /// [`ModelRepr::check_limits`], [`ModelRepr::emit`], then opens the blob to check it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        self.check_limits()?;
        let blob = self.emit();
        Limit::BlobBytes.check(blob.len() as u64)?;
        ModelView::from_bytes(&blob)?;
        Ok(blob)
    }

    /// Copies an opened blob into an owned model. The f32 matrices are the blob's f32 weights,
    /// or, in an int8-only blob, its dequantised int8 weights (`q * scale`).
    pub fn parse(view: &ModelView<'_>) -> Self {
        let q_of = |w: Option<WeightsView<'_>>| {
            w.map_or(
                MatrixRepr::Dense {
                    rows: 0,
                    cols: 0,
                    values: Vec::new(),
                },
                |w| w.q_matrix(),
            )
        };
        let int8 = view.int8().map(|q| Int8Repr {
            act_frac_bits: q.act_frac_bits,
            recurrent: match q_of(view.recurrent_of(Precision::Int8)) {
                MatrixRepr::Csr(c) => c,
                MatrixRepr::Dense { .. } => CsrRepr {
                    rows: 0,
                    cols: 0,
                    row_ptr: vec![0],
                    col_idx: Vec::new(),
                    values: Vec::new(),
                },
            },
            rec_scale: q.rec_scale.iter().collect(),
            input: q_of(view.input_weights_of(Precision::Int8)),
            in_scale: q.in_scale.iter().collect(),
            output: q_of(view.output_weights_of(Precision::Int8)),
            out_scale: q.out_scale.iter().collect(),
        });
        let weights = match (view.has_f32(), int8.is_some()) {
            (true, true) => Weights::Both,
            (false, true) => Weights::Int8,
            _ => Weights::F32,
        };
        let (sheet_rows, sheet_cols) = view.sheet();
        ModelRepr {
            n_inputs: view.n_inputs(),
            n_hidden: view.n_hidden(),
            n_outputs: view.n_outputs(),
            sheet_rows,
            sheet_cols,
            pitch: view.pitch(),
            positions: (0..view.n_hidden())
                .filter_map(|u| view.position(u))
                .collect(),
            recurrent: CsrRepr::from_weights(&view.recurrent()),
            input: view.input_weights().f32_matrix(),
            output: view.output_weights().f32_matrix(),
            b_h: view.hidden_bias().iter().collect(),
            b_o: view.output_bias().iter().collect(),
            activation: view.activation(),
            alpha: view.alpha(),
            readout: view.readout(),
            tasks: view.task_names().map(String::from).collect(),
            wiring_length: view.trained_wiring_length(),
            active_connections: view.trained_active_connections(),
            seed: view.seed(),
            int8,
            weights,
            layout: view.rec_layout().unwrap_or(RecLayout::Rows),
        }
    }

    /// Opens and copies a blob.
    pub fn from_bytes(blob: &[u8]) -> Result<Self, FormatError> {
        Ok(Self::parse(&ModelView::from_bytes(blob)?))
    }

    fn arrays(&self) -> Arrays {
        let pos: Vec<u16> = self.positions.iter().flat_map(|&(r, c)| [r, c]).collect();
        let f32 = self.weights.has_f32().then(|| {
            let rec = match self.layout {
                RecLayout::Rows => {
                    let ell = EllRepr::build(&self.recurrent);
                    vec![
                        le_bytes(&ell.head, u16::to_le_bytes),
                        le_bytes(&ell.off, u16::to_le_bytes),
                        le_bytes(&ell.values, f32::to_le_bytes),
                    ]
                }
                RecLayout::Diagonal => {
                    let d = DiagRepr::build(&self.recurrent);
                    vec![
                        le_bytes(&d.counts, u16::to_le_bytes),
                        le_bytes(&d.diags, u16::to_le_bytes),
                        le_bytes(&d.values, f32::to_le_bytes),
                    ]
                }
            };
            [
                rec,
                mat_bytes(&self.input, INPUT_BY_COLUMN),
                mat_bytes(&self.output, false),
            ]
        });
        let int8 = self
            .int8
            .as_ref()
            .filter(|_| self.weights.has_int8())
            .map(|q| {
                [
                    vec![le_bytes(&pairs::build(&q.recurrent), u32::to_le_bytes)],
                    vec![le_bytes(&q.rec_scale, f32::to_le_bytes)],
                    qmat_bytes(&q.input, INPUT_BY_COLUMN),
                    vec![le_bytes(&q.in_scale, f32::to_le_bytes)],
                    qmat_bytes(&q.output, false),
                    vec![le_bytes(&q.out_scale, f32::to_le_bytes)],
                ]
            });
        Arrays {
            positions: le_bytes(&pos, u16::to_le_bytes),
            b_h: le_bytes(&self.b_h, f32::to_le_bytes),
            b_o: le_bytes(&self.b_o, f32::to_le_bytes),
            f32,
            int8,
        }
    }

    fn encode(&self, a: &Arrays, pads: &[usize]) -> Vec<u8> {
        // Pads are taken in serialization order, which `Body::sections` follows too.
        let mut p = Padder { pads, next: 0 };
        let positions = p.sec(&a.positions);
        let b_h = p.sec(&a.b_h);
        let b_o = p.sec(&a.b_o);
        let f32 = a.f32.as_ref().map(|f| F32Wire {
            rec: match self.layout {
                RecLayout::Rows => RecWire::Rows(EllWire {
                    head: p.sec(&f[0][0]),
                    off: p.sec(&f[0][1]),
                    values: p.sec(&f[0][2]),
                }),
                RecLayout::Diagonal => RecWire::Diagonal(DiagWire {
                    counts: p.sec(&f[0][0]),
                    diags: p.sec(&f[0][1]),
                    values: p.sec(&f[0][2]),
                }),
            },
            w_in: p.mat(&f[1], INPUT_BY_COLUMN),
            w_out: p.mat(&f[2], false),
        });
        let int8 = a
            .int8
            .as_ref()
            .zip(self.int8.as_ref())
            .map(|(q, r)| Int8Wire {
                act_frac_bits: r.act_frac_bits,
                rec: p.sec(&q[0][0]),
                rec_scale: p.sec(&q[1][0]),
                w_in: p.mat(&q[2], INPUT_BY_COLUMN),
                in_scale: p.sec(&q[3][0]),
                w_out: p.mat(&q[4], false),
                out_scale: p.sec(&q[5][0]),
            });
        let tasks = self.tasks.join(",");
        let body = Body {
            n_inputs: self.n_inputs as u32,
            n_hidden: self.n_hidden as u32,
            n_outputs: self.n_outputs as u32,
            sheet_rows: self.sheet_rows,
            sheet_cols: self.sheet_cols,
            pitch: self.pitch,
            activation: self.activation.code(),
            alpha: self.alpha,
            readout: self.readout.code(),
            tasks: &tasks,
            wiring_length: self.wiring_length,
            active_connections: self.active_connections,
            seed: self.seed,
            positions,
            b_h,
            b_o,
            f32,
            int8,
        };
        let mut blob = Vec::with_capacity(HEADER_LEN + 64);
        blob.extend_from_slice(&MAGIC);
        blob.extend_from_slice(&VERSION.to_le_bytes());
        blob.extend_from_slice(&[0, 0]);
        blob.extend_from_slice(&[0; 4]);
        // Serializing borrowed slices and plain numbers into a Vec cannot fail.
        blob.extend(postcard::to_allocvec(&body).unwrap_or_default());
        let total = (blob.len() + CRC_LEN) as u32;
        blob[8..12].copy_from_slice(&total.to_le_bytes());
        let crc = crc32(&blob);
        blob.extend_from_slice(&crc.to_le_bytes());
        blob
    }
}
