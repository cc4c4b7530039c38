//! Layer compression with fixed parameters, so the bytes are part of the
//! reproducible output.
//!
//! gzip: the input is cut into fixed 1 MiB blocks ([`GZIP_BLOCK`]), each
//! compressed independently by libdeflate (whole-buffer, the fastest deflate
//! at equal size) on a pool of threads into one gzip member of its own, and
//! the members are concatenated in order (RFC 1952 § 2.2: a gzip file is a
//! series of members; Go's `compress/gzip`, `gzip -d`, zlib's `gunzip` and
//! flate2's `MultiGzDecoder` read them as one stream). The block size, the
//! level, the backend (libdeflate, its version pinned in `Cargo.toml`) and
//! the header (mtime 0, no name, OS byte 255) are fixed, so the output does
//! not depend on the number of threads.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use libdeflater::{CompressionLvl, Compressor as Deflater};

/// How a layer's tar is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// gzip (libdeflate level [`GZIP_LEVEL`]), `application/vnd.oci.image.layer.v1.tar+gzip`.
    #[default]
    Gzip,
    /// zstd (level 3), `application/vnd.oci.image.layer.v1.tar+zstd`.
    Zstd,
    /// No compression, `application/vnd.oci.image.layer.v1.tar`.
    None,
}

impl Compression {
    /// The OCI media type of a layer with this compression.
    pub fn layer_media_type(self) -> oci_spec::image::MediaType {
        use oci_spec::image::MediaType;
        match self {
            Compression::Gzip => MediaType::ImageLayerGzip,
            Compression::Zstd => MediaType::ImageLayerZstd,
            Compression::None => MediaType::ImageLayer,
        }
    }

    /// Guess the compression of a blob from its first bytes.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Compression> {
        match s {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "none" | "uncompressed" => Ok(Compression::None),
            _ => Err(crate::Error::Unsupported(format!(
                "compression `{s}` (use gzip, zstd or none)"
            ))),
        }
    }
}

/// The deflate level of gzip layers (libdeflate's scale, 0–12). Part of the
/// layer digest: do not change lightly.
///
/// Level 4 is the lowest level whose layers are no larger than
/// `umoci insert`'s (Go's `compress/gzip` at level 6) on each of shared
/// libraries, `/usr/share` and C headers (Dec 2026, 1 MiB blocks): level 2
/// and 3 are smaller on libraries but larger on headers (23.2 and 22.6 MB
/// against umoci's 22.4 MB; level 4 22.0 MB). On `/usr/lib/x86_64-linux-gnu`
/// (715 MB) level 4 writes 239.8 MB, umoci 251.7 MB, level 6 233.0 MB.
/// `cargo xtask bench layers` times it against umoci and sweeps the levels.
pub const GZIP_LEVEL: u32 = 4;
/// The zstd level of zstd layers. Part of the layer digest: do not change.
pub const ZSTD_LEVEL: i32 = 3;
/// The independent block size of gzip layers: each block is one gzip
/// member. Part of the layer digest.
pub const GZIP_BLOCK: usize = 1024 * 1024;
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// A writer that compresses into `W` with fixed parameters.
pub(crate) enum Compressor<W: Write> {
    Gzip(ParallelGzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    None(W),
}

impl<W: Write> std::fmt::Debug for Compressor<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Compressor::Gzip(_) => "Compressor::Gzip",
            Compressor::Zstd(_) => "Compressor::Zstd",
            Compressor::None(_) => "Compressor::None",
        })
    }
}

impl<W: Write + Send + 'static> Compressor<W> {
    /// A compressor whose gzip level is `gzip_level` ([`GZIP_LEVEL`] but
    /// for benchmarks: any other level gives other layer digests).
    pub(crate) fn with_gzip_level(
        inner: W,
        compression: Compression,
        gzip_level: u32,
    ) -> io::Result<Self> {
        Ok(match compression {
            Compression::Gzip => Compressor::Gzip(ParallelGzEncoder::new(inner, gzip_level)?),
            Compression::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(inner, ZSTD_LEVEL)?;
                enc.include_checksum(false)?;
                enc.include_contentsize(false)?;
                Compressor::Zstd(enc)
            }
            Compression::None => Compressor::None(inner),
        })
    }

    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Gzip(enc) => enc.finish(),
            Compressor::Zstd(enc) => enc.finish(),
            Compressor::None(w) => Ok(w),
        }
    }
}

impl<W: Write + Send + 'static> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Gzip(enc) => enc.write(buf),
            Compressor::Zstd(enc) => enc.write(buf),
            Compressor::None(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Compressor::Gzip(enc) => enc.write_all(buf),
            Compressor::Zstd(enc) => enc.write_all(buf),
            Compressor::None(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Gzip(enc) => enc.flush(),
            Compressor::Zstd(enc) => enc.flush(),
            Compressor::None(w) => w.flush(),
        }
    }
}

struct Job {
    data: Vec<u8>,
    result: SyncSender<io::Result<Vec<u8>>>,
}

/// A gzip writer that compresses fixed-size blocks, each into one gzip
/// member, on worker threads (see the module documentation). Its output is
/// the same for any number of threads.
pub struct ParallelGzEncoder<W: Write> {
    inner: W,
    level: CompressionLvl,
    block: Vec<u8>,
    members: u64,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    pool: Option<Pool>,
    threads: usize,
}

impl<W: Write> std::fmt::Debug for ParallelGzEncoder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelGzEncoder")
            .field("level", &i32::from(self.level))
            .field("members", &self.members)
            .field("threads", &self.threads)
            .finish()
    }
}

struct Pool {
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs.take();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl<W: Write> ParallelGzEncoder<W> {
    /// A gzip encoder at `level` (0–12) using as many threads as there are CPUs.
    pub fn new(inner: W, level: u32) -> io::Result<Self> {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_threads(inner, level, threads)
    }

    /// A gzip encoder at `level` (0–12) with `threads` workers (1 = compress
    /// on the calling thread).
    pub fn with_threads(inner: W, level: u32, threads: usize) -> io::Result<Self> {
        let level = i32::try_from(level)
            .ok()
            .and_then(|l| CompressionLvl::new(l).ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("gzip level {level} is not in 0..=12"),
                )
            })?;
        Ok(ParallelGzEncoder {
            inner,
            level,
            block: Vec::with_capacity(GZIP_BLOCK),
            members: 0,
            pending: VecDeque::new(),
            pool: None,
            threads: threads.max(1),
        })
    }

    /// Compress what is buffered and return the inner writer. An empty input
    /// still gives one (empty) member.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.block.is_empty() || self.members == 0 {
            self.submit()?;
        }
        while let Some(result) = self.pending.pop_front() {
            self.write_result(result)?;
        }
        self.pool.take();
        Ok(self.inner)
    }

    fn write_result(&mut self, result: Receiver<io::Result<Vec<u8>>>) -> io::Result<()> {
        let out = result
            .recv()
            .map_err(|_| io::Error::other("a gzip worker thread died"))??;
        self.inner.write_all(&out)
    }

    fn submit(&mut self) -> io::Result<()> {
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(GZIP_BLOCK));
        self.members += 1;
        if self.threads == 1 {
            let out = gzip_member(&mut Deflater::new(self.level), &data)?;
            return self.inner.write_all(&out);
        }
        let (tx, rx) = sync_channel(1);
        let (threads, level) = (self.threads, self.level);
        let pool = self.pool.get_or_insert_with(|| Pool::start(threads, level));
        pool.jobs
            .as_ref()
            .expect("the pool is running")
            .send(Job { data, result: tx })
            .map_err(|_| io::Error::other("the gzip worker threads stopped"))?;
        self.pending.push_back(rx);
        while self.pending.len() > 2 * self.threads {
            let front = self.pending.pop_front().expect("not empty");
            self.write_result(front)?;
        }
        Ok(())
    }
}

impl Pool {
    fn start(threads: usize, level: CompressionLvl) -> Pool {
        let (tx, rx) = sync_channel::<Job>(threads);
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..threads)
            .map(|i| {
                let rx = Arc::clone(&rx);
                std::thread::Builder::new()
                    .name(format!("gzip-{i}"))
                    .spawn(move || {
                        // libdeflate keeps no state between calls: one
                        // compressor per worker gives the same bytes as a
                        // fresh one per block.
                        let mut deflater = Deflater::new(level);
                        loop {
                            let job = match rx.lock() {
                                Ok(rx) => rx.recv(),
                                Err(_) => return,
                            };
                            let Ok(job) = job else { return };
                            let _ = job.result.send(gzip_member(&mut deflater, &job.data));
                        }
                    })
                    .expect("spawn a gzip worker thread")
            })
            .collect();
        Pool {
            jobs: Some(tx),
            workers,
        }
    }
}

/// One whole gzip member of `data`: the fixed header, libdeflate's raw
/// deflate stream, CRC-32 and size.
fn gzip_member(deflater: &mut Deflater, data: &[u8]) -> io::Result<Vec<u8>> {
    let bound = deflater.deflate_compress_bound(data.len());
    let mut out = vec![0u8; GZIP_HEADER.len() + bound + 8];
    out[..GZIP_HEADER.len()].copy_from_slice(&GZIP_HEADER);
    let n = deflater
        .deflate_compress(data, &mut out[GZIP_HEADER.len()..GZIP_HEADER.len() + bound])
        .map_err(|e| io::Error::other(format!("deflate: {e:?}")))?;
    out.truncate(GZIP_HEADER.len() + n);
    out.extend_from_slice(&libdeflater::crc32(data).to_le_bytes());
    // ISIZE is the size modulo 2^32 (RFC 1952); a block is far smaller.
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Ok(out)
}

impl<W: Write> Write for ParallelGzEncoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = GZIP_BLOCK - self.block.len();
        let n = room.min(buf.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == GZIP_BLOCK {
            self.submit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        let mut state = 0x1234_5678_u32;
        (0..len)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                if i % 7 < 4 {
                    b'a' + (state % 5) as u8
                } else {
                    (state >> 8) as u8
                }
            })
            .collect()
    }

    fn gz(data: &[u8], threads: usize) -> Vec<u8> {
        let mut enc = ParallelGzEncoder::with_threads(Vec::new(), GZIP_LEVEL, threads).unwrap();
        for chunk in data.chunks(77_777) {
            enc.write_all(chunk).unwrap();
        }
        enc.finish().unwrap()
    }

    #[test]
    fn incompressible_data_round_trips() {
        let mut state = 0x9e37_79b9_u32;
        let data: Vec<u8> = (0..2 * GZIP_BLOCK + 999)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 7) as u8
            })
            .collect();
        for level in [GZIP_LEVEL, 6, 9] {
            let mut enc = ParallelGzEncoder::with_threads(Vec::new(), level, 2).unwrap();
            enc.write_all(&data).unwrap();
            let out = enc.finish().unwrap();
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&out[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "level {level}");
        }
    }

    #[test]
    fn output_decodes_and_does_not_depend_on_threads() {
        for len in [
            0,
            1,
            GZIP_BLOCK - 1,
            GZIP_BLOCK,
            GZIP_BLOCK + 1,
            3 * GZIP_BLOCK + 12345,
        ] {
            let data = sample(len);
            let one = gz(&data, 1);
            let three = gz(&data, 3);
            assert_eq!(one, three, "len {len}");
            assert_eq!(&one[..10], &GZIP_HEADER);
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&one[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "len {len}");
            // One member per block (at least one): the header appears at
            // every member start, which a single-member reader stops at.
            let members = len.div_ceil(GZIP_BLOCK).max(1);
            let mut first = Vec::new();
            flate2::read::GzDecoder::new(&one[..])
                .read_to_end(&mut first)
                .unwrap();
            assert_eq!(
                first.len(),
                len.min(GZIP_BLOCK),
                "len {len}: {members} members"
            );
        }
    }

    #[test]
    fn levels_outside_libdeflates_range_are_refused() {
        let err = ParallelGzEncoder::with_threads(Vec::new(), 13, 1).unwrap_err();
        assert!(err.to_string().contains("gzip level 13"), "{err}");
    }

    /// The digest of the pinned gzip parameters: a change of level, block
    /// size, header or libdeflate version that changes the bytes of every
    /// layer shows here first.
    #[test]
    fn pinned_parameters_give_pinned_bytes() {
        use sha2::Digest as _;
        let out = gz(&sample(3 * GZIP_BLOCK + 12345), 2);
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&out)),
            "b5f4c1f8b6f2fe8e0212e03848c200da119c096efce3fa9d9a74e13e1575ac5f",
            "the gzip bytes changed: every layer digest changes with them"
        );
    }

    /// Regression: workers once reused one `Compress` with `reset()` +
    /// `set_dictionary()`, which with zlib-rs left state behind, so the bytes
    /// depended on which worker had compressed which block before. Many
    /// blocks of mixed compressibility, several thread counts, repeated.
    #[test]
    fn many_blocks_give_the_same_bytes_at_any_thread_count_every_time() {
        let mut state = 0x2545_f491_u32;
        let mut data = Vec::new();
        for i in 0..40 {
            if i % 3 == 0 {
                data.extend((0..GZIP_BLOCK / 2).map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    (state >> 7) as u8
                }));
            } else {
                data.extend(sample(GZIP_BLOCK / 2 + i * 1000));
            }
        }
        let reference = gz(&data, 1);
        for threads in [2, 3, 4] {
            for round in 0..3 {
                assert!(
                    gz(&data, threads) == reference,
                    "{threads} threads, round {round}: output differs from one thread's"
                );
            }
        }
    }
}
