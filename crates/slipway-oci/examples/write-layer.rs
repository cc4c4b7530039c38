//! `write-layer DIR LAYOUT [gzip[:LEVEL]|zstd|none]`: write the tree under
//! `DIR` as one layer blob in a new OCI layout `LAYOUT` and print the blob's
//! size in bytes. `cargo xtask bench layers` uses it to time gzip levels
//! other than the pinned one (which `slipway import-rootfs` writes).

use std::process::ExitCode;

use slipway_oci::{Compression, GZIP_LEVEL, LayerOptions, LayerWriter, OciLayout};

fn main() -> ExitCode {
    match run() {
        Ok(size) => {
            println!("{size}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("write-layer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<u64, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, layout, rest @ ..] = args.as_slice() else {
        return Err("usage: write-layer DIR LAYOUT [gzip[:LEVEL]|zstd|none]".into());
    };
    let spec = rest.first().map_or("gzip", String::as_str);
    let (compression, level) = match spec.split_once(':') {
        Some(("gzip", level)) => (
            Compression::Gzip,
            level
                .parse()
                .map_err(|_| format!("`{level}` is not a gzip level (0–12)"))?,
        ),
        Some(_) => return Err(format!("`{spec}`: only gzip takes a level")),
        None => (spec.parse().map_err(|e| format!("{e}"))?, GZIP_LEVEL),
    };
    let err = |e: slipway_oci::Error| e.to_string();
    let layout = OciLayout::create(layout).map_err(err)?;
    let options = LayerOptions {
        compression,
        ..LayerOptions::default()
    };
    let mut writer = LayerWriter::with_gzip_level(&layout, &options, level).map_err(err)?;
    writer.append_tree(dir.as_ref()).map_err(err)?;
    let layer = writer.finish().map_err(err)?;
    Ok(layer.descriptor.size())
}
