//! Writing NumPy `.npy` arrays and `.npz` archives, and reading back the ones written here.
//!
//! An `.npz` file is a zip archive of `.npy` files (format version 1.0), one per array, named
//! `<array>.npy`; `numpy.load("x.npz")["inputs"]` reads the array `inputs`. The archive is written
//! with the zip "stored" method (no compression), so it is fast to write and needs no zip library;
//! the reader here accepts exactly such archives (it is for tests and round trips, not a general
//! zip reader). Sizes are limited to what plain (non-zip64) archives hold: 4 GiB per array.
//!
//! Element types: [`f32`] (`<f4`), [`i64`] (`<i8`), [`u8`] (`|u1`), [`i32`] (`<i4`) and unicode
//! strings (`<U<n>`, via [`Array::strings`]).

use anyhow::{anyhow, bail, ensure, Context, Result};
use std::io::Write;
use std::path::Path;

/// An element type of a NumPy array, with its little-endian byte encoding.
pub trait Element: Copy {
    /// The NumPy type string (`descr`), e.g. `<f4`.
    const DESCR: &'static str;
    /// Appends the element's little-endian bytes.
    fn put(self, out: &mut Vec<u8>);
}

impl Element for f32 {
    const DESCR: &'static str = "<f4";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Element for i64 {
    const DESCR: &'static str = "<i8";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Element for i32 {
    const DESCR: &'static str = "<i4";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Element for u8 {
    const DESCR: &'static str = "|u1";
    fn put(self, out: &mut Vec<u8>) {
        out.push(self);
    }
}

/// A NumPy array: type string, shape (C order) and raw little-endian data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Array {
    /// NumPy type string, e.g. `<f4`, `<i8`, `<U12`.
    pub descr: String,
    /// Shape, C (row-major) order.
    pub shape: Vec<usize>,
    /// The elements' bytes, row-major.
    pub data: Vec<u8>,
}

impl Array {
    /// An array of `shape` from its elements in row-major order; errors if the counts disagree.
    pub fn new<T: Element>(shape: &[usize], values: &[T]) -> Result<Array> {
        let count = element_count(shape)?;
        ensure!(
            count == values.len(),
            "array of shape {shape:?} needs {count} values, got {}",
            values.len()
        );
        let mut data = Vec::with_capacity(std::mem::size_of_val(values));
        for &v in values {
            v.put(&mut data);
        }
        Ok(Array {
            descr: T::DESCR.to_string(),
            shape: shape.to_vec(),
            data,
        })
    }

    /// A 1-D unicode string array (`<U<n>`, n = the longest string in characters, at least 1);
    /// NumPy loads it as an array of `str` without `allow_pickle`.
    pub fn strings<S: AsRef<str>>(values: &[S]) -> Array {
        let width = values
            .iter()
            .map(|s| s.as_ref().chars().count())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut data = Vec::with_capacity(values.len() * width * 4);
        for s in values {
            let mut n = 0;
            for c in s.as_ref().chars() {
                data.extend_from_slice(&(c as u32).to_le_bytes());
                n += 1;
            }
            data.resize(data.len() + 4 * (width - n), 0);
        }
        Array {
            descr: format!("<U{width}"),
            shape: vec![values.len()],
            data,
        }
    }

    /// Number of elements (product of the shape; 1 for a scalar).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the array holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as `f32`; errors unless the type is `<f4`.
    pub fn to_f32(&self) -> Result<Vec<f32>> {
        ensure!(
            self.descr == "<f4",
            "array has type {}, not <f4",
            self.descr
        );
        Ok(self
            .data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// The elements as `i64`; errors unless the type is `<i8`.
    pub fn to_i64(&self) -> Result<Vec<i64>> {
        ensure!(
            self.descr == "<i8",
            "array has type {}, not <i8",
            self.descr
        );
        Ok(self
            .data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect())
    }

    /// The elements of a unicode array (`<U<n>`) as strings, trailing NULs removed.
    pub fn to_strings(&self) -> Result<Vec<String>> {
        let width: usize = self
            .descr
            .strip_prefix("<U")
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| anyhow!("array has type {}, not a unicode string", self.descr))?;
        ensure!(width > 0, "unicode array of width 0");
        self.data
            .chunks_exact(4 * width)
            .map(|item| {
                item.chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .take_while(|&u| u != 0)
                    .map(|u| char::from_u32(u).ok_or_else(|| anyhow!("invalid character {u:#x}")))
                    .collect()
            })
            .collect()
    }

    /// Bytes per element, from the type string.
    fn item_size(&self) -> Result<usize> {
        item_size(&self.descr)
    }

    /// The array as a complete `.npy` (version 1.0) file.
    pub fn to_npy(&self) -> Result<Vec<u8>> {
        let expected = element_count(&self.shape)? * self.item_size()?;
        ensure!(
            self.data.len() == expected,
            "array data has {} bytes, shape {:?} of {} needs {expected}",
            self.data.len(),
            self.shape,
            self.descr
        );
        let shape = match self.shape.len() {
            1 => format!("({},)", self.shape[0]),
            _ => format!(
                "({})",
                self.shape
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut header = format!(
            "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
            self.descr
        );
        // Magic (6) + version (2) + header length (2) + header + '\n' is a multiple of 64.
        let unpadded = 10 + header.len() + 1;
        header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
        header.push('\n');
        let header_len = u16::try_from(header.len()).context("npy header too long")?;
        let mut out = Vec::with_capacity(10 + header.len() + self.data.len());
        out.extend_from_slice(b"\x93NUMPY\x01\x00");
        out.extend_from_slice(&header_len.to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&self.data);
        Ok(out)
    }

    /// Parses a `.npy` file (version 1.0 or 2.0, C order, a type this module knows).
    pub fn from_npy(bytes: &[u8]) -> Result<Array> {
        ensure!(
            bytes.len() >= 10 && bytes.starts_with(b"\x93NUMPY"),
            "not an npy file"
        );
        let (header_len, start) = match bytes[6] {
            1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
            2 => {
                ensure!(bytes.len() >= 12, "truncated npy header");
                let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
                (n as usize, 12)
            }
            v => bail!("unsupported npy version {v}"),
        };
        let header = bytes
            .get(start..start + header_len)
            .ok_or_else(|| anyhow!("truncated npy header"))?;
        let header = std::str::from_utf8(header).context("npy header is not text")?;
        let descr = dict_value(header, "descr")?
            .trim_matches(|c| c == '\'' || c == '"')
            .to_string();
        ensure!(
            dict_value(header, "fortran_order")? == "False",
            "Fortran-order arrays are not supported"
        );
        let shape_text = dict_value(header, "shape")?;
        let shape = shape_text
            .trim_start_matches('(')
            .trim_end_matches(')')
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<usize>()
                    .with_context(|| format!("bad shape {shape_text}"))
            })
            .collect::<Result<Vec<_>>>()?;
        let data = bytes[start + header_len..].to_vec();
        let array = Array { descr, shape, data };
        let expected = element_count(&array.shape)? * array.item_size()?;
        ensure!(
            array.data.len() == expected,
            "npy data has {} bytes, {expected} expected",
            array.data.len()
        );
        Ok(array)
    }
}

/// The text of `key`'s value in a npy header dict (up to the next top-level comma).
fn dict_value<'a>(header: &'a str, key: &str) -> Result<&'a str> {
    let pattern = format!("'{key}':");
    let at = header
        .find(&pattern)
        .ok_or_else(|| anyhow!("npy header lacks {key}"))?;
    let rest = header[at + pattern.len()..].trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')').map(|i| i + 1)
    } else {
        rest.find([',', '}'])
    }
    .ok_or_else(|| anyhow!("npy header: unterminated {key}"))?;
    Ok(rest[..end].trim())
}

fn item_size(descr: &str) -> Result<usize> {
    Ok(match descr {
        "<f4" | "<i4" => 4,
        "<f8" | "<i8" => 8,
        "|u1" | "|i1" | "|b1" => 1,
        d if d.starts_with("<U") => {
            4 * d[2..]
                .parse::<usize>()
                .with_context(|| format!("bad type {d}"))?
        }
        d => bail!("unsupported npy type {d}"),
    })
}

fn element_count(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| anyhow!("array shape {shape:?} overflows"))
}

/// CRC-32 (IEEE, as zip uses it).
pub fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, entry) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *entry = c;
        }
        t
    });
    let mut crc = !0u32;
    for &b in bytes {
        crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Writes `arrays` (name without `.npy`, array) as an `.npz` archive to `w`.
pub fn write_npz<W: Write>(mut w: W, arrays: &[(&str, &Array)]) -> Result<()> {
    let mut central = Vec::new();
    let mut offset: u64 = 0;
    for (name, array) in arrays {
        let file_name = format!("{name}.npy");
        let npy = array.to_npy()?;
        let size = u32::try_from(npy.len())
            .ok()
            .filter(|&s| s != u32::MAX)
            .ok_or_else(|| anyhow!("array {name} is too large for an npz archive (4 GiB)"))?;
        let local_offset = u32::try_from(offset)
            .map_err(|_| anyhow!("npz archive over 4 GiB is not supported"))?;
        let crc = crc32(&npy);
        let name_len = u16::try_from(file_name.len()).context("array name too long")?;
        // Local file header: version 2.0, no flags, method 0 (stored), DOS time/date 1980-01-01.
        let mut local = Vec::with_capacity(30 + file_name.len());
        local.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        local.extend_from_slice(&20u16.to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes());
        local.extend_from_slice(&0x21u16.to_le_bytes());
        local.extend_from_slice(&crc.to_le_bytes());
        local.extend_from_slice(&size.to_le_bytes());
        local.extend_from_slice(&size.to_le_bytes());
        local.extend_from_slice(&name_len.to_le_bytes());
        local.extend_from_slice(&0u16.to_le_bytes());
        local.extend_from_slice(file_name.as_bytes());
        w.write_all(&local)?;
        w.write_all(&npy)?;
        // Central directory entry.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&local[4..30]);
        central.extend_from_slice(&0u16.to_le_bytes()); // comment length
        central.extend_from_slice(&0u16.to_le_bytes()); // disk number
        central.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&local_offset.to_le_bytes());
        central.extend_from_slice(file_name.as_bytes());
        offset += (local.len() + npy.len()) as u64;
    }
    let count = u16::try_from(arrays.len()).context("too many arrays")?;
    let dir_offset =
        u32::try_from(offset).map_err(|_| anyhow!("npz archive over 4 GiB is not supported"))?;
    w.write_all(&central)?;
    let mut end = Vec::with_capacity(22);
    end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    end.extend_from_slice(&count.to_le_bytes());
    end.extend_from_slice(&count.to_le_bytes());
    end.extend_from_slice(&(central.len() as u32).to_le_bytes());
    end.extend_from_slice(&dir_offset.to_le_bytes());
    end.extend_from_slice(&0u16.to_le_bytes());
    w.write_all(&end)?;
    w.flush()?;
    Ok(())
}

/// Writes an `.npz` file at `path` (see [`write_npz`]), atomically ([`crate::fsio`]).
pub fn save_npz(path: &Path, arrays: &[(&str, &Array)]) -> Result<()> {
    crate::fsio::write_atomic_with(path, |w| write_npz(w, arrays))
}

/// Reads the arrays of an `.npz` archive written with the stored method (as [`write_npz`] does),
/// in archive order, checking every entry's CRC.
pub fn read_npz(bytes: &[u8]) -> Result<Vec<(String, Array)>> {
    let u16_at = |at: usize| -> Result<u16> {
        let b = bytes
            .get(at..at + 2)
            .ok_or_else(|| anyhow!("truncated zip archive"))?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| -> Result<u32> {
        let b = bytes
            .get(at..at + 4)
            .ok_or_else(|| anyhow!("truncated zip archive"))?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut out = Vec::new();
    let mut at = 0;
    while u32_at(at)? == 0x0403_4b50 {
        ensure!(
            u16_at(at + 6)? & 0x08 == 0,
            "zip data descriptors are not supported"
        );
        ensure!(
            u16_at(at + 8)? == 0,
            "only stored (uncompressed) npz entries are supported"
        );
        let crc = u32_at(at + 14)?;
        let size = u32_at(at + 18)? as usize;
        let name_len = usize::from(u16_at(at + 26)?);
        let extra_len = usize::from(u16_at(at + 28)?);
        let name_start = at + 30;
        let data_start = name_start + name_len + extra_len;
        let name = bytes
            .get(name_start..name_start + name_len)
            .ok_or_else(|| anyhow!("truncated zip archive"))?;
        let name = String::from_utf8(name.to_vec()).context("zip entry name is not UTF-8")?;
        let data = bytes
            .get(data_start..data_start + size)
            .ok_or_else(|| anyhow!("truncated zip entry {name}"))?;
        ensure!(crc32(data) == crc, "CRC mismatch in zip entry {name}");
        let array = Array::from_npy(data).with_context(|| format!("zip entry {name}"))?;
        out.push((name.trim_end_matches(".npy").to_string(), array));
        at = data_start + size;
    }
    ensure!(
        u32_at(at)? == 0x0201_4b50 || out.is_empty() && u32_at(at)? == 0x0605_4b50,
        "not an npz archive"
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn npy_header_is_aligned_and_round_trips() {
        let a = Array::new(&[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, -6.5]).unwrap();
        let npy = a.to_npy().unwrap();
        let header_len = usize::from(u16::from_le_bytes([npy[8], npy[9]]));
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(npy[10 + header_len - 1], b'\n');
        let text = std::str::from_utf8(&npy[10..10 + header_len]).unwrap();
        assert!(text.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        let back = Array::from_npy(&npy).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.to_f32().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5]);
    }

    #[test]
    fn one_dimensional_shape_has_a_trailing_comma() {
        let a = Array::new(&[3], &[1i64, -2, 3]).unwrap();
        let npy = a.to_npy().unwrap();
        let text = String::from_utf8_lossy(&npy[10..]);
        assert!(text.contains("'shape': (3,)"), "{text}");
        assert_eq!(
            Array::from_npy(&npy).unwrap().to_i64().unwrap(),
            vec![1, -2, 3]
        );
    }

    #[test]
    fn strings_round_trip() {
        let a = Array::strings(&["go", "dlydm1intr_seql", "ü"]);
        assert_eq!(a.descr, "<U15");
        assert_eq!(a.shape, vec![3]);
        let back = Array::from_npy(&a.to_npy().unwrap()).unwrap();
        assert_eq!(
            back.to_strings().unwrap(),
            vec!["go", "dlydm1intr_seql", "ü"]
        );
    }

    #[test]
    fn wrong_counts_are_refused() {
        assert!(Array::new(&[2, 2], &[1.0f32; 3]).is_err());
        assert!(Array::from_npy(b"not numpy at all").is_err());
        let mut npy = Array::new(&[4], &[1u8, 2, 3, 4]).unwrap().to_npy().unwrap();
        npy.pop();
        assert!(Array::from_npy(&npy).is_err());
    }

    #[test]
    fn npz_round_trips_and_detects_corruption() {
        let a = Array::new(&[2, 2], &[1.0f32, 2.0, 3.0, 4.0]).unwrap();
        let b = Array::new(&[3], &[7i64, 8, 9]).unwrap();
        let mut bytes = Vec::new();
        write_npz(&mut bytes, &[("a", &a), ("b", &b)]).unwrap();
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        let back = read_npz(&bytes).unwrap();
        assert_eq!(back, vec![("a".to_string(), a), ("b".to_string(), b)]);
        // Flip a byte of the first array's data: its CRC no longer matches.
        let at = bytes.len() / 4;
        bytes[at] ^= 0x55;
        assert!(read_npz(&bytes).is_err());
        assert!(read_npz(b"PK\x03\x04 truncated").is_err());
    }
}
