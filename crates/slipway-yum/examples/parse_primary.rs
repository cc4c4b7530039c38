//! Parse a `primary.xml` (plain or compressed) and print the throughput in
//! MB/s of uncompressed XML: `cargo run --release -p slipway-yum --example
//! parse_primary -- FILE`. Used by `cargo xtask bench resolve`.

use std::io::{BufReader, Read};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: parse_primary FILE")?;
    // Uncompressed size, for the MB/s figure.
    let mut plain = Vec::new();
    slipway_yum::repodata::decompress_reader(BufReader::new(fs_err::File::open(&path)?))?
        .read_to_end(&mut plain)?;
    let mut best = f64::MAX;
    let mut count = 0;
    for _ in 0..5 {
        let file = fs_err::File::open(&path)?;
        let start = Instant::now();
        count = 0;
        slipway_yum::repodata::parse_primary(
            BufReader::with_capacity(256 * 1024, file),
            &path,
            |_| count += 1,
        )?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{count} packages, {:.1} MB in {best:.3} s = {:.0} MB/s",
        plain.len() as f64 / 1e6,
        plain.len() as f64 / 1e6 / best
    );
    Ok(())
}
