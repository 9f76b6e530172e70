//! Embeds the model blob (`GYRUS_MODEL`, default `models/default.gyrus`) as `OUT_DIR/model.gyrus`.
//!
//! Picks the linker memory map for the target machine: `memory/$FW_MACHINE.x` (default
//! `mps2-an386`, the QEMU machine) is copied to `OUT_DIR/memory.x`, which cortex-m-rt's `link.x`
//! includes. Also passes the link scripts. Keep no `memory.x` in the package root: lld would find it first.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let machine = env::var("FW_MACHINE").unwrap_or_else(|_| "mps2-an386".into());
    let src = PathBuf::from(format!("memory/{machine}.x"));
    if !src.is_file() {
        let known: Vec<String> = fs::read_dir("memory")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str()?.strip_suffix(".x").map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        panic!(
            "FW_MACHINE={machine}: no {} (known: {})",
            src.display(),
            known.join(", ")
        );
    }
    fs::copy(&src, out.join("memory.x")).expect("copy memory map");
    println!("cargo:rustc-link-search={}", out.display());
    // Link scripts here rather than in rustflags, so that a RUSTFLAGS in the environment (which
    // replaces config rustflags) cannot drop them.
    for arg in ["--nmagic", "-Tlink.x", "-Tdefmt.x"] {
        println!("cargo:rustc-link-arg={arg}");
    }
    println!("cargo:rerun-if-env-changed=FW_MACHINE");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed=build.rs");

    // The model blob: GYRUS_MODEL (a path, relative to this directory) or the checked-in default.
    let model = env::var("GYRUS_MODEL").unwrap_or_else(|_| "models/default.gyrus".into());
    if let Err(e) = fs::copy(&model, out.join("model.gyrus")) {
        panic!("GYRUS_MODEL={model}: cannot read the model blob: {e}");
    }
    println!("cargo:rerun-if-env-changed=GYRUS_MODEL");
    println!("cargo:rerun-if-changed={model}");
}
