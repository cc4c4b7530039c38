//! `rpm-extract FILE.rpm DIR`: unpack like `rpm2cpio FILE | cpio -idm`,
//! checking every file digest; prints entries, bytes and seconds.
//! Used to compare speed with the real tools:
//!
//! ```text
//! cargo run --release -p slipway-rpm --example rpm-extract -- big.rpm /tmp/out
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [rpm, dir] = args.as_slice() else {
        return Err("usage: rpm-extract FILE.rpm DIR".into());
    };
    let start = std::time::Instant::now();
    let summary = slipway_rpm::extract_to(rpm, dir)?;
    eprintln!(
        "{} entries, {} bytes in {:.3}s",
        summary.entries,
        summary.bytes,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
