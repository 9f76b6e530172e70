//! Re-encodes a model blob with this runtime's format version (it reads version 4 and 5), choosing
//! the f32 recurrent layout (`auto`: `RecLayout::choose`, the exporter's rule; or `rows`,
//! `diagonal`); the weights are copied as they are:
//!
//! ```sh
//! cargo run -p gyrus-runtime --example reencode -- IN.gyrus OUT.gyrus [auto|rows|diagonal]
//! ```
//! Writes a temporary next to `OUT` and renames it.

use gyrus_runtime::format::{ModelRepr, RecLayout};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(out)) = (args.first(), args.get(1)) else {
        return Err("usage: reencode IN.gyrus OUT.gyrus [auto|rows|diagonal]".into());
    };
    let mut m = ModelRepr::from_bytes(&std::fs::read(input)?)?;
    m.layout = match args.get(2).map(String::as_str).unwrap_or("auto") {
        "auto" => RecLayout::choose(&m.recurrent),
        "rows" => RecLayout::Rows,
        "diagonal" => RecLayout::Diagonal,
        other => return Err(format!("unknown layout {other:?} (auto, rows, diagonal)").into()),
    };
    let blob = m.to_bytes()?;
    let tmp = format!("{out}.tmp");
    std::fs::write(&tmp, &blob)?;
    std::fs::rename(&tmp, out)?;
    println!(
        "{out}: {} bytes, f32 recurrent layout {}",
        blob.len(),
        m.layout.name()
    );
    Ok(())
}
