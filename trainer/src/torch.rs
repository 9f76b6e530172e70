//! Weights in and out of PyTorch and NumPy (`gyrus import`, `gyrus export --format torch`).
//!
//! Reading ([`read_weights`]): a safetensors file (what `safetensors.torch.save_file(state_dict)`
//! writes; F32, F64, F16, BF16 and integer/bool dtypes) or a NumPy `.npz` (`np.savez`,
//! `np.savez_compressed`), every tensor converted to f32, plus the file's metadata (safetensors
//! `__metadata__`; in an npz, a one-string array `__metadata__` holding a JSON object) and, in an
//! npz, string arrays such as `tasks`.
//!
//! Naming ([`find_parts`]): which tensor is which part of the network. Two layouts are recognised
//! by name, under any prefix (`model.`, `module.`):
//! - PyTorch `nn.RNN` (one layer, one direction): `weight_ih_l0` [N, I], `weight_hh_l0` [N, N],
//!   `bias_ih_l0` and `bias_hh_l0` \[N\] (summed into b_h; both optional);
//! - the leaky RNN of the multitask literature (the `CTRNN` of the PyTorch ports of Yang et al.,
//!   h' = (1 - alpha) h + alpha phi(input2h(x) + h2h(h)), alpha = dt / tau): `input2h.weight`
//!   [N, I], `input2h.bias`, `h2h.weight` [N, N], `h2h.bias`;
//!
//! the readout is the one other `*.weight` of shape [17, N] (an `nn.Linear`, any name) with its
//! `*.bias`; the optional recurrent mask is a tensor whose name ends in `mask` ([N, N], 0/1), the
//! optional unit positions one whose name ends in `positions` ([N, 2], integer sheet row and
//! column). `--map ROLE=TENSOR` names any part explicitly ([`ROLES`]).
//!
//! Writing ([`state_dict`], [`save_state_dict`]): the state dict of [`module_doc`]'s module.

use crate::model::{Activation, Network, Sheet, Structure};
use crate::npz::{self, Array};
use crate::tasks::Tasks;
use crate::train::config::RunConfig;
use anyhow::{anyhow, bail, Context, Result};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::BTreeMap;
use std::path::Path;

/// The metadata key of the file format written by [`state_dict`].
pub const FORMAT_KEY: &str = "format";
/// Its value.
pub const FORMAT: &str = "gyrus-torch-1";
/// The metadata key holding the whole run config (TOML) of an exported network.
pub const CONFIG_KEY: &str = "gyrus_config";
/// The npz array that holds the metadata (a one-element string array of a JSON object).
pub const NPZ_META: &str = "__metadata__";

/// A tensor read from a weight file, converted to f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Shape, row-major.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
    /// The stored element type (`F32`, `<f8`, ...), for messages.
    pub dtype: String,
}

/// A weight file: numeric tensors, string arrays (npz only) and metadata, by name.
#[derive(Clone, Debug, Default)]
pub struct WeightFile {
    /// Numeric tensors.
    pub tensors: BTreeMap<String, Tensor>,
    /// String arrays (npz `<U..` arrays), e.g. `tasks`.
    pub strings: BTreeMap<String, Vec<String>>,
    /// Metadata entries.
    pub meta: BTreeMap<String, String>,
}

impl WeightFile {
    /// A tensor by name, with an error that lists the names the file has.
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        self.tensors.get(name).ok_or_else(|| {
            anyhow!(
                "the file has no tensor `{name}` (it has: {})",
                self.tensors
                    .iter()
                    .map(|(n, t)| format!("{n} {:?}", t.shape))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}

/// The values of a safetensors tensor as f32.
fn safetensors_values(name: &str, view: &TensorView<'_>) -> Result<Vec<f32>> {
    let d = view.data();
    macro_rules! conv {
        ($n:expr, $f:expr) => {
            d.chunks_exact($n).map($f).collect()
        };
    }
    Ok(match view.dtype() {
        Dtype::F32 => conv!(4, |c: &[u8]| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        Dtype::F64 => conv!(8, |c: &[u8]| f64::from_le_bytes(c.try_into().unwrap())
            as f32),
        Dtype::F16 => conv!(2, |c: &[u8]| npz::half_to_f32(u16::from_le_bytes([
            c[0], c[1]
        ]))),
        Dtype::BF16 => conv!(2, |c: &[u8]| f32::from_bits(
            u32::from(u16::from_le_bytes([c[0], c[1]])) << 16
        )),
        Dtype::I64 => conv!(8, |c: &[u8]| i64::from_le_bytes(c.try_into().unwrap())
            as f32),
        Dtype::I32 => conv!(4, |c: &[u8]| i32::from_le_bytes(c.try_into().unwrap())
            as f32),
        Dtype::I16 => conv!(2, |c: &[u8]| f32::from(i16::from_le_bytes([c[0], c[1]]))),
        Dtype::I8 => d.iter().map(|&b| f32::from(b as i8)).collect(),
        Dtype::U8 | Dtype::BOOL => d.iter().map(|&b| f32::from(b)).collect(),
        other => bail!("tensor `{name}` has the element type {other:?}, which gyrus does not read"),
    })
}

/// Reads a safetensors file or an npz archive (told apart by their first bytes).
pub fn read_weights(path: &Path) -> Result<WeightFile> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.starts_with(b"PK") {
        read_npz_weights(&bytes)
            .with_context(|| format!("reading {} as an npz archive", path.display()))
    } else {
        read_safetensors_weights(&bytes)
            .with_context(|| format!("reading {} as a safetensors file", path.display()))
    }
}

fn read_safetensors_weights(bytes: &[u8]) -> Result<WeightFile> {
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| anyhow!("not a safetensors file ({e})"))?;
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| anyhow!("not a valid safetensors file ({e})"))?;
    let mut out = WeightFile {
        meta: header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        ..WeightFile::default()
    };
    for (name, view) in st.tensors() {
        let values = safetensors_values(&name, &view)?;
        out.tensors.insert(
            name,
            Tensor {
                shape: view.shape().to_vec(),
                values,
                dtype: format!("{:?}", view.dtype()),
            },
        );
    }
    Ok(out)
}

fn read_npz_weights(bytes: &[u8]) -> Result<WeightFile> {
    let mut out = WeightFile::default();
    for (name, array) in npz::read_npz(bytes)? {
        if array.descr.starts_with("<U") {
            let strings = array.to_strings()?;
            if name == NPZ_META {
                let text = strings.first().map(String::as_str).unwrap_or("{}");
                let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(text)
                    .context("the npz array __metadata__ is not a JSON object")?;
                for (k, v) in map {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    out.meta.insert(k, v);
                }
            } else {
                out.strings.insert(name, strings);
            }
            continue;
        }
        let values = array
            .to_f32_converted()
            .with_context(|| format!("array `{name}`"))?;
        out.tensors.insert(
            name,
            Tensor {
                shape: array.shape.clone(),
                values,
                dtype: array.descr.clone(),
            },
        );
    }
    Ok(out)
}

/// The parts of a network a weight file can provide, as `--map` names them: role, expected shape,
/// what it is.
pub const ROLES: [(&str, &str, &str); 7] = [
    ("w_rec", "[N, N]", "recurrent weights, row = receiving unit"),
    ("w_in", "[N, I]", "input weights (I = 33 + number of tasks)"),
    (
        "b_h",
        "[N]",
        "hidden bias (give it twice, or A+B, to sum two tensors)",
    ),
    ("w_out", "[17, N]", "readout weights"),
    ("b_o", "[17]", "readout bias"),
    ("mask", "[N, N]", "0/1 recurrent mask (optional)"),
    (
        "positions",
        "[N, 2]",
        "sheet row and column of each unit (optional)",
    ),
];

/// The naming layout of a weight file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameLayout {
    /// PyTorch `nn.RNN` names.
    TorchRnn,
    /// The leaky RNN (`input2h`, `h2h`) of the multitask literature.
    Leaky,
    /// Only `--map` names.
    Map,
}

impl NameLayout {
    /// How the layout is called in messages and metadata.
    pub fn name(self) -> &'static str {
        match self {
            NameLayout::TorchRnn => "nn.RNN",
            NameLayout::Leaky => "leaky",
            NameLayout::Map => "--map",
        }
    }
}

/// Which tensors make which part of the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parts {
    /// The naming layout recognised.
    pub layout: NameLayout,
    /// Recurrent weights [N, N].
    pub w_rec: String,
    /// Input weights [N, I].
    pub w_in: String,
    /// Hidden bias: the sum of these \[N\] tensors (none: zero).
    pub b_h: Vec<String>,
    /// Readout [O, N].
    pub w_out: String,
    /// Readout bias \[O\] (none: zero).
    pub b_o: Option<String>,
    /// 0/1 mask [N, N].
    pub mask: Option<String>,
    /// Unit positions [N, 2].
    pub positions: Option<String>,
}

impl Parts {
    /// The tensors read, in role order.
    pub fn used(&self) -> Vec<&str> {
        let mut v = vec![self.w_rec.as_str(), self.w_in.as_str()];
        v.extend(self.b_h.iter().map(String::as_str));
        v.push(&self.w_out);
        v.extend(self.b_o.as_deref());
        v.extend(self.mask.as_deref());
        v.extend(self.positions.as_deref());
        v
    }
}

/// The name's last component (after the last `.` or `/`).
fn last_component(name: &str) -> &str {
    name.rsplit(['.', '/']).next().unwrap_or(name)
}

/// Names that end with `suffix` at a component boundary, with the prefix before it.
fn with_suffix<'a>(file: &'a WeightFile, suffix: &str) -> Vec<(&'a str, String)> {
    file.tensors
        .keys()
        .filter_map(|n| {
            let p = n.strip_suffix(suffix)?;
            (p.is_empty() || p.ends_with('.') || p.ends_with('/'))
                .then(|| (n.as_str(), p.to_string()))
        })
        .collect()
}

fn one_of(what: &str, found: Vec<String>) -> Result<Option<String>> {
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.into_iter().next()),
        _ => bail!(
            "several tensors could be the {what}: {}; name one with --map",
            found.join(", ")
        ),
    }
}

/// Finds the network's parts in `file` from `maps` (`ROLE=TENSOR`) and the names (module doc).
pub fn find_parts(file: &WeightFile, maps: &[String]) -> Result<Parts> {
    let mut mapped: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for m in maps {
        let (role, names) = m
            .split_once('=')
            .ok_or_else(|| anyhow!("--map {m:?} is not ROLE=TENSOR"))?;
        let role = role.trim();
        let Some((r, _, _)) = ROLES.iter().find(|(r, _, _)| *r == role) else {
            bail!(
                "--map {m:?}: unknown part {role:?} (parts: {})",
                ROLES.map(|(r, s, _)| format!("{r} {s}")).join(", ")
            );
        };
        for name in names.split('+').map(str::trim) {
            file.get(name).with_context(|| format!("--map {m}"))?;
            mapped.entry(r).or_default().push(name.to_string());
        }
        if *r != "b_h" && mapped[r].len() > 1 {
            bail!("--map gives {r} more than one tensor (only b_h sums several)");
        }
    }
    let single = |r: &str| mapped.get(r).map(|v| v[0].clone());
    // The recurrent core by its names.
    let rnn = with_suffix(file, "weight_hh_l0");
    let leaky = with_suffix(file, "h2h.weight");
    let (layout, prefix) = match (rnn.len(), leaky.len()) {
        (1, 0) => (NameLayout::TorchRnn, Some(rnn[0].1.clone())),
        (0, 1) => (NameLayout::Leaky, Some(leaky[0].1.clone())),
        (0, 0) => (NameLayout::Map, None),
        _ if mapped.contains_key("w_rec") => (NameLayout::Map, None),
        _ => bail!(
            "several recurrent layers: {}; name the parts with --map",
            rnn.iter()
                .chain(&leaky)
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let has = |n: &str| file.tensors.contains_key(n);
    let (mut w_rec, mut w_in, mut b_h) = (None, None, Vec::new());
    if let Some(p) = &prefix {
        match layout {
            NameLayout::TorchRnn => {
                for extra in ["weight_hh_l1", "weight_hh_l0_reverse"] {
                    if has(&format!("{p}{extra}")) {
                        bail!(
                            "`{p}{extra}`: gyrus networks have one recurrent layer in one direction \
                             (nn.RNN with num_layers = 1, bidirectional = False)"
                        );
                    }
                }
                w_rec = Some(format!("{p}weight_hh_l0"));
                w_in = Some(format!("{p}weight_ih_l0"));
                b_h = [format!("{p}bias_ih_l0"), format!("{p}bias_hh_l0")]
                    .into_iter()
                    .filter(|n| has(n))
                    .collect();
            }
            _ => {
                w_rec = Some(format!("{p}h2h.weight"));
                w_in = Some(format!("{p}input2h.weight"));
                b_h = [format!("{p}input2h.bias"), format!("{p}h2h.bias")]
                    .into_iter()
                    .filter(|n| has(n))
                    .collect();
            }
        }
    }
    let w_rec = single("w_rec").or(w_rec).ok_or_else(|| {
        anyhow!(
            "no recurrent weights: the file has neither nn.RNN names (`weight_hh_l0`) nor the leaky \
             layout's (`h2h.weight`); name the parts with --map ROLE=TENSOR (roles: {}). Tensors: {}",
            ROLES.map(|(r, s, _)| format!("{r} {s}")).join(", "),
            file.tensors
                .iter()
                .map(|(n, t)| format!("{n} {:?}", t.shape))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let w_in = single("w_in")
        .or(w_in)
        .ok_or_else(|| anyhow!("no input weights: name them with --map w_in=TENSOR"))?;
    file.get(&w_in).context("the input weights")?;
    if let Some(v) = mapped.get("b_h") {
        b_h = v.clone();
    }
    let n = file.get(&w_rec)?.shape.first().copied().unwrap_or(0);
    let core: Vec<&str> = [w_rec.as_str(), w_in.as_str()]
        .into_iter()
        .chain(b_h.iter().map(String::as_str))
        .collect();
    let w_out = match single("w_out") {
        Some(w) => w,
        None => {
            let found = file
                .tensors
                .iter()
                .filter(|(name, t)| {
                    !core.contains(&name.as_str())
                        && last_component(name).ends_with("weight")
                        && t.shape.len() == 2
                        && t.shape[1] == n
                })
                .map(|(name, _)| name.clone())
                .collect();
            one_of("readout (an nn.Linear weight [17, N])", found)?.ok_or_else(|| {
                anyhow!(
                    "no readout: no `*.weight` tensor of shape [17, {n}] besides the recurrent \
                     layer's; name it with --map w_out=TENSOR"
                )
            })?
        }
    };
    let b_o = match single("b_o") {
        Some(b) => Some(b),
        None => w_out
            .strip_suffix("weight")
            .map(|p| format!("{p}bias"))
            .filter(|b| has(b)),
    };
    let by_suffix = |suffix: &str| -> Vec<String> {
        file.tensors
            .keys()
            .filter(|n| {
                !core.contains(&n.as_str())
                    && *n != &w_out
                    && last_component(n).to_ascii_lowercase().ends_with(suffix)
            })
            .cloned()
            .collect()
    };
    let mask = match single("mask") {
        Some(m) => Some(m),
        None => one_of("recurrent mask", by_suffix("mask"))?,
    };
    let positions = match single("positions") {
        Some(p) => Some(p),
        None => one_of("unit positions", by_suffix("positions"))?,
    };
    let layout = if mapped.contains_key("w_rec") || mapped.contains_key("w_in") {
        NameLayout::Map
    } else {
        layout
    };
    Ok(Parts {
        layout,
        w_rec,
        w_in,
        b_h,
        w_out,
        b_o,
        mask,
        positions,
    })
}

/// A tensor checked against its expected shape: the error names the tensor, its shape and the
/// expected one (`why` says where the expected numbers come from).
pub fn expect_shape<'a>(
    file: &'a WeightFile,
    name: &str,
    role: &str,
    shape: &[usize],
    why: &str,
) -> Result<&'a Tensor> {
    let t = file.get(name)?;
    if t.shape != shape {
        bail!(
            "tensor `{name}` ({role}) has shape {:?}, expected {shape:?} ({why})",
            t.shape
        );
    }
    if let Some(p) = t.values.iter().position(|v| !v.is_finite()) {
        bail!(
            "tensor `{name}` ({role}) has a non-finite value ({}) at flat index {p}",
            t.values[p]
        );
    }
    Ok(t)
}

/// The network's weights as plain dense arrays, in one unit order.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseNet {
    /// Hidden units N.
    pub n: usize,
    /// Inputs I.
    pub n_in: usize,
    /// Recurrent weights [N, N].
    pub w_rec: Vec<f32>,
    /// Input weights [N, I].
    pub w_in: Vec<f32>,
    /// Hidden bias \[N\].
    pub b_h: Vec<f32>,
    /// Readout [O, N].
    pub w_out: Vec<f32>,
    /// Readout bias \[O\].
    pub b_o: Vec<f32>,
    /// Allowed recurrent connections [N, N] (true = allowed).
    pub mask: Vec<bool>,
}

impl DenseNet {
    /// Reorders the hidden units: new unit `k` is old unit `perm[k]`.
    pub fn permute(&mut self, perm: &[usize]) {
        let (n, i_n) = (self.n, self.n_in);
        let o = self.b_o.len();
        let old = self.clone();
        for (a, &pa) in perm.iter().enumerate() {
            for (b, &pb) in perm.iter().enumerate() {
                self.w_rec[a * n + b] = old.w_rec[pa * n + pb];
                self.mask[a * n + b] = old.mask[pa * n + pb];
            }
            self.w_in[a * i_n..(a + 1) * i_n].copy_from_slice(&old.w_in[pa * i_n..(pa + 1) * i_n]);
            self.b_h[a] = old.b_h[pa];
            for k in 0..o {
                self.w_out[k * n + a] = old.w_out[k * n + pa];
            }
        }
    }

    /// Loads these weights into `net` (same N, I and O), whose structure must hold them: for a
    /// sparse structure, the mask must equal it and every weight outside it must be zero; for the
    /// frozen identity, W must be I. `w_rec_name` and `mask_name` name the tensors in errors.
    pub fn load_into(&self, net: &mut Network, w_rec_name: &str, mask_name: &str) -> Result<()> {
        let n = self.n;
        let family = net.config().family_label();
        let allowed: Vec<bool> = match net.structure() {
            Structure::Dense => vec![true; n * n],
            Structure::Sparse(m) => {
                let mut a = vec![false; n * n];
                for i in 0..n {
                    for &j in m.row(i) {
                        a[i * n + j as usize] = true;
                    }
                }
                a
            }
            Structure::FrozenIdentity => (0..n * n).map(|k| k / n == k % n).collect(),
        };
        if let Some(k) = (0..n * n).find(|&k| allowed[k] != self.mask[k]) {
            bail!(
                "the recurrent mask ({mask_name}) does not match family {family}: connection \
                 {} -> {} is {} in the mask and {} in the family",
                k % n,
                k / n,
                u8::from(self.mask[k]),
                u8::from(allowed[k])
            );
        }
        if let Some(k) = (0..n * n).find(|&k| !allowed[k] && self.w_rec[k] != 0.0) {
            bail!(
                "tensor `{w_rec_name}` has the weight {} at [{}, {}], outside the connections of \
                 family {family}",
                self.w_rec[k],
                k / n,
                k % n
            );
        }
        match net.structure().clone() {
            Structure::Dense => net.load_tensor("w_rec", &self.w_rec)?,
            Structure::Sparse(m) => {
                let mut v = vec![0.0; m.nnz()];
                m.gather(&self.w_rec, &mut v);
                net.load_tensor("w_rec", &v)?;
            }
            Structure::FrozenIdentity => {
                if let Some(k) = (0..n).find(|&i| self.w_rec[i * n + i] != 1.0) {
                    bail!(
                        "tensor `{w_rec_name}` has {} at [{k}, {k}]; family frozen-autapse fixes \
                         the diagonal at 1",
                        self.w_rec[k * n + k]
                    );
                }
            }
        }
        net.load_tensor("w_in", &self.w_in)?;
        net.load_tensor("b_h", &self.b_h)?;
        net.load_tensor("w_out", &self.w_out)?;
        net.load_tensor("b_o", &self.b_o)?;
        Ok(())
    }
}

/// The permutation that puts units at `positions` ([N, 2] row, column) into the row-major order
/// of `sheet`: new unit `k` is old unit `perm[k]`. Every cell must hold exactly one unit.
pub fn sheet_order(name: &str, positions: &[f32], sheet: Sheet) -> Result<Vec<usize>> {
    let n = sheet.n_units();
    let mut perm = vec![usize::MAX; n];
    for (u, p) in positions.chunks_exact(2).enumerate() {
        let (r, c) = (p[0], p[1]);
        let cell = |v: f32, side: usize| {
            (v.fract() == 0.0 && v >= 0.0 && (v as usize) < side).then_some(v as usize)
        };
        let (Some(r), Some(c)) = (cell(r, sheet.rows), cell(c, sheet.cols)) else {
            bail!(
                "tensor `{name}`: unit {u} is at ({r}, {c}), not a cell of the {}x{} sheet \
                 (positions are integer row, column pairs from 0)",
                sheet.rows,
                sheet.cols
            );
        };
        let k = sheet.index(r, c);
        if perm[k] != usize::MAX {
            bail!(
                "tensor `{name}`: units {} and {u} are both at ({r}, {c})",
                perm[k]
            );
        }
        perm[k] = u;
    }
    Ok(perm)
}

/// The smallest sheet that holds `positions` ([N, 2] row, column).
pub fn bounding_sheet(positions: &[f32]) -> Sheet {
    let side = |k: usize| {
        positions
            .chunks_exact(2)
            .map(|p| p[k].max(0.0) as usize + 1)
            .max()
            .unwrap_or(0)
    };
    Sheet::new(side(0), side(1))
}

/// Whether a network is written in the `nn.RNN` layout (alpha 1, relu or tanh) or the leaky one.
pub fn export_layout(cfg: &RunConfig) -> NameLayout {
    if cfg.net.alpha == 1.0 && cfg.net.activation != Activation::Softplus {
        NameLayout::TorchRnn
    } else {
        NameLayout::Leaky
    }
}

/// A state dict to write: tensors (name, shape, values) and metadata.
#[derive(Clone, Debug)]
pub struct StateDict {
    /// The naming layout.
    pub layout: NameLayout,
    /// Tensors in writing order.
    pub tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
    /// Metadata (safetensors `__metadata__`; the npz `__metadata__` array as JSON).
    pub meta: BTreeMap<String, String>,
}

/// The Python module that a state dict written by [`state_dict`] fits (README, "PyTorch and
/// NumPy").
pub fn module_doc(layout: NameLayout) -> &'static str {
    match layout {
        NameLayout::TorchRnn => {
            "GyrusNet: rnn = nn.RNN(I, N, nonlinearity=activation), readout = nn.Linear(N, 17), \
             buffers mask [N, N] and positions [N, 2]"
        }
        _ => {
            "GyrusNet: rnn = LeakyRNN(I, N, alpha, activation) (input2h = nn.Linear(I, N), \
             h2h = nn.Linear(N, N)), readout = nn.Linear(N, 17), buffers mask [N, N] and \
             positions [N, 2]"
        }
    }
}

/// The state dict of a run's network: the recurrent layer (`rnn.*`, [`export_layout`]) with W
/// dense (zeros outside the mask) and b_h as the input bias (the recurrent bias zero), the
/// readout (`readout.weight`, `readout.bias`), the mask (`mask`, 0/1) and the positions
/// (`positions`, row and column); the metadata holds the activation, alpha, tasks, sheet and the
/// whole run config.
pub fn state_dict(cfg: &RunConfig, tasks: &Tasks, net: &Network) -> Result<StateDict> {
    let c = net.config();
    let (n, n_in, n_out) = (net.n_hidden(), c.n_inputs, c.n_outputs);
    let layout = export_layout(cfg);
    let (w_ih, w_hh, b_ih, b_hh) = match layout {
        NameLayout::TorchRnn => (
            "rnn.weight_ih_l0",
            "rnn.weight_hh_l0",
            "rnn.bias_ih_l0",
            "rnn.bias_hh_l0",
        ),
        _ => (
            "rnn.input2h.weight",
            "rnn.h2h.weight",
            "rnn.input2h.bias",
            "rnn.h2h.bias",
        ),
    };
    let mask: Vec<f32> = match net.structure() {
        Structure::Dense => vec![1.0; n * n],
        Structure::Sparse(m) => {
            let mut d = vec![0.0; n * n];
            m.scatter(&vec![1.0; m.nnz()], &mut d);
            d
        }
        Structure::FrozenIdentity => (0..n * n)
            .map(|k| if k / n == k % n { 1.0 } else { 0.0 })
            .collect(),
    };
    let positions: Vec<f32> = (0..n)
        .flat_map(|u| {
            let (r, col) = c.sheet.pos(u);
            [r as f32, col as f32]
        })
        .collect();
    let tensors = vec![
        (w_ih.to_string(), vec![n, n_in], net.w_in().to_vec()),
        (w_hh.to_string(), vec![n, n], net.w_rec_dense()),
        (b_ih.to_string(), vec![n], net.b_h().to_vec()),
        (b_hh.to_string(), vec![n], vec![0.0; n]),
        (
            "readout.weight".into(),
            vec![n_out, n],
            net.w_out().to_vec(),
        ),
        ("readout.bias".into(), vec![n_out], net.b_o().to_vec()),
        ("mask".into(), vec![n, n], mask),
        ("positions".into(), vec![n, 2], positions),
    ];
    let meta = BTreeMap::from([
        (FORMAT_KEY.to_string(), FORMAT.to_string()),
        ("layout".into(), layout.name().to_string()),
        ("module".into(), module_doc(layout).to_string()),
        ("activation".into(), c.activation.name().to_string()),
        ("alpha".into(), c.alpha.to_string()),
        ("tasks".into(), cfg.tasks.clone()),
        ("task_names".into(), tasks.names().join(",")),
        ("dt_ms".into(), cfg.dt_ms.to_string()),
        ("sheet".into(), format!("{}x{}", c.sheet.rows, c.sheet.cols)),
        ("n_inputs".into(), n_in.to_string()),
        ("n_hidden".into(), n.to_string()),
        ("n_outputs".into(), n_out.to_string()),
        (CONFIG_KEY.into(), cfg.to_toml()?),
    ]);
    Ok(StateDict {
        layout,
        tensors,
        meta,
    })
}

/// Writes `sd` atomically: an npz archive if `path` ends in `.npz` (plus the string array
/// `tasks`), else a safetensors file.
pub fn save_state_dict(path: &Path, sd: &StateDict) -> Result<()> {
    let is_npz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    if is_npz {
        let mut arrays: Vec<(String, Array)> = sd
            .tensors
            .iter()
            .map(|(name, shape, v)| Ok((name.clone(), Array::new(shape, v)?)))
            .collect::<Result<_>>()?;
        let names: Vec<&str> = sd.meta["task_names"].split(',').collect();
        arrays.push(("tasks".into(), Array::strings(&names)));
        arrays.push((
            NPZ_META.into(),
            Array::strings(&[serde_json::to_string(&sd.meta)?]),
        ));
        let refs: Vec<(&str, &Array)> = arrays.iter().map(|(n, a)| (n.as_str(), a)).collect();
        crate::fsio::write_atomic_with(path, |w| npz::write_npz(w, &refs))
    } else {
        let raw: Vec<(String, Vec<usize>, Vec<u8>)> = sd
            .tensors
            .iter()
            .map(|(name, shape, v)| {
                (
                    name.clone(),
                    shape.clone(),
                    v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                )
            })
            .collect();
        let views = raw
            .iter()
            .map(|(name, shape, bytes)| {
                Ok((
                    name.clone(),
                    TensorView::new(Dtype::F32, shape.clone(), bytes)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let meta: std::collections::HashMap<String, String> = sd.meta.clone().into_iter().collect();
        let bytes = safetensors::serialize(views, Some(meta))?;
        crate::fsio::write_atomic(path, bytes)
    }
}

/// A task list as a config writes it: a collection's name when the names are exactly that
/// collection, else the comma-separated names.
pub fn tasks_desc(names: &[String]) -> String {
    for c in ["cog20", "modcog", "modcog-full"] {
        if let Ok(t) = crate::tasks::Tasks::parse(c) {
            if t.names() == names {
                return c.to_string();
            }
        }
    }
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(tensors: &[(&str, Vec<usize>)]) -> WeightFile {
        let mut f = WeightFile::default();
        for (name, shape) in tensors {
            f.tensors.insert(
                name.to_string(),
                Tensor {
                    shape: shape.clone(),
                    values: vec![0.0; shape.iter().product()],
                    dtype: "F32".into(),
                },
            );
        }
        f
    }

    #[test]
    fn torch_and_leaky_names_are_found_under_a_prefix() {
        let f = file(&[
            ("model.rnn.weight_ih_l0", vec![4, 35]),
            ("model.rnn.weight_hh_l0", vec![4, 4]),
            ("model.rnn.bias_ih_l0", vec![4]),
            ("model.rnn.bias_hh_l0", vec![4]),
            ("model.fc.weight", vec![17, 4]),
            ("model.fc.bias", vec![17]),
            ("model.conn_mask", vec![4, 4]),
        ]);
        let p = find_parts(&f, &[]).unwrap();
        assert_eq!(p.layout, NameLayout::TorchRnn);
        assert_eq!(p.w_out, "model.fc.weight");
        assert_eq!(p.b_o.as_deref(), Some("model.fc.bias"));
        assert_eq!(p.b_h.len(), 2);
        assert_eq!(p.mask.as_deref(), Some("model.conn_mask"));
        assert_eq!(p.positions, None);
        let f = file(&[
            ("rnn.input2h.weight", vec![4, 35]),
            ("rnn.input2h.bias", vec![4]),
            ("rnn.h2h.weight", vec![4, 4]),
            ("fc.weight", vec![17, 4]),
        ]);
        let p = find_parts(&f, &[]).unwrap();
        assert_eq!(p.layout, NameLayout::Leaky);
        assert_eq!((p.b_h.len(), p.b_o.clone()), (1, None));
    }

    #[test]
    fn maps_override_and_bad_maps_say_why() {
        let f = file(&[
            ("J", vec![4, 4]),
            ("B", vec![4, 35]),
            ("c1", vec![4]),
            ("c2", vec![4]),
            ("W", vec![17, 4]),
        ]);
        let e = find_parts(&f, &[]).unwrap_err().to_string();
        assert!(e.contains("--map") && e.contains("J [4, 4]"), "{e}");
        let maps = ["w_rec=J", "w_in=B", "b_h=c1+c2", "w_out=W"].map(String::from);
        let p = find_parts(&f, &maps).unwrap();
        assert_eq!(p.layout, NameLayout::Map);
        assert_eq!(p.b_h, vec!["c1", "c2"]);
        let e = find_parts(&f, &["w_rek=J".into()]).unwrap_err().to_string();
        assert!(
            e.contains("unknown part") && e.contains("w_rec [N, N]"),
            "{e}"
        );
        let e = find_parts(&f, &["w_rec=K".into()]).unwrap_err();
        assert!(format!("{e:#}").contains("no tensor `K`"), "{e:#}");
    }

    #[test]
    fn two_readouts_are_ambiguous() {
        let f = file(&[
            ("rnn.weight_ih_l0", vec![4, 35]),
            ("rnn.weight_hh_l0", vec![4, 4]),
            ("a.weight", vec![17, 4]),
            ("b.weight", vec![17, 4]),
        ]);
        let e = find_parts(&f, &[]).unwrap_err().to_string();
        assert!(e.contains("a.weight, b.weight"), "{e}");
        let p = find_parts(&f, &["w_out=b.weight".into()]).unwrap();
        assert_eq!(p.w_out, "b.weight");
    }

    #[test]
    fn positions_give_a_permutation_or_an_error() {
        let sheet = Sheet::new(2, 2);
        let pos = [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        assert_eq!(bounding_sheet(&pos), sheet);
        assert_eq!(sheet_order("p", &pos, sheet).unwrap(), vec![1, 2, 3, 0]);
        let dup = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        assert!(sheet_order("p", &dup, sheet)
            .unwrap_err()
            .to_string()
            .contains("both at (0, 0)"));
        let frac = [0.5, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        assert!(sheet_order("p", &frac, sheet).is_err());
    }

    #[test]
    fn permuting_moves_every_part_of_a_unit() {
        let mut d = DenseNet {
            n: 2,
            n_in: 1,
            w_rec: vec![1.0, 2.0, 3.0, 4.0],
            w_in: vec![5.0, 6.0],
            b_h: vec![7.0, 8.0],
            w_out: vec![9.0, 10.0],
            b_o: vec![0.5],
            mask: vec![true, false, true, true],
        };
        d.permute(&[1, 0]);
        assert_eq!(d.w_rec, vec![4.0, 3.0, 2.0, 1.0]);
        assert_eq!(d.mask, vec![true, true, false, true]);
        assert_eq!(
            (d.w_in, d.b_h, d.w_out),
            (vec![6.0, 5.0], vec![8.0, 7.0], vec![10.0, 9.0])
        );
    }
}
