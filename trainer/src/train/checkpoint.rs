//! Checkpoints: one safetensors file holding the weights, the optimiser state (tensors) and, in its
//! metadata, the step and the random state of the batch streams and the noise (JSON). Written
//! atomically: a temporary file in the same folder, flushed to disk, then renamed over the old one,
//! so a run killed at any moment leaves either the previous or the new checkpoint, never half of one.

use crate::model::Network;
use anyhow::{bail, Context};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// A named f32 tensor: name, shape, values (row-major).
pub type Named<'a> = (String, Vec<usize>, &'a [f32]);

/// A checkpoint read back: tensors by name, and the metadata strings.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Tensors by name: shape and values.
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    /// The metadata map.
    pub meta: HashMap<String, String>,
}

impl Loaded {
    /// The values of a tensor, checking its shape.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> anyhow::Result<&[f32]> {
        let (s, v) = self
            .tensors
            .get(name)
            .with_context(|| format!("checkpoint has no tensor `{name}`"))?;
        if s != shape {
            bail!("checkpoint tensor `{name}` has shape {s:?}, expected {shape:?}");
        }
        Ok(v)
    }

    /// Overwrites every tensor of `net` ([`Network::tensors`]) with the checkpoint's, checking
    /// names, shapes and values.
    pub fn load_network(&self, net: &mut Network) -> anyhow::Result<()> {
        let specs: Vec<(String, Vec<usize>)> =
            net.tensors().into_iter().map(|(n, s, _)| (n, s)).collect();
        for (name, shape) in &specs {
            let data = self.tensor(name, shape)?.to_vec();
            net.load_tensor(name, &data)?;
        }
        Ok(())
    }

    /// A metadata entry.
    pub fn meta(&self, key: &str) -> anyhow::Result<&str> {
        self.meta
            .get(key)
            .map(String::as_str)
            .with_context(|| format!("checkpoint metadata has no `{key}`"))
    }
}

/// Writes `tensors` and `meta` to `path` atomically.
pub fn save(
    path: &Path,
    tensors: &[Named<'_>],
    meta: HashMap<String, String>,
) -> anyhow::Result<()> {
    let mut bytes_of = Vec::with_capacity(tensors.len());
    for (name, shape, data) in tensors {
        let n: usize = shape.iter().product();
        if n != data.len() {
            bail!(
                "tensor `{name}`: shape {shape:?} does not match {} values",
                data.len()
            );
        }
        let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        bytes_of.push((name.clone(), shape.clone(), raw));
    }
    let views = bytes_of
        .iter()
        .map(|(name, shape, raw)| {
            Ok((
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), raw)?,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let blob = safetensors::serialize(views, Some(meta))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("checkpoint")
    ));
    {
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(&blob)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads a checkpoint written by [`save`].
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading checkpoint {}", path.display()))?;
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes)
        .with_context(|| format!("{} is not a safetensors file", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .with_context(|| format!("{} is not a valid safetensors file", path.display()))?;
    let mut out = Loaded {
        meta: metadata
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        ..Loaded::default()
    };
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            bail!(
                "checkpoint tensor `{name}` is {:?}, expected F32",
                view.dtype()
            );
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.tensors.insert(name, (view.shape().to_vec(), values));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_atomic_replace() {
        let dir = std::env::temp_dir().join(format!("gyrus-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("checkpoint.safetensors");
        let a = [1.0f32, -2.5, 3.0, f32::MIN_POSITIVE];
        let meta = HashMap::from([("step".to_string(), "7".to_string())]);
        save(&path, &[("w".into(), vec![2, 2], &a)], meta.clone()).unwrap();
        let l = load(&path).unwrap();
        assert_eq!(l.tensor("w", &[2, 2]).unwrap(), &a);
        assert_eq!(l.meta("step").unwrap(), "7");
        assert!(l.tensor("w", &[4]).is_err());
        assert!(l.tensor("v", &[4]).is_err());
        // Overwrite: the new content replaces the old, no temporary left behind.
        save(&path, &[("w".into(), vec![4], &a)], meta).unwrap();
        assert_eq!(load(&path).unwrap().tensor("w", &[4]).unwrap(), &a);
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
        // Corrupt files are errors, not panics.
        std::fs::write(&path, b"not a checkpoint").unwrap();
        assert!(load(&path).is_err());
        assert!(save(&path, &[("w".into(), vec![3], &a)], HashMap::new()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
