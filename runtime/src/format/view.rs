//! [`ModelView`]: a model blob opened and validated once, then read in place.

use super::arrays::{Csr, CsrView, FastNet, Int8, Int8View, LeNet, Matrix, MatrixView, Net};
use super::crc::crc32;
use super::ell;
use super::enums::{Activation, Readout};
use super::error::{FormatError, Part};
use super::limits::Limit;
use super::le::{LeScalar, LeSlice};
use super::pairs;
use super::wire::{Body, CsrWire, MatWire, Section};
use super::{CRC_LEN, HEADER_LEN, MAGIC, MAX_ACT_FRAC_BITS, VERSION};

/// A validated model blob, borrowed. Opening checks every length, index, offset, code and float
/// once, so that the accessors and the kernels never fail afterwards.
#[derive(Clone, Copy, Debug)]
pub struct ModelView<'a> {
    blob: &'a [u8],
    n_inputs: usize,
    n_hidden: usize,
    n_outputs: usize,
    sheet_rows: u16,
    sheet_cols: u16,
    pitch: f32,
    activation: Activation,
    alpha: f32,
    readout: Readout,
    tasks: &'a str,
    n_tasks: usize,
    wiring_length: f64,
    active_connections: u32,
    seed: u64,
    positions: LeSlice<'a, u16>,
    pub(crate) le: LeNet<'a>,
    pub(crate) fast: Option<FastNet<'a>>,
}

impl<'a> ModelView<'a> {
    /// Opens a blob: checks the header (magic, version, declared length), the CRC-32, the body's
    /// encoding, and then every dimension, offset, index, code and float. Never panics, never
    /// allocates. Works on a blob at any address; a 4-aligned one is read zero-copy
    /// ([`ModelView::is_zero_copy`]).
    pub fn from_bytes(blob: &'a [u8]) -> Result<Self, FormatError> {
        let body = open_body(blob)?;
        validate(blob, &body)
    }

    /// The blob's bytes (its length is the model's flash footprint).
    pub fn blob(&self) -> &'a [u8] {
        self.blob
    }
    /// True when every array is borrowed as a plain slice (blob 4-aligned, little-endian target);
    /// otherwise the kernels read elements with `from_le_bytes` (slower, same results).
    pub fn is_zero_copy(&self) -> bool {
        self.fast.is_some()
    }
    /// Number of inputs per step.
    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }
    /// Number of hidden units kept after pruning.
    pub fn n_hidden(&self) -> usize {
        self.n_hidden
    }
    /// Number of outputs.
    pub fn n_outputs(&self) -> usize {
        self.n_outputs
    }
    /// Sheet shape `(rows, columns)`.
    pub fn sheet(&self) -> (u16, u16) {
        (self.sheet_rows, self.sheet_cols)
    }
    /// Grid pitch: the trainer's physical distance between neighbouring sheet cells (metadata;
    /// the wiring length uses the BIMT unit-square distance, see [`crate::measure`]).
    pub fn pitch(&self) -> f32 {
        self.pitch
    }
    /// The nonlinearity.
    pub fn activation(&self) -> Activation {
        self.activation
    }
    /// Leak alpha in (0, 1].
    pub fn alpha(&self) -> f32 {
        self.alpha
    }
    /// The readout rule.
    pub fn readout(&self) -> Readout {
        self.readout
    }
    /// The training seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Wiring length as the trainer measured it.
    pub fn trained_wiring_length(&self) -> f64 {
        self.wiring_length
    }
    /// Active-connection count as the trainer measured it.
    pub fn trained_active_connections(&self) -> u32 {
        self.active_connections
    }
    /// Number of tasks (= rule inputs).
    pub fn n_tasks(&self) -> usize {
        self.n_tasks
    }
    /// The task names in rule-input order.
    pub fn task_names(&self) -> impl Iterator<Item = &'a str> {
        let s = self.tasks;
        s.split(',').filter(move |_| !s.is_empty())
    }
    /// The task with rule index `i`.
    #[cfg(feature = "tasks")]
    pub fn task(&self, i: usize) -> Option<crate::tasks::Task> {
        crate::tasks::Task::parse(self.task_names().nth(i)?).ok()
    }
    /// Sheet position `(row, column)` of kept hidden unit `unit`.
    pub fn position(&self, unit: usize) -> Option<(u16, u16)> {
        Some((
            self.positions.get(2 * unit)?,
            self.positions.get(2 * unit + 1)?,
        ))
    }
    /// Recurrent weights `W` (row = receiving unit, column = sending unit).
    pub fn recurrent(&self) -> CsrView<'a> {
        self.le.rec
    }
    /// Input weights `W_in` (`n_hidden x n_inputs`).
    pub fn input_weights(&self) -> MatrixView<'a> {
        self.le.w_in
    }
    /// Output weights `W_out` (`n_outputs x n_hidden`).
    pub fn output_weights(&self) -> MatrixView<'a> {
        self.le.w_out
    }
    /// Hidden bias `b_h`.
    pub fn hidden_bias(&self) -> LeSlice<'a, f32> {
        self.le.b_h
    }
    /// Output bias `b_o`.
    pub fn output_bias(&self) -> LeSlice<'a, f32> {
        self.le.b_o
    }
    /// The int8 variant, if the blob carries one.
    pub fn int8(&self) -> Option<Int8View<'a>> {
        self.le.int8
    }
}

/// Header, length, CRC, then the postcard body.
fn open_body(blob: &[u8]) -> Result<Body<'_>, FormatError> {
    let len = blob.len();
    if len < HEADER_LEN + CRC_LEN {
        return Err(FormatError::TooShort { len });
    }
    if blob[0..4] != MAGIC {
        return Err(FormatError::BadMagic);
    }
    let version = u16::from_le_bytes([blob[4], blob[5]]);
    if version != VERSION {
        return Err(FormatError::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    let declared = u32::from_le_bytes([blob[8], blob[9], blob[10], blob[11]]);
    if (declared as usize) > len {
        return Err(FormatError::Truncated { declared, got: len });
    }
    if (declared as usize) < len {
        return Err(FormatError::TrailingBytes { declared, got: len });
    }
    let (covered, tail) = blob.split_at(len - CRC_LEN);
    let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let computed = crc32(covered);
    if stored != computed {
        return Err(FormatError::Crc { stored, computed });
    }
    if blob[6..8] != [0, 0] {
        return Err(FormatError::Malformed);
    }
    match postcard::take_from_bytes::<Body<'_>>(&covered[HEADER_LEN..]) {
        Ok((body, [])) => Ok(body),
        _ => Err(FormatError::Malformed),
    }
}

fn le<'a, T: LeScalar>(
    s: &Section<'a>,
    part: Part,
    n: usize,
) -> Result<LeSlice<'a, T>, FormatError> {
    let expected = n.checked_mul(T::SIZE).ok_or(FormatError::Dimensions)?;
    if s.data.len() != expected {
        return Err(FormatError::Length {
            part,
            expected,
            got: s.data.len(),
        });
    }
    LeSlice::new(s.data).ok_or(FormatError::Dimensions)
}

fn finite(v: LeSlice<'_, f32>, part: Part) -> Result<(), FormatError> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(FormatError::BadValue {
            part,
            index: i as u32,
        }),
        None => Ok(()),
    }
}

fn csr<'a>(
    w: &CsrWire<'a>,
    part: Part,
    rows: usize,
    cols: usize,
) -> Result<CsrView<'a>, FormatError> {
    let row_ptr: LeSlice<'a, u32> = le(&w.row_ptr, part, rows + 1)?;
    let values = LeSlice::<f32>::new(w.values.data).ok_or(FormatError::Length {
        part,
        expected: w.values.data.len() / 4 * 4,
        got: w.values.data.len(),
    })?;
    let nnz = values.len();
    let col_idx: LeSlice<'a, u16> = le(&w.col_idx, part, nnz)?;
    // Offsets first (start at 0, non-decreasing, end at nnz), then the columns of each row.
    let mut prev = 0u32;
    for (r, off) in row_ptr.iter().enumerate() {
        if (r == 0 && off != 0)
            || off < prev
            || off as usize > nnz
            || (r == rows && off as usize != nnz)
        {
            return Err(FormatError::RowOffsets {
                part,
                row: r as u32,
            });
        }
        prev = off;
    }
    for r in 0..rows {
        let bad = FormatError::ColumnIndex {
            part,
            row: r as u32,
        };
        let (start, end) = (row_ptr.get(r).ok_or(bad)?, row_ptr.get(r + 1).ok_or(bad)?);
        let mut last: Option<u16> = None;
        for k in start as usize..end as usize {
            let c = col_idx.get(k).ok_or(bad)?;
            if usize::from(c) >= cols || last.is_some_and(|l| c <= l) {
                return Err(bad);
            }
            last = Some(c);
        }
    }
    finite(values, part)?;
    Ok(Csr {
        rows,
        cols,
        row_ptr,
        col_idx,
        values,
    })
}

fn matrix<'a>(
    w: &MatWire<'a>,
    part: Part,
    rows: usize,
    cols: usize,
) -> Result<MatrixView<'a>, FormatError> {
    match w {
        MatWire::Dense(s) => {
            let n = rows.checked_mul(cols).ok_or(FormatError::Dimensions)?;
            let values = le(s, part, n)?;
            finite(values, part)?;
            Ok(Matrix::Dense { rows, cols, values })
        }
        MatWire::Csr(c) => Ok(Matrix::Csr(csr(c, part, rows, cols)?)),
    }
}

fn bias<'a>(s: &Section<'a>, part: Part, n: usize) -> Result<LeSlice<'a, f32>, FormatError> {
    let v = le(s, part, n)?;
    finite(v, part)?;
    Ok(v)
}

fn quant<'a>(
    q: &Section<'a>,
    scale: &Section<'a>,
    part: Part,
    stored: usize,
    rows: usize,
) -> Result<(&'a [i8], LeSlice<'a, f32>), FormatError> {
    if q.data.len() != stored {
        return Err(FormatError::Length {
            part,
            expected: stored,
            got: q.data.len(),
        });
    }
    let s: LeSlice<'a, f32> = le(scale, part, rows)?;
    if let Some(i) = s.iter().position(|x| !x.is_finite() || x < 0.0) {
        return Err(FormatError::BadValue {
            part,
            index: i as u32,
        });
    }
    Ok((bytemuck::cast_slice(q.data), s))
}

fn check_tasks(tasks: &str) -> Result<usize, FormatError> {
    if tasks.is_empty() {
        return Ok(0);
    }
    let mut n = 0;
    for (i, name) in tasks.split(',').enumerate() {
        #[cfg(feature = "tasks")]
        let ok = crate::tasks::Task::parse(name).is_ok();
        #[cfg(not(feature = "tasks"))]
        let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(FormatError::TaskName { index: i as u32 });
        }
        n += 1;
    }
    Ok(n)
}

/// A nonempty task list must fit the inputs and outputs ([`FormatError::TaskShape`]): the one
/// check for every reader (inspect, eval, deploy sim, firmware).
#[cfg(feature = "tasks")]
pub(crate) fn check_task_shape(n_tasks: usize, n_in: usize, n_out: usize) -> Result<(), FormatError> {
    let (needed_inputs, needed_outputs) = (crate::tasks::n_inputs(n_tasks), crate::tasks::N_CLASSES);
    if n_tasks > 0 && (n_in != needed_inputs || n_out != needed_outputs) {
        let c = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        return Err(FormatError::TaskShape {
            tasks: c(n_tasks),
            inputs: c(n_in),
            outputs: c(n_out),
            needed_inputs: c(needed_inputs),
            needed_outputs: c(needed_outputs),
        });
    }
    Ok(())
}

/// Without the task generator the task names are checked for syntax only, and their shape not.
#[cfg(not(feature = "tasks"))]
pub(crate) fn check_task_shape(_: usize, _: usize, _: usize) -> Result<(), FormatError> {
    Ok(())
}

fn validate<'a>(blob: &'a [u8], b: &Body<'a>) -> Result<ModelView<'a>, FormatError> {
    let (n_in, n_h, n_out) = (
        b.n_inputs as usize,
        b.n_hidden as usize,
        b.n_outputs as usize,
    );
    if n_in == 0 || n_h == 0 || n_out == 0 {
        return Err(FormatError::Dimensions);
    }
    Limit::Inputs.check(b.n_inputs.into())?;
    Limit::Hidden.check(b.n_hidden.into())?;
    Limit::Outputs.check(b.n_outputs.into())?;
    let (rows, cols) = (b.sheet_rows, b.sheet_cols);
    if rows == 0 || cols == 0 || usize::from(rows) * usize::from(cols) < n_h {
        return Err(FormatError::Sheet);
    }
    if !(b.pitch.is_finite() && b.pitch > 0.0) {
        return Err(FormatError::Pitch);
    }
    let activation =
        Activation::from_code(b.activation).ok_or(FormatError::Activation(b.activation))?;
    if !(b.alpha > 0.0 && b.alpha <= 1.0) {
        return Err(FormatError::Alpha);
    }
    let readout = Readout::from_code(b.readout).ok_or(FormatError::Readout(b.readout))?;
    if !(b.wiring_length.is_finite() && b.wiring_length >= 0.0) {
        return Err(FormatError::BadValue {
            part: Part::Scalar,
            index: 0,
        });
    }
    let n_tasks = check_tasks(b.tasks)?;
    check_task_shape(n_tasks, n_in, n_out)?;

    let positions: LeSlice<'a, u16> = le(&b.positions, Part::Positions, 2 * n_h)?;
    let mut prev: Option<usize> = None;
    for u in 0..n_h {
        let bad = FormatError::Position { unit: u as u32 };
        let (r, c) = (
            positions.get(2 * u).ok_or(bad)?,
            positions.get(2 * u + 1).ok_or(bad)?,
        );
        let cell = usize::from(r) * usize::from(cols) + usize::from(c);
        if r >= rows || c >= cols || prev.is_some_and(|p| cell <= p) {
            return Err(bad);
        }
        prev = Some(cell);
    }

    let rec = csr(&b.rec, Part::Recurrent, n_h, n_h)?;
    let e = &b.rec_ell;
    let (head, off) = (
        LeSlice::new(e.head.data).ok_or(FormatError::Malformed)?,
        LeSlice::new(e.off.data).ok_or(FormatError::Malformed)?,
    );
    let rec_ell = ell::validate(&rec, head, off, e.values.data)?;
    let w_in = matrix(&b.w_in, Part::Input, n_h, n_in)?;
    let w_out = matrix(&b.w_out, Part::Output, n_out, n_h)?;
    let b_h = bias(&b.b_h, Part::HiddenBias, n_h)?;
    let b_o = bias(&b.b_o, Part::OutputBias, n_out)?;
    let mut rec_q_pairs = None;
    let int8 = match &b.int8 {
        None => None,
        Some(q) => {
            if q.act_frac_bits > MAX_ACT_FRAC_BITS {
                return Err(FormatError::ActivationFormat(q.act_frac_bits));
            }
            let (rec_q, rec_scale) =
                quant(&q.rec_q, &q.rec_scale, Part::Int8Recurrent, rec.nnz(), n_h)?;
            rec_q_pairs = Some(pairs::validate(&rec, rec_q, q.rec_q_pairs.data)?);
            let (in_q, in_scale) =
                quant(&q.in_q, &q.in_scale, Part::Int8Input, w_in.stored(), n_h)?;
            let (out_q, out_scale) = quant(
                &q.out_q,
                &q.out_scale,
                Part::Int8Output,
                w_out.stored(),
                n_out,
            )?;
            Some(Int8 {
                act_frac_bits: q.act_frac_bits,
                rec_q,
                rec_scale,
                in_q,
                in_scale,
                out_q,
                out_scale,
            })
        }
    };
    let le = Net {
        rec,
        rec_ell,
        rec_q_pairs,
        w_in,
        w_out,
        b_h,
        b_o,
        int8,
    };
    Ok(ModelView {
        blob,
        n_inputs: n_in,
        n_hidden: n_h,
        n_outputs: n_out,
        sheet_rows: rows,
        sheet_cols: cols,
        pitch: b.pitch,
        activation,
        alpha: b.alpha,
        readout,
        tasks: b.tasks,
        n_tasks,
        wiring_length: b.wiring_length,
        active_connections: b.active_connections,
        seed: b.seed,
        positions,
        fast: le.fast(),
        le,
    })
}
