//! Opening an RPM: parse the lead and headers, then stream the payload.

use crate::cpio::CpioReader;
use crate::error::{Error, IoContext};
use crate::header::Header;
use rpm::PackageMetadata;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// An opened RPM: its parsed headers and the unread payload behind them.
pub struct Package {
    /// The file (or display name) the package was read from, used in errors.
    pub path: PathBuf,
    /// The typed main header.
    pub header: Header,
    /// The `rpm` crate's view of lead, signature header and header (raw tags).
    pub metadata: PackageMetadata,
    rest: Box<dyn BufRead>,
}

impl std::fmt::Debug for Package {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Package")
            .field("path", &self.path)
            .field("nevra", &self.header.nevra())
            .finish_non_exhaustive()
    }
}

/// Maps the `rpm` crate's parse errors, turning short reads into a clear
/// "truncated" message.
pub(crate) fn header_error(path: &Path, source: rpm::Error) -> Error {
    if let rpm::Error::Io(e) = &source
        && e.kind() == io::ErrorKind::UnexpectedEof
    {
        return Error::Malformed {
            path: path.to_owned(),
            reason: "truncated: file ends inside the lead or headers".into(),
        };
    }
    Error::Header {
        path: path.to_owned(),
        source,
    }
}

/// Parses structurally checked header bytes with the `rpm` crate.
///
/// The blocks were checked by `rawheader`, so the crate should not panic;
/// should it still (a bug there), the panic is turned into an error naming
/// the file rather than taking the process down.
pub(crate) fn parse_checked(bytes: &[u8], path: &Path) -> Result<(PackageMetadata, Header), Error> {
    let parsed = std::panic::catch_unwind(|| {
        let metadata = PackageMetadata::parse(&mut io::Cursor::new(bytes))
            .map_err(|e| header_error(path, e))?;
        let header = Header::from_metadata(&metadata, path)?;
        Ok((metadata, header))
    });
    parsed.unwrap_or_else(|_| {
        Err(Error::Malformed {
            path: path.to_owned(),
            reason: "the header parser failed on malformed data".into(),
        })
    })
}

/// Reads only the header of the RPM at `path`.
pub fn read_header(path: impl AsRef<Path>) -> Result<Header, Error> {
    Ok(Package::open(path)?.header)
}

impl Package {
    /// Opens `path` and parses its headers; the payload is not read yet.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let file = fs_err::File::open(path).at(path)?;
        Self::from_reader(BufReader::with_capacity(64 * 1024, file), path)
    }

    /// Parses the headers from `reader`; `name` identifies it in errors.
    pub fn from_reader(
        mut reader: impl BufRead + 'static,
        name: impl Into<PathBuf>,
    ) -> Result<Self, Error> {
        let path = name.into();
        let raw = crate::rawheader::read_headers(&mut reader, &path)?;
        let (metadata, header) = parse_checked(&raw.bytes, &path)?;
        Ok(Self {
            path,
            header,
            metadata,
            rest: Box::new(reader),
        })
    }

    /// The decompressed payload as a cpio stream.
    pub fn payload(self) -> Result<CpioReader<Box<dyn Read>>, Error> {
        let sizes = self.header.files.iter().map(|f| f.size).collect();
        let stream = decompress(&self.header.payload_compressor, self.rest, &self.path)?;
        Ok(CpioReader::new(stream, self.path).with_file_sizes(sizes))
    }

    /// The payload bytes as stored (still compressed).
    pub fn raw_payload(self) -> Box<dyn BufRead> {
        self.rest
    }
}

/// Opens the payload stream of an RPM read from `reader`.
///
/// Equivalent to `Package::from_reader(reader, name)?.payload()`; use
/// [`Package`] when you also need the header.
pub fn open_payload(
    reader: impl BufRead + 'static,
    name: impl Into<PathBuf>,
) -> Result<CpioReader<Box<dyn Read>>, Error> {
    Package::from_reader(reader, name)?.payload()
}

/// Wraps `reader` in the decompressor named by `PAYLOADCOMPRESSOR`.
///
/// A missing tag reads as `gzip`, and, as rpm's own gzip reader does, a
/// `gzip` payload that does not start with the gzip magic is passed through
/// as plain cpio: rpm 4.16 builds `_binary_payload w.ufdio` packages so.
pub fn decompress<'a>(
    compressor: &str,
    mut reader: impl BufRead + 'a,
    path: &Path,
) -> Result<Box<dyn Read + 'a>, Error> {
    Ok(match compressor {
        "gzip" => {
            let head = reader.fill_buf().map_err(|source| Error::Io {
                path: path.to_owned(),
                source,
            })?;
            if head.starts_with(&[0x1f, 0x8b]) {
                Box::new(flate2::bufread::MultiGzDecoder::new(reader))
            } else {
                Box::new(reader)
            }
        }
        "bzip2" => Box::new(bzip2::bufread::MultiBzDecoder::new(reader)),
        "xz" => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(reader)),
        "lzma" => {
            let stream =
                liblzma::stream::Stream::new_lzma_decoder(u64::MAX).map_err(|e| Error::Io {
                    path: path.to_owned(),
                    source: e.into(),
                })?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(reader, stream))
        }
        "zstd" => Box::new(zstd::stream::read::Decoder::with_buffer(reader).at(path)?),
        "identity" | "" => Box::new(reader),
        other => {
            return Err(Error::UnsupportedCompressor {
                path: path.to_owned(),
                compressor: other.to_owned(),
            });
        }
    })
}
