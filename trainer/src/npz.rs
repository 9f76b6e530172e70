//! Writing NumPy `.npy` arrays and `.npz` archives, and reading back the ones written here.
//!
//! An `.npz` file is a zip archive of `.npy` files (format version 1.0), one per array, named
//! `<array>.npy`; `numpy.load("x.npz")["inputs"]` reads the array `inputs`. The archive is written
//! with the zip "stored" method (no compression), so it is fast to write and needs no zip library;
//! sizes are limited to what plain (non-zip64) archives hold: 4 GiB per array. The reader takes
//! these and the archives NumPy writes (`np.savez`: zip64 size fields; `np.savez_compressed`:
//! deflate), through the central directory.
//!
//! Element types written: [`f32`] (`<f4`), [`i64`] (`<i8`), [`u8`] (`|u1`), [`i32`] (`<i4`) and
//! unicode strings (`<U<n>`, via [`Array::strings`]); read: also `<f8`, `<f2`, `<i2`, `|i1`, `|b1`,
//! unsigned integers, and Fortran-order 2-D arrays (reordered to C order).

// CRC-32 (IEEE, as zip uses it): the runtime's, the project's one copy.
use anyhow::{anyhow, bail, ensure, Context, Result};
use gyrus_runtime::format::crc32;
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

    /// The elements of a numeric array converted to `f32`: floats rounded to the nearest `f32`
    /// (exact for `<f4` and `<f2`), integers and booleans exact up to 2^24.
    pub fn to_f32_converted(&self) -> Result<Vec<f32>> {
        let d = &self.data;
        macro_rules! conv {
            ($n:expr, $f:expr) => {
                d.chunks_exact($n).map($f).collect()
            };
        }
        Ok(match self.descr.as_str() {
            "<f4" => return self.to_f32(),
            "<f8" => conv!(8, |c: &[u8]| f64::from_le_bytes(c.try_into().unwrap())
                as f32),
            "<f2" => conv!(2, |c: &[u8]| half_to_f32(u16::from_le_bytes([c[0], c[1]]))),
            "<i8" => conv!(8, |c: &[u8]| i64::from_le_bytes(c.try_into().unwrap())
                as f32),
            "<u8" => conv!(8, |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap())
                as f32),
            "<i4" => conv!(4, |c: &[u8]| i32::from_le_bytes(c.try_into().unwrap())
                as f32),
            "<u4" => conv!(4, |c: &[u8]| u32::from_le_bytes(c.try_into().unwrap())
                as f32),
            "<i2" => conv!(2, |c: &[u8]| f32::from(i16::from_le_bytes([c[0], c[1]]))),
            "<u2" => conv!(2, |c: &[u8]| f32::from(u16::from_le_bytes([c[0], c[1]]))),
            "|i1" => d.iter().map(|&b| f32::from(b as i8)).collect(),
            "|u1" | "|b1" => d.iter().map(|&b| f32::from(b)).collect(),
            other => bail!("array has type {other}, not a number type gyrus reads"),
        })
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
        let fortran = dict_value(header, "fortran_order")? == "True";
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
        let mut array = Array { descr, shape, data };
        let size = array.item_size()?;
        let expected = element_count(&array.shape)? * size;
        ensure!(
            array.data.len() == expected,
            "npy data has {} bytes, {expected} expected",
            array.data.len()
        );
        if fortran && array.shape.len() == 2 {
            // Column-major: element (i, j) is at j * rows + i.
            let (rows, cols) = (array.shape[0], array.shape[1]);
            let mut c_order = Vec::with_capacity(array.data.len());
            for i in 0..rows {
                for j in 0..cols {
                    let at = (j * rows + i) * size;
                    c_order.extend_from_slice(&array.data[at..at + size]);
                }
            }
            array.data = c_order;
        } else {
            ensure!(
                !fortran || array.shape.len() < 2,
                "Fortran-order arrays of more than 2 dimensions are not supported"
            );
        }
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

/// An IEEE half-precision value (NumPy `<f2`, safetensors F16) as `f32` (exact).
pub fn half_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f32::from(h & 0x3ff);
    match exp {
        0 => sign * frac * (-24f32).exp2(),
        31 if frac == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        _ => sign * (1.0 + frac / 1024.0) * ((exp - 15) as f32).exp2(),
    }
}

fn item_size(descr: &str) -> Result<usize> {
    Ok(match descr {
        "<f4" | "<i4" | "<u4" => 4,
        "<f8" | "<i8" | "<u8" => 8,
        "<f2" | "<i2" | "<u2" => 2,
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

/// Reads the arrays of an `.npz` archive in archive order: entries stored or deflated, with or
/// without zip64 size fields (as [`write_npz`], `np.savez` and `np.savez_compressed` write them),
/// found through the central directory; every entry's CRC is checked.
pub fn read_npz(bytes: &[u8]) -> Result<Vec<(String, Array)>> {
    let get = |at: usize, n: usize| -> Result<&[u8]> {
        at.checked_add(n)
            .and_then(|end| bytes.get(at..end))
            .ok_or_else(|| anyhow!("truncated zip archive"))
    };
    let u16_at = |at: usize| -> Result<u16> { Ok(u16::from_le_bytes(get(at, 2)?.try_into()?)) };
    let u32_at = |at: usize| -> Result<u32> { Ok(u32::from_le_bytes(get(at, 4)?.try_into()?)) };
    let u64_at = |at: usize| -> Result<u64> { Ok(u64::from_le_bytes(get(at, 8)?.try_into()?)) };
    let to_usize = |v: u64| usize::try_from(v).map_err(|_| anyhow!("zip size out of range"));
    // End of central directory: the last signature within the last 64 KiB + 22 bytes.
    ensure!(bytes.len() >= 22, "not an npz archive (too short)");
    let lowest = bytes.len().saturating_sub(22 + 0xffff);
    let eocd = (lowest..=bytes.len() - 22)
        .rev()
        .find(|&at| bytes[at..at + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or_else(|| anyhow!("not an npz archive (no zip directory)"))?;
    let mut count = u64::from(u16_at(eocd + 10)?);
    let mut dir = u64::from(u32_at(eocd + 16)?);
    if count == 0xffff || dir == 0xffff_ffff {
        // Zip64: the locator just before the end record points at the zip64 end record.
        ensure!(
            eocd >= 20 && u32_at(eocd - 20)? == 0x0706_4b50,
            "zip64 archive without its locator"
        );
        let rec = to_usize(u64_at(eocd - 20 + 8)?)?;
        ensure!(u32_at(rec)? == 0x0606_4b50, "bad zip64 end record");
        count = u64_at(rec + 32)?;
        dir = u64_at(rec + 48)?;
    }
    let mut out = Vec::new();
    let mut at = to_usize(dir)?;
    for _ in 0..count {
        ensure!(u32_at(at)? == 0x0201_4b50, "bad zip directory entry");
        let method = u16_at(at + 10)?;
        let crc = u32_at(at + 16)?;
        let mut compressed = u64::from(u32_at(at + 20)?);
        let mut size = u64::from(u32_at(at + 24)?);
        let name_len = usize::from(u16_at(at + 28)?);
        let extra_len = usize::from(u16_at(at + 30)?);
        let comment_len = usize::from(u16_at(at + 32)?);
        let mut local = u64::from(u32_at(at + 42)?);
        let name = String::from_utf8(get(at + 46, name_len)?.to_vec())
            .context("zip entry name is not UTF-8")?;
        // Zip64 extra field (id 1): the 64-bit values of the fields that read 0xffffffff.
        let extra = get(at + 46 + name_len, extra_len)?;
        let mut e = 0;
        while e + 4 <= extra.len() {
            let id = u16::from_le_bytes([extra[e], extra[e + 1]]);
            let len = usize::from(u16::from_le_bytes([extra[e + 2], extra[e + 3]]));
            let body = extra
                .get(e + 4..e + 4 + len)
                .ok_or_else(|| anyhow!("truncated zip extra field in {name}"))?;
            if id == 1 {
                let mut k = 0;
                let mut next = || -> Result<u64> {
                    let v = body
                        .get(k..k + 8)
                        .ok_or_else(|| anyhow!("short zip64 field in {name}"))?;
                    k += 8;
                    Ok(u64::from_le_bytes(v.try_into()?))
                };
                if size == 0xffff_ffff {
                    size = next()?;
                }
                if compressed == 0xffff_ffff {
                    compressed = next()?;
                }
                if local == 0xffff_ffff {
                    local = next()?;
                }
            }
            e += 4 + len;
        }
        let local = to_usize(local)?;
        ensure!(
            u32_at(local)? == 0x0403_4b50,
            "bad local header for zip entry {name}"
        );
        let data_start =
            local + 30 + usize::from(u16_at(local + 26)?) + usize::from(u16_at(local + 28)?);
        let raw = get(data_start, to_usize(compressed)?)
            .with_context(|| format!("truncated zip entry {name}"))?;
        let data = match method {
            0 => raw.to_vec(),
            8 => {
                let mut d = Vec::with_capacity(to_usize(size)?);
                std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(raw), &mut d)
                    .with_context(|| format!("zip entry {name} does not inflate"))?;
                d
            }
            m => bail!("zip entry {name} uses compression method {m} (only stored and deflate)"),
        };
        ensure!(
            data.len() as u64 == size,
            "zip entry {name} has {} bytes, its directory says {size}",
            data.len()
        );
        ensure!(crc32(&data) == crc, "CRC mismatch in zip entry {name}");
        let array = Array::from_npy(&data).with_context(|| format!("zip entry {name}"))?;
        out.push((name.trim_end_matches(".npy").to_string(), array));
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_conversion_is_exact() {
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0xc000), -2.0);
        assert_eq!(half_to_f32(0x3555), 0.333_251_95);
        assert_eq!(half_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(half_to_f32(0x7bff), 65504.0);
        assert_eq!(half_to_f32(0x7c00), f32::INFINITY);
        assert!(half_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn fortran_order_is_read_as_c_order() {
        let mut npy = Array::new(&[2, 3], &[1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0])
            .unwrap()
            .to_npy()
            .unwrap();
        let at = npy.windows(5).position(|w| w == b"False").unwrap();
        npy[at..at + 5].copy_from_slice(b"True ");
        let a = Array::from_npy(&npy).unwrap();
        assert_eq!(a.to_f32().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            Array::new(&[3], &[1u8, 0, 1])
                .unwrap()
                .to_f32_converted()
                .unwrap(),
            vec![1.0, 0.0, 1.0]
        );
    }

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
