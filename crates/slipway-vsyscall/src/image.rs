//! Audit an OCI image without unpacking it.
//!
//! Each layer of the image (read with slipway-oci from an OCI layout) is
//! streamed through its decompressor and tar reader; every regular file that
//! starts like an ELF file or a static archive is audited in memory. Later
//! layers win: a file replaced, deleted by a `.wh.` whiteout or hidden by an
//! opaque directory (`.wh..wh..opq`) drops the findings of the earlier one,
//! and a hard link inherits the findings of its target — so the result is
//! that of the image's final rootfs, named by absolute paths (`/usr/bin/x`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use slipway_oci::{Compression, Digest, Image, OciLayout};

use crate::Error;
use crate::audit::{AuditReport, Finding, audit_bytes};

/// Findings and ELF count of one file in the image.
#[derive(Debug, Default, Clone)]
struct FileResult {
    findings: Vec<Finding>,
    elf_files: usize,
    skipped: Vec<(String, String)>,
}

fn oci_error(what: String) -> impl FnOnce(slipway_oci::Error) -> Error {
    move |e| Error::Image {
        what,
        message: e.to_string(),
    }
}

/// Audit the image `reference` (a tag, a digest, or `None` for the only
/// image) of the OCI layout at `layout_dir`.
pub fn audit_image(layout_dir: &Path, reference: Option<&str>) -> Result<AuditReport, Error> {
    let what = format!("OCI layout `{}`", layout_dir.display());
    let layout = OciLayout::open(layout_dir).map_err(oci_error(what.clone()))?;
    let image = Image::load(&layout, reference).map_err(oci_error(what.clone()))?;
    let mut files: BTreeMap<String, FileResult> = BTreeMap::new();
    for layer in image.layers() {
        let digest = Digest::try_from(layer.digest()).map_err(oci_error(what.clone()))?;
        let blob = layout
            .open_blob(&digest)
            .map_err(oci_error(format!("layer {digest} of {what}")))?;
        audit_layer(blob, &digest.to_string(), &mut files)?;
    }
    let mut report = AuditReport::default();
    for (_, mut result) in files {
        report.findings.append(&mut result.findings);
        report.elf_files += result.elf_files;
        report.skipped.append(&mut result.skipped);
    }
    report.findings.sort();
    report.skipped.sort();
    Ok(report)
}

/// `/a/b` for a tar path `./a/b` or `a/b/`.
fn absolute(path: &str) -> String {
    let trimmed = path
        .trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/');
    format!("/{trimmed}")
}

fn remove_tree(files: &mut BTreeMap<String, FileResult>, dir: &str, keep_dir_itself: bool) {
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    files.retain(|path, _| !path.starts_with(&prefix) && (keep_dir_itself || path != dir));
}

fn audit_layer(
    blob: impl Read,
    name: &str,
    files: &mut BTreeMap<String, FileResult>,
) -> Result<(), Error> {
    let io = |e: std::io::Error| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("reading layer {name}: {e}"),
        ))
    };
    let mut blob = std::io::BufReader::new(blob);
    let head = {
        use std::io::BufRead;
        blob.fill_buf().map_err(io)?.to_vec()
    };
    let reader: Box<dyn Read> = match Compression::sniff(&head) {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(blob)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(blob).map_err(io)?),
        Compression::None => Box::new(blob),
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(io)? {
        let mut entry = match entry {
            Ok(entry) => entry,
            // `umoci insert` (0.4.7) writes layers that end right after the
            // last file's data, without padding or end-of-archive blocks
            // (GNU tar rejects them too). Everything was read by then: stop.
            // The tar crate reports that as an `Other` error.
            Err(e)
                if e.kind() == std::io::ErrorKind::UnexpectedEof
                    || e.to_string().starts_with("unexpected EOF") =>
            {
                break;
            }
            Err(e) => return Err(io(e)),
        };
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = absolute(&raw);
        let (parent, base) = path.rsplit_once('/').unwrap_or(("", &path));
        if base == ".wh..wh..opq" {
            remove_tree(files, if parent.is_empty() { "/" } else { parent }, true);
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let target = format!("{parent}/{hidden}");
            remove_tree(files, &target, false);
            continue;
        }
        // Anything at this path replaces what earlier layers had there.
        files.remove(&path);
        let kind = entry.header().entry_type();
        if kind.is_hard_link() {
            if let Some(target) = entry.link_name_bytes() {
                let target = absolute(&String::from_utf8_lossy(&target));
                if let Some(found) = files.get(&target).cloned() {
                    let renamed = FileResult {
                        findings: found
                            .findings
                            .into_iter()
                            .map(|mut f| {
                                f.file = f.file.replacen(&target, &path, 1);
                                f
                            })
                            .collect(),
                        ..found
                    };
                    files.insert(path, renamed);
                }
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let mut data = Vec::with_capacity(8);
        (&mut entry).take(8).read_to_end(&mut data).map_err(io)?;
        if !data.starts_with(b"\x7fELF") && data != b"!<arch>\n" {
            continue;
        }
        entry.read_to_end(&mut data).map_err(io)?;
        let mut report = AuditReport::default();
        if let Err(err) = audit_bytes(&path, &data, &mut report) {
            report.skipped.push((path.clone(), err.to_string()));
        }
        files.insert(
            path,
            FileResult {
                findings: report.findings,
                elf_files: report.elf_files,
                skipped: report.skipped,
            },
        );
    }
    Ok(())
}
