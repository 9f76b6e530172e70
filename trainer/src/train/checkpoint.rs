//! Checkpoints: one safetensors file holding the weights, the optimiser state (tensors) and, in its
//! metadata, the step and the random state of the batch streams and the noise (JSON). Written
//! atomically: a temporary file in the same folder, flushed to disk, then renamed over the old one,
//! so a run killed at any moment leaves either the previous or the new checkpoint, never half of one.
//!
//! Integrity: the metadata entry [`CHECKSUM_KEY`] holds the CRC-32 (the runtime's, IEEE) of every
//! tensor's bytes and of the rest of the metadata; [`load`] verifies them all and refuses a file
//! where any differs (a flipped bit, an edited `step`) or where a tensor has no checksum.
//! Checkpoints written before checksums existed (exactly the metadata keys in [`LEGACY_KEYS`], no
//! checksum entry) are accepted with a warning on stderr: they cannot be verified, and refusing
//! them would strand every run trained before; the next checkpoint a resumed run writes carries
//! checksums. Any other metadata without checksums is refused as damaged.

use crate::model::Network;
use anyhow::{bail, Context};
use gyrus_runtime::format::crc32;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The metadata entry holding the checksums (JSON: `{"algorithm": "crc32", "tensors": {name:
/// crc}, "metadata": crc}`, each CRC as 8 hex digits).
pub const CHECKSUM_KEY: &str = "checksums";

/// The metadata keys of a checkpoint written before checksums existed.
pub const LEGACY_KEYS: [&str; 5] = ["adam_step", "config", "noise_rng", "step", "streams"];

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Checksums {
    algorithm: String,
    tensors: BTreeMap<String, String>,
    metadata: String,
}

fn hex(crc: u32) -> String {
    format!("{crc:08x}")
}

/// The CRC-32 of every metadata entry but the checksums, in key order (`key NUL value NUL`).
fn metadata_crc(meta: &HashMap<String, String>) -> u32 {
    let sorted: BTreeMap<&String, &String> =
        meta.iter().filter(|(k, _)| *k != CHECKSUM_KEY).collect();
    let mut bytes = Vec::new();
    for (k, v) in sorted {
        bytes.extend_from_slice(k.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(v.as_bytes());
        bytes.push(0);
    }
    crc32(&bytes)
}

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
    mut meta: HashMap<String, String>,
) -> anyhow::Result<()> {
    if meta.contains_key(CHECKSUM_KEY) {
        bail!("checkpoint metadata may not use the reserved key `{CHECKSUM_KEY}`");
    }
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
    let sums = Checksums {
        algorithm: "crc32".into(),
        tensors: bytes_of
            .iter()
            .map(|(name, _, raw)| (name.clone(), hex(crc32(raw))))
            .collect(),
        metadata: hex(metadata_crc(&meta)),
    };
    meta.insert(CHECKSUM_KEY.to_string(), serde_json::to_string(&sums)?);
    let blob = safetensors::serialize(views, Some(meta))?;
    // Temporary, sync, rename (fsio): a failed write removes the temporary and names the file.
    crate::fsio::write_atomic(path, blob)
}

/// Checks the checksums of a read checkpoint (see the module docs); `raw` gives each tensor's bytes.
/// Returns false for a legacy checkpoint without checksums.
fn verify(
    path: &Path,
    meta: &HashMap<String, String>,
    raw: &BTreeMap<String, &[u8]>,
) -> anyhow::Result<bool> {
    let damaged = |what: String| {
        anyhow::anyhow!(
            "{} is damaged: {what}; it cannot be trusted (restore it from a copy, or delete it to \
             retrain the run from its last good state)",
            path.display()
        )
    };
    let Some(text) = meta.get(CHECKSUM_KEY) else {
        let mut keys: Vec<&str> = meta.keys().map(String::as_str).collect();
        keys.sort_unstable();
        if keys == LEGACY_KEYS {
            return Ok(false);
        }
        return Err(damaged(format!(
            "its metadata has no `{CHECKSUM_KEY}` entry (keys: {})",
            keys.join(", ")
        )));
    };
    let sums: Checksums = serde_json::from_str(text)
        .map_err(|e| damaged(format!("its `{CHECKSUM_KEY}` entry does not parse ({e})")))?;
    if sums.algorithm != "crc32" {
        return Err(damaged(format!(
            "unknown checksum algorithm `{}`",
            sums.algorithm
        )));
    }
    let want = hex(metadata_crc(meta));
    if sums.metadata != want {
        return Err(damaged(format!(
            "the metadata (step, random state, config) does not match its checksum \
             (stored {}, computed {want})",
            sums.metadata
        )));
    }
    for (name, bytes) in raw {
        let Some(stored) = sums.tensors.get(name) else {
            return Err(damaged(format!("tensor `{name}` has no checksum")));
        };
        let got = hex(crc32(bytes));
        if *stored != got {
            return Err(damaged(format!(
                "tensor `{name}` does not match its checksum (stored {stored}, computed {got})"
            )));
        }
    }
    if let Some(name) = sums.tensors.keys().find(|n| !raw.contains_key(*n)) {
        return Err(damaged(format!("tensor `{name}` is missing")));
    }
    Ok(true)
}

/// Reads a checkpoint written by [`save`], verifying its checksums (see the module docs).
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
    let tensors = st.tensors();
    let raw: BTreeMap<String, &[u8]> = tensors
        .iter()
        .map(|(name, view)| (name.clone(), view.data()))
        .collect();
    if !verify(path, &out.meta, &raw)? {
        eprintln!(
            "warning: {} has no checksums (written by a gyrus before checksums existed), so it \
             cannot be verified; a resumed run writes checksums with its next checkpoint",
            path.display()
        );
    }
    out.meta.remove(CHECKSUM_KEY);
    for (name, view) in tensors {
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

    /// A checkpoint write that fails (here the rename: a folder holds the checkpoint's name)
    /// leaves no `.checkpoint.safetensors.tmp` behind and names the file.
    #[test]
    fn a_failed_save_removes_its_temporary_and_names_the_file() {
        let dir = std::env::temp_dir().join(format!("gyrus-ckpt-fail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("checkpoint.safetensors");
        std::fs::create_dir_all(path.join("occupied")).unwrap();
        let a = [1.0f32, 2.0];
        let e = save(&path, &[("w".into(), vec![2], &a)], HashMap::new()).unwrap_err();
        assert!(format!("{e:#}").contains("checkpoint.safetensors"), "{e:#}");
        assert!(!dir.join(".checkpoint.safetensors.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod integrity_tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("gyrus-ckpt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn replace(bytes: &mut [u8], from: &[u8], to: &[u8]) {
        assert_eq!(from.len(), to.len());
        let at = bytes
            .windows(from.len())
            .position(|w| w == from)
            .expect("pattern in file");
        bytes[at..at + to.len()].copy_from_slice(to);
    }

    #[test]
    fn a_flipped_bit_or_an_edited_step_is_refused() {
        let d = dir("integrity");
        let path = d.join("c.safetensors");
        let a: Vec<f32> = (0..64).map(|i| i as f32 * 0.25).collect();
        let meta = HashMap::from([
            ("step".to_string(), "20".to_string()),
            ("streams".to_string(), "[1,2]".to_string()),
        ]);
        save(&path, &[("w".into(), vec![8, 8], &a)], meta).unwrap();
        let good = std::fs::read(&path).unwrap();
        assert_eq!(load(&path).unwrap().meta("step").unwrap(), "20");
        assert!(load(&path).unwrap().meta(CHECKSUM_KEY).is_err());

        // One bit of one weight (the tensor data ends the file).
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 9] ^= 0x10;
        std::fs::write(&path, &bad).unwrap();
        let e = format!("{:#}", load(&path).unwrap_err());
        assert!(e.contains("tensor `w`") && e.contains("checksum"), "{e}");

        // The step edited in the header (same length, so the file still parses).
        let mut bad = good.clone();
        replace(&mut bad, b"\"step\":\"20\"", b"\"step\":\"10\"");
        std::fs::write(&path, &bad).unwrap();
        let e = format!("{:#}", load(&path).unwrap_err());
        assert!(e.contains("metadata") && e.contains("checksum"), "{e}");

        // The checksum entry's name damaged: not mistaken for a legacy file.
        let mut bad = good.clone();
        replace(&mut bad, b"\"checksums\"", b"\"checksumz\"");
        std::fs::write(&path, &bad).unwrap();
        let e = format!("{:#}", load(&path).unwrap_err());
        assert!(e.contains("no `checksums` entry"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_checkpoint_from_before_checksums_loads_with_a_warning() {
        let d = dir("legacy");
        let path = d.join("c.safetensors");
        let raw: Vec<u8> = [1.5f32, 2.5].iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = TensorView::new(Dtype::F32, vec![2], &raw).unwrap();
        let meta: HashMap<String, String> = LEGACY_KEYS
            .iter()
            .map(|k| (k.to_string(), "0".to_string()))
            .collect();
        let blob =
            safetensors::serialize([("w".to_string(), view.clone())], Some(meta.clone())).unwrap();
        std::fs::write(&path, blob).unwrap();
        let l = load(&path).unwrap();
        assert_eq!(l.tensor("w", &[2]).unwrap(), &[1.5, 2.5]);
        // Without checksums and with other keys than the old format's: damaged, refused.
        let mut other = meta;
        other.insert("interval".into(), "{}".into());
        let blob = safetensors::serialize([("w".to_string(), view)], Some(other)).unwrap();
        std::fs::write(&path, blob).unwrap();
        assert!(load(&path).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
