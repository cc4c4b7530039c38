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

use slipway_oci::tar::EntryKind;
use slipway_oci::{Digest, EntryClass, Image, LayerEntry, OciLayout, read_layer};

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

/// `/a/b` for a normalised layer path `a/b` (`/` for the root).
fn absolute(path: &[u8]) -> String {
    format!("/{}", String::from_utf8_lossy(path))
}

fn remove_tree(files: &mut BTreeMap<String, FileResult>, dir: &str, keep_dir_itself: bool) {
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    files.retain(|path, _| !path.starts_with(&prefix) && (keep_dir_itself || path != dir));
}

fn audit_layer(
    mut blob: impl Read,
    name: &str,
    files: &mut BTreeMap<String, FileResult>,
) -> Result<(), Error> {
    // slipway-oci's layer reader: decompression, whiteouts classified, and
    // umoci's layers without final padding read in full.
    let what = format!("layer {name}");
    read_layer(&mut blob, &what, |entry| -> Result<(), LayerError> {
        let path = absolute(&entry.entry.path);
        match &entry.class {
            EntryClass::Opaque { dir } => {
                remove_tree(files, &absolute(dir), true);
                return Ok(());
            }
            EntryClass::Whiteout { target } => {
                remove_tree(files, &absolute(target), false);
                return Ok(());
            }
            _ => {}
        }
        // Anything at this path replaces what earlier layers had there.
        files.remove(&path);
        match &entry.entry.kind {
            EntryKind::Hardlink { target } => {
                let target = absolute(target);
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
                Ok(())
            }
            EntryKind::File { .. } if entry.class == EntryClass::Plain => {
                audit_file(entry, path, files, &what).map_err(LayerError::Audit)
            }
            _ => Ok(()),
        }
    })
    .map_err(|e| match e {
        LayerError::Oci(e) => oci_error(what.clone())(e),
        LayerError::Audit(e) => e,
    })?;
    Ok(())
}

/// An error while reading a layer: the reader's, or the audit's.
enum LayerError {
    Oci(slipway_oci::Error),
    Audit(Error),
}

impl From<slipway_oci::Error> for LayerError {
    fn from(e: slipway_oci::Error) -> Self {
        LayerError::Oci(e)
    }
}

fn audit_file(
    entry: &mut LayerEntry<'_>,
    path: String,
    files: &mut BTreeMap<String, FileResult>,
    what: &str,
) -> Result<(), Error> {
    let io = |e: std::io::Error| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("reading {what}: {e}"),
        ))
    };
    let mut data = Vec::with_capacity(8);
    (&mut *entry).take(8).read_to_end(&mut data).map_err(io)?;
    if !data.starts_with(b"\x7fELF") && data != b"!<arch>\n" {
        return Ok(());
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
    Ok(())
}
