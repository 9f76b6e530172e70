//! Re-encodes a model blob with this runtime's format version (it reads version 4 and 5), choosing
//! the f32 recurrent layout (`auto`: `RecLayout::choose`, the exporter's rule; or `rows`,
//! `diagonal`) and which of the blob's weights to keep (`f32`, `int8`, `both`; default: those it
//! holds); the weights are copied as they are:
//!
//! ```sh
//! cargo run -p gyrus-runtime --example reencode -- IN.gyrus OUT.gyrus [auto|rows|diagonal] [f32|int8|both]
//! ```
//! Writes a temporary next to `OUT` and renames it.

use gyrus_runtime::format::{ModelRepr, RecLayout, Weights};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(out)) = (args.first(), args.get(1)) else {
        return Err(
            "usage: reencode IN.gyrus OUT.gyrus [auto|rows|diagonal] [f32|int8|both]".into(),
        );
    };
    let mut m = ModelRepr::from_bytes(&std::fs::read(input)?)?;
    m.layout = match args.get(2).map(String::as_str).unwrap_or("auto") {
        "auto" => RecLayout::choose(&m.recurrent),
        "rows" => RecLayout::Rows,
        "diagonal" => RecLayout::Diagonal,
        other => return Err(format!("unknown layout {other:?} (auto, rows, diagonal)").into()),
    };
    m.weights = match args.get(3).map(String::as_str) {
        None => m.weights,
        Some("f32") if m.weights.has_f32() => Weights::F32,
        Some("int8") if m.int8.is_some() => Weights::Int8,
        Some("both") if m.weights == Weights::Both => Weights::Both,
        Some(other) => return Err(format!("the blob cannot give weights {other:?}").into()),
    };
    let blob = m.to_bytes()?;
    let tmp = format!("{out}.tmp");
    std::fs::write(&tmp, &blob)?;
    std::fs::rename(&tmp, out)?;
    let layout = if m.weights.has_f32() {
        m.layout.name()
    } else {
        "none (no f32 weights)"
    };
    println!("{out}: {} bytes, f32 recurrent layout {layout}", blob.len());
    Ok(())
}
