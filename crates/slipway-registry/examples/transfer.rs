//! `transfer pull REF oci:DIR[:TAG]` / `transfer push oci:DIR[:TAG] REF`:
//! the library path of `slipway pull`/`slipway push` without the CLI, so
//! `cargo xtask bench pull` can run (`SLIPWAY_BENCH_BIN`) while the CLI's
//! other crates are being rebuilt.

use slipway_registry::{ClientOptions, CopyOptions, ImageLocation, Reference, copy_blocking};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (src, dst) = match args.as_slice() {
        [verb, reference, dest] if verb == "pull" => (
            ImageLocation::Docker(Reference::parse(reference)?),
            ImageLocation::parse(dest)?,
        ),
        [verb, source, reference] if verb == "push" => (
            ImageLocation::parse(source)?,
            ImageLocation::Docker(Reference::parse(reference)?),
        ),
        _ => return Err("usage: transfer pull REF oci:DIR[:TAG] | push oci:DIR[:TAG] REF".into()),
    };
    let digest = copy_blocking(
        &ClientOptions::default(),
        &src,
        &dst,
        &CopyOptions::default(),
    )?;
    println!("{digest}");
    Ok(())
}
