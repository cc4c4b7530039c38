//! Layer compression with fixed parameters, so the bytes are part of the
//! reproducible output.
//!
//! gzip is written like `pigz`: the input is cut into fixed 512 KiB blocks,
//! each deflated independently (primed with the previous block's last 32 KiB
//! as a dictionary, ending with a sync flush) on a pool of threads, and the
//! results are concatenated into one gzip member. The block size, the level,
//! the backend (zlib-rs) and the header (mtime 0, no name, OS byte 255) are
//! fixed, so the output does not depend on the number of threads.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Crc, FlushCompress, Status};

/// How a layer's tar is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// gzip (deflate level [`GZIP_LEVEL`], zlib-rs), `application/vnd.oci.image.layer.v1.tar+gzip`.
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

/// The deflate level of gzip layers. Part of the layer digest: do not change
/// lightly.
///
/// Level 2 (zlib-rs `deflate_fast`) is chosen for speed. One thread of
/// zlib-rs on 600 MB of `/usr` deflates 154 MB/s at level 2, 130 at level 3
/// and 80 at level 6; the whole of `/usr` (5.7 GB) becomes 2240 MB at level 2,
/// 2166 MB at level 3 and 2100 MB at level 6. Only level 2 keeps a layer
/// write ≥ 1.5× faster than `umoci insert` on 2 cores (`cargo xtask bench
/// layers`). Level 1 is avoided: zlib-rs 0.6's `deflate_quick` panics on some
/// inputs.
pub const GZIP_LEVEL: u32 = 2;
/// The zstd level of zstd layers. Part of the layer digest: do not change.
pub const ZSTD_LEVEL: i32 = 3;
/// The independent block size of gzip layers. Part of the layer digest.
pub const GZIP_BLOCK: usize = 512 * 1024;
const DICT: usize = 32 * 1024;
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
    pub(crate) fn new(inner: W, compression: Compression) -> io::Result<Self> {
        Ok(match compression {
            Compression::Gzip => Compressor::Gzip(ParallelGzEncoder::new(inner, GZIP_LEVEL)),
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
    dict: Vec<u8>,
    last: bool,
    result: SyncSender<io::Result<Vec<u8>>>,
}

/// A gzip writer that deflates fixed-size blocks on worker threads (see the
/// module documentation). Its output is the same for any number of threads.
pub struct ParallelGzEncoder<W: Write> {
    inner: W,
    level: u32,
    block: Vec<u8>,
    dict: Vec<u8>,
    crc: Crc,
    total_in: u64,
    started: bool,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    pool: Option<Pool>,
    threads: usize,
}

impl<W: Write> std::fmt::Debug for ParallelGzEncoder<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelGzEncoder")
            .field("level", &self.level)
            .field("total_in", &self.total_in)
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
    /// A gzip encoder at `level` using as many threads as there are CPUs.
    pub fn new(inner: W, level: u32) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_threads(inner, level, threads)
    }

    /// A gzip encoder at `level` with `threads` deflate workers (1 = deflate
    /// on the calling thread).
    pub fn with_threads(inner: W, level: u32, threads: usize) -> Self {
        ParallelGzEncoder {
            inner,
            level,
            block: Vec::with_capacity(GZIP_BLOCK),
            dict: Vec::new(),
            crc: Crc::new(),
            total_in: 0,
            started: false,
            pending: VecDeque::new(),
            pool: None,
            threads: threads.max(1),
        }
    }

    /// Compress what is buffered, write the trailer and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit(true)?;
        while let Some(result) = self.pending.pop_front() {
            self.write_result(result)?;
        }
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
        trailer[4..].copy_from_slice(&(self.total_in as u32).to_le_bytes());
        self.inner.write_all(&trailer)?;
        self.pool.take();
        Ok(self.inner)
    }

    fn write_result(&mut self, result: Receiver<io::Result<Vec<u8>>>) -> io::Result<()> {
        let out = result
            .recv()
            .map_err(|_| io::Error::other("a gzip worker thread died"))??;
        self.inner.write_all(&out)
    }

    fn submit(&mut self, last: bool) -> io::Result<()> {
        if !self.started {
            self.inner.write_all(&GZIP_HEADER)?;
            self.started = true;
        }
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(GZIP_BLOCK));
        self.crc.update(&data);
        self.total_in += data.len() as u64;
        let dict = std::mem::take(&mut self.dict);
        if !last {
            self.dict = data[data.len().saturating_sub(DICT)..].to_vec();
        }
        if self.threads == 1 {
            let mut compress = Compress::new(flate2::Compression::new(self.level), false);
            let out = deflate_block(&mut compress, &data, &dict, last)?;
            return self.inner.write_all(&out);
        }
        let (tx, rx) = sync_channel(1);
        let job = Job {
            data,
            dict,
            last,
            result: tx,
        };
        let level = self.level;
        let threads = self.threads;
        let pool = self.pool.get_or_insert_with(|| Pool::start(threads, level));
        pool.jobs
            .as_ref()
            .expect("the pool is running")
            .send(job)
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
    fn start(threads: usize, level: u32) -> Pool {
        let (tx, rx) = sync_channel::<Job>(threads);
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..threads)
            .map(|i| {
                let rx = Arc::clone(&rx);
                std::thread::Builder::new()
                    .name(format!("gzip-{i}"))
                    .spawn(move || {
                        loop {
                            let job = match rx.lock() {
                                Ok(rx) => rx.recv(),
                                Err(_) => return,
                            };
                            let Ok(job) = job else { return };
                            // A fresh deflate state per block: `reset()` +
                            // `set_dictionary()` on a reused one leaves state
                            // behind with zlib-rs, and the bytes would then
                            // depend on scheduling (see the regression test).
                            let mut compress =
                                Compress::new(flate2::Compression::new(level), false);
                            let out = deflate_block(&mut compress, &job.data, &job.dict, job.last);
                            let _ = job.result.send(out);
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

/// Deflate one block as raw deflate: primed with `dict`, ending with a sync
/// flush (or the final block when `last`).
fn deflate_block(
    compress: &mut Compress,
    data: &[u8],
    dict: &[u8],
    last: bool,
) -> io::Result<Vec<u8>> {
    if !dict.is_empty() {
        compress
            .set_dictionary(dict)
            .map_err(|e| io::Error::other(format!("deflate dictionary: {e}")))?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    let start = compress.total_in();
    loop {
        if out.capacity() - out.len() < 16 * 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = (compress.total_in() - start) as usize;
        let status = compress
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(|e| io::Error::other(format!("deflate: {e}")))?;
        let consumed = (compress.total_in() - start) as usize;
        match status {
            Status::StreamEnd => break,
            // A sync flush is complete when all input is taken and the output
            // did not fill the space it was given.
            _ if !last && consumed == data.len() && out.len() < out.capacity() => break,
            _ => {}
        }
    }
    Ok(out)
}

impl<W: Write> Write for ParallelGzEncoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = GZIP_BLOCK - self.block.len();
        let n = room.min(buf.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == GZIP_BLOCK {
            self.submit(false)?;
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
        let mut enc = ParallelGzEncoder::with_threads(Vec::new(), GZIP_LEVEL, threads);
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
            let mut enc = ParallelGzEncoder::with_threads(Vec::new(), level, 2);
            enc.write_all(&data).unwrap();
            let out = enc.finish().unwrap();
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&out[..])
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
            flate2::read::GzDecoder::new(&one[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "len {len}");
            // A single member: the multi-member decoder reads the same.
            let mut again = Vec::new();
            flate2::read::MultiGzDecoder::new(&one[..])
                .read_to_end(&mut again)
                .unwrap();
            assert_eq!(again, data);
        }
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
