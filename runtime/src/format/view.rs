//! [`ModelView`]: a model blob opened and validated once, then read in place.

use super::arrays::{Csr, CsrView, F32Net, FastNet, Int8Net, LeNet, Matrix, MatrixView, Net, Rec};
use super::crc::crc32;
use super::diag;
use super::ell;
use super::enums::{Activation, Readout};
use super::error::{FormatError, Part};
use super::le::{LeScalar, LeSlice};
use super::limits::Limit;
use super::pairs;
use super::weights::{Int8View, Precision, WeightsView};
use super::wire::{Body, BodyV4, CsrWire, MatWire, RecWire, Section};
use super::{CRC_LEN, HEADER_LEN, MAGIC, OLDEST_READ, VERSION};

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
    /// Stored recurrent weights of the f32 and the int8 layouts.
    rec_stored: (usize, usize),
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

    /// The blob's format version ([`super::OLDEST_READ`] ..= [`super::VERSION`]).
    pub fn version(&self) -> u16 {
        match self.blob {
            [_, _, _, _, a, b, ..] => u16::from_le_bytes([*a, *b]),
            _ => VERSION,
        }
    }
    /// The blob's bytes (its length is the model's flash footprint).
    pub fn blob(&self) -> &'a [u8] {
        self.blob
    }
    /// True when every array is borrowed as a plain slice (blob 4-aligned, little-endian target,
    /// version 5 or later: a version-4 blob's arrays are misaligned at any address);
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
    /// True when the blob carries the f32 weights ([`crate::kernel::step`] runs).
    pub fn has_f32(&self) -> bool {
        self.le.f32.is_some()
    }
    /// The int8 weights' activation format and row scales, if the blob carries them
    /// ([`crate::kernel::step_int8`] runs).
    pub fn int8(&self) -> Option<Int8View<'a>> {
        self.le.int8.as_ref().map(|q| Int8View {
            act_frac_bits: q.act_frac_bits,
            rec_scale: q.rec_scale,
            in_scale: q.in_scale,
            out_scale: q.out_scale,
        })
    }
    /// The precision the accessors without one read: f32 when the blob has it, else int8.
    pub fn precision(&self) -> Precision {
        if self.has_f32() {
            Precision::F32
        } else {
            Precision::Int8
        }
    }
    /// Recurrent weights `W` (row = receiving unit, column = sending unit) in `precision`, if
    /// the blob carries them.
    pub fn recurrent_of(&self, precision: Precision) -> Option<WeightsView<'a>> {
        let n = self.n_hidden;
        match precision {
            Precision::F32 => self.le.f32.map(|f| match f.rec {
                Rec::Rows(e) => WeightsView::ell(e, n, self.rec_stored.0),
                Rec::Diagonal(d) => WeightsView::diag(d, self.rec_stored.0),
            }),
            Precision::Int8 => self
                .le
                .int8
                .map(|q| WeightsView::pairs(q.rec, q.rec_scale, n, n, self.rec_stored.1)),
        }
    }
    /// Input weights `W_in` (`n_hidden x n_inputs`) in `precision`, if the blob carries them.
    pub fn input_weights_of(&self, precision: Precision) -> Option<WeightsView<'a>> {
        match precision {
            Precision::F32 => self.le.f32.map(|f| WeightsView::f32(f.w_in)),
            Precision::Int8 => self.le.int8.map(|q| WeightsView::int8(q.w_in, q.in_scale)),
        }
    }
    /// Output weights `W_out` (`n_outputs x n_hidden`) in `precision`, if the blob carries them.
    pub fn output_weights_of(&self, precision: Precision) -> Option<WeightsView<'a>> {
        match precision {
            Precision::F32 => self.le.f32.map(|f| WeightsView::f32(f.w_out)),
            Precision::Int8 => self
                .le
                .int8
                .map(|q| WeightsView::int8(q.w_out, q.out_scale)),
        }
    }
    /// Recurrent weights in [`ModelView::precision`] (every blob has them).
    pub fn recurrent(&self) -> WeightsView<'a> {
        self.pick(Self::recurrent_of)
    }
    /// Input weights in [`ModelView::precision`].
    pub fn input_weights(&self) -> WeightsView<'a> {
        self.pick(Self::input_weights_of)
    }
    /// Output weights in [`ModelView::precision`].
    pub fn output_weights(&self) -> WeightsView<'a> {
        self.pick(Self::output_weights_of)
    }
    fn pick(&self, f: fn(&Self, Precision) -> Option<WeightsView<'a>>) -> WeightsView<'a> {
        match f(self, self.precision()) {
            Some(w) => w,
            // Opening refuses a blob with neither f32 nor int8 weights.
            None => WeightsView::f32(Matrix::Dense {
                rows: 0,
                cols: 0,
                values: LeSlice::EMPTY,
            }),
        }
    }
    /// Hidden bias `b_h`.
    pub fn hidden_bias(&self) -> LeSlice<'a, f32> {
        self.le.b_h
    }
    /// Output bias `b_o`.
    pub fn output_bias(&self) -> LeSlice<'a, f32> {
        self.le.b_o
    }
    /// The layout of the f32 recurrent weights (`None` in an int8-only blob).
    #[cfg(feature = "std")]
    pub fn rec_layout(&self) -> Option<super::RecLayout> {
        self.le.f32.map(|f| match f.rec {
            Rec::Rows(_) => super::RecLayout::Rows,
            Rec::Diagonal(_) => super::RecLayout::Diagonal,
        })
    }
    /// Every array of the blob with its name and where its bytes lie in the blob (alignment
    /// pads and framing excluded), in storage order: what each part of the model costs in
    /// flash (feature `std`).
    #[cfg(feature = "std")]
    pub fn sections(&self) -> Vec<(&'static str, core::ops::Range<usize>)> {
        let base = self.blob.as_ptr() as usize;
        match open_body(self.blob) {
            Ok(body) => body
                .named_sections()
                .into_iter()
                .map(|(name, s)| {
                    let start = s.data.as_ptr() as usize - base;
                    (name, start..start + s.data.len())
                })
                .collect(),
            Err(_) => Vec::new(),
        }
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
    if !(OLDEST_READ..=VERSION).contains(&version) {
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
    let bytes = &covered[HEADER_LEN..];
    // Versions 5 and 6 share the body (6 added a variant, `MatWire::ByColumn`, at the end of an
    // enum, which `validate` refuses in a version-5 blob).
    let body = if version >= 5 {
        match postcard::take_from_bytes::<Body<'_>>(bytes) {
            Ok((body, [])) => body,
            _ => return Err(FormatError::Malformed),
        }
    } else {
        match postcard::take_from_bytes::<BodyV4<'_>>(bytes) {
            Ok((body, [])) => body.into(),
            _ => return Err(FormatError::Malformed),
        }
    };
    // Alignment pads are 0-3 zero bytes, so that a blob has one encoding.
    let mut pads_ok = true;
    body.for_each_section(|_, s| pads_ok &= s.pad.len() < 4 && s.pad.iter().all(|&b| b == 0));
    if !pads_ok {
        return Err(FormatError::Malformed);
    }
    Ok(body)
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
    check_rows(row_ptr, col_idx, nnz, part, rows, cols)?;
    finite(values, part)?;
    Ok(Csr {
        rows,
        cols,
        row_ptr,
        col_idx,
        values,
    })
}

/// Row offsets start at 0, never decrease, end at `nnz`; columns within each row strictly
/// increase and stay below `cols`.
fn check_rows(
    row_ptr: LeSlice<'_, u32>,
    col_idx: LeSlice<'_, u16>,
    nnz: usize,
    part: Part,
    rows: usize,
    cols: usize,
) -> Result<(), FormatError> {
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
    Ok(())
}

/// Whether a matrix may be stored by column: the input matrices of a version-6 blob.
#[derive(Clone, Copy)]
struct ByColumnOk(bool);

impl ByColumnOk {
    fn check(self, part: Part) -> Result<(), FormatError> {
        if self.0 {
            Ok(())
        } else {
            Err(FormatError::ByColumn { part })
        }
    }
}

fn matrix<'a>(
    w: &MatWire<'a>,
    part: Part,
    rows: usize,
    cols: usize,
    by_column: ByColumnOk,
) -> Result<MatrixView<'a>, FormatError> {
    let dense = |s: &Section<'a>| {
        let n = rows.checked_mul(cols).ok_or(FormatError::Dimensions)?;
        let values = le(s, part, n)?;
        finite(values, part)?;
        Ok(values)
    };
    match w {
        MatWire::Dense(s) => Ok(Matrix::Dense {
            rows,
            cols,
            values: dense(s)?,
        }),
        MatWire::Csr(c) => Ok(Matrix::Csr(csr(c, part, rows, cols)?)),
        MatWire::ByColumn(s) => {
            by_column.check(part)?;
            Ok(Matrix::ByColumn {
                rows,
                cols,
                values: dense(s)?,
            })
        }
    }
}

fn bias<'a>(s: &Section<'a>, part: Part, n: usize) -> Result<LeSlice<'a, f32>, FormatError> {
    let v = le(s, part, n)?;
    finite(v, part)?;
    Ok(v)
}

/// Per-row scales: finite and >= 0.
fn scales<'a>(s: &Section<'a>, part: Part, rows: usize) -> Result<LeSlice<'a, f32>, FormatError> {
    let v: LeSlice<'a, f32> = le(s, part, rows)?;
    if let Some(i) = v.iter().position(|x| !x.is_finite() || x < 0.0) {
        return Err(FormatError::BadValue {
            part,
            index: i as u32,
        });
    }
    Ok(v)
}

/// An int8 input or output matrix: dense (`rows * cols` i8) or compressed rows of its nonzero
/// `q` (offsets and columns checked as for f32; every `q` in -127..=127, nonzero when sparse).
fn qmatrix<'a>(
    w: &MatWire<'a>,
    part: Part,
    rows: usize,
    cols: usize,
    by_column: ByColumnOk,
) -> Result<super::arrays::QMatrixView<'a>, FormatError> {
    let in_range = |q: &[i8], sparse: bool| {
        q.iter()
            .position(|&v| v == i8::MIN || (sparse && v == 0))
            .map_or(Ok(()), |i| {
                Err(FormatError::BadValue {
                    part,
                    index: i as u32,
                })
            })
    };
    let dense = |s: &Section<'a>| {
        let n = rows.checked_mul(cols).ok_or(FormatError::Dimensions)?;
        if s.data.len() != n {
            return Err(FormatError::Length {
                part,
                expected: n,
                got: s.data.len(),
            });
        }
        let values: &'a [i8] = bytemuck::cast_slice(s.data);
        in_range(values, false)?;
        Ok(values)
    };
    match w {
        MatWire::Dense(s) => Ok(Matrix::Dense {
            rows,
            cols,
            values: dense(s)?,
        }),
        MatWire::ByColumn(s) => {
            by_column.check(part)?;
            Ok(Matrix::ByColumn {
                rows,
                cols,
                values: dense(s)?,
            })
        }
        MatWire::Csr(c) => {
            let row_ptr: LeSlice<'a, u32> = le(&c.row_ptr, part, rows + 1)?;
            let values: &'a [i8] = bytemuck::cast_slice(c.values.data);
            let nnz = values.len();
            let col_idx: LeSlice<'a, u16> = le(&c.col_idx, part, nnz)?;
            check_rows(row_ptr, col_idx, nnz, part, rows, cols)?;
            in_range(values, true)?;
            Ok(Matrix::Csr(Csr {
                rows,
                cols,
                row_ptr,
                col_idx,
                values,
            }))
        }
    }
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
pub(crate) fn check_task_shape(
    n_tasks: usize,
    n_in: usize,
    n_out: usize,
) -> Result<(), FormatError> {
    let (needed_inputs, needed_outputs) =
        (crate::tasks::n_inputs(n_tasks), crate::tasks::N_CLASSES);
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
    // Version 6 added the input matrices stored by column.
    let by_column = ByColumnOk(matches!(blob.get(4..6), Some(&[v, 0]) if v >= 6));

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

    let b_h = bias(&b.b_h, Part::HiddenBias, n_h)?;
    let b_o = bias(&b.b_o, Part::OutputBias, n_out)?;
    let (mut f32_stored, mut int8_stored) = (0, 0);
    let f32 = match &b.f32 {
        None => None,
        Some(f) => {
            let u16s = |s: &Section<'a>| LeSlice::new(s.data).ok_or(FormatError::Malformed);
            let (rec, nnz) = match &f.rec {
                RecWire::Rows(e) => {
                    let (rec, nnz) =
                        ell::validate(n_h, n_h, u16s(&e.head)?, u16s(&e.off)?, e.values.data)?;
                    (Rec::Rows(rec), nnz)
                }
                RecWire::Diagonal(d) => {
                    let (rec, nnz) =
                        diag::validate(n_h, u16s(&d.counts)?, u16s(&d.diags)?, d.values.data)?;
                    (Rec::Diagonal(rec), nnz)
                }
            };
            f32_stored = nnz;
            Some(F32Net {
                rec,
                w_in: matrix(&f.w_in, Part::Input, n_h, n_in, by_column)?,
                w_out: matrix(&f.w_out, Part::Output, n_out, n_h, ByColumnOk(false))?,
            })
        }
    };
    let int8 = match &b.int8 {
        None => None,
        Some(q) => {
            Limit::ActFracBits
                .check(q.act_frac_bits.into())
                .map_err(|_| FormatError::ActivationFormat(q.act_frac_bits))?;
            let (rec, nnz) = pairs::validate(n_h, n_h, q.rec.data)?;
            int8_stored = nnz;
            Some(Int8Net {
                act_frac_bits: q.act_frac_bits,
                rec,
                rec_scale: scales(&q.rec_scale, Part::Int8Recurrent, n_h)?,
                w_in: qmatrix(&q.w_in, Part::Int8Input, n_h, n_in, by_column)?,
                in_scale: scales(&q.in_scale, Part::Int8Input, n_h)?,
                w_out: qmatrix(&q.w_out, Part::Int8Output, n_out, n_h, ByColumnOk(false))?,
                out_scale: scales(&q.out_scale, Part::Int8Output, n_out)?,
            })
        }
    };
    if f32.is_none() && int8.is_none() {
        return Err(FormatError::NoWeights);
    }
    let le = Net {
        f32,
        int8,
        b_h,
        b_o,
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
        rec_stored: (f32_stored, int8_stored),
    })
}
