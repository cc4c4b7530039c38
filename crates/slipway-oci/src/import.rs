//! Root filesystems to images: from a directory or from a tar file.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use oci_spec::image::Descriptor;

use crate::config::ImageConfig;
use crate::image::write_image;
use crate::layer::{Layer, LayerOptions, LayerWriter};
use crate::layout::OciLayout;
use crate::reader::{EntryClass, read_layer};
use crate::tar::{EntryKind, TarEntry};
use crate::transport::{ImageRef, LocalImage, with_new_dir, write_image_to};
use crate::{Error, Result};

/// Make a one-layer image from `source` (a directory, or a tar file that may
/// be gzip- or zstd-compressed) with `config` (platform, env, …; the layer
/// and its history entry are appended here) and write it to `dest`.
/// `tag` overrides the reference of `dest`. Returns the manifest descriptor.
pub fn import_rootfs(
    source: &Path,
    dest: &ImageRef,
    tag: Option<&str>,
    mut config: ImageConfig,
    options: &LayerOptions,
) -> Result<Descriptor> {
    let meta = fs_err::metadata(source).map_err(|e| Error::IoAt {
        action: "reading the root filesystem",
        path: source.to_owned(),
        source: io::Error::new(e.kind(), plain_io_message(&e)),
    })?;
    let epoch = options.source_date_epoch;
    let write_layer = |layout: &OciLayout| -> Result<Layer> {
        if meta.is_dir() {
            crate::write_layer_from_dir(layout, source, options)
        } else {
            let mut file = fs_err::File::open(source)?;
            write_layer_from_tar(layout, &mut file, options).map_err(|e| match e {
                Error::Invalid { reason, .. } => {
                    Error::invalid(format!("tar file `{}`", source.display()), reason)
                }
                e => e,
            })
        }
    };
    let dest = match tag {
        Some(tag) => dest.with_reference(Some(tag.to_owned())),
        None => dest.clone(),
    };
    let oci_tag = |reference: Option<&str>| reference.unwrap_or("latest").to_owned();
    match &dest {
        ImageRef::Oci { path, reference } => with_new_dir(path, |layout| {
            let layer = write_layer(layout)?;
            config.append_layer(&layer.diff_id, "slipway import-rootfs", epoch);
            write_image(
                layout,
                &config,
                &[layer.descriptor],
                Some(&oci_tag(reference.as_deref())),
            )
        }),
        _ => {
            let temp = tempfile::Builder::new()
                .prefix("slipway-import-")
                .tempdir()
                .map_err(|e| {
                    Error::io_at("creating a temporary directory in", std::env::temp_dir())(
                        crate::transport::bare(e),
                    )
                })?;
            let layout = OciLayout::create(temp.path())?;
            let layer = write_layer(&layout)?;
            config.append_layer(&layer.diff_id, "slipway import-rootfs", epoch);
            let tag = match &dest {
                ImageRef::DockerArchive { reference, .. } => reference.clone(),
                other => Some(oci_tag(other.reference())),
            };
            write_image(&layout, &config, &[layer.descriptor], tag.as_deref())?;
            let image = crate::Image::load(&layout, tag.as_deref())?;
            write_image_to(&LocalImage::from_layout(layout, image), &dest)
        }
    }
}

fn plain_io_message(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => std::error::Error::source(e).map_or_else(|| e.to_string(), ToString::to_string),
    }
}

struct Spooled {
    entry: TarEntry,
    offset: u64,
}

/// Write a layer from the entries of a tar stream (gzip/zstd detected),
/// normalised exactly like [`write_layer_from_dir`](crate::write_layer_from_dir):
/// sorted by path components, mtimes clamped, user/group names dropped,
/// hard links pointing at the first path of their group. File data is
/// spooled to a temporary file so the entries can be re-ordered. A path that
/// appears twice keeps its last entry; `./` and leading `/` are dropped.
pub fn write_layer_from_tar(
    layout: &OciLayout,
    input: &mut dyn Read,
    options: &LayerOptions,
) -> Result<Layer> {
    let mut spool = tempfile::tempfile().map_err(|e| {
        Error::io_at("creating a temporary file in", std::env::temp_dir())(crate::transport::bare(
            e,
        ))
    })?;
    let mut entries: BTreeMap<Vec<Vec<u8>>, Spooled> = BTreeMap::new();
    let key_of =
        |path: &[u8]| -> Vec<Vec<u8>> { path.split(|&b| b == b'/').map(<[u8]>::to_vec).collect() };
    {
        let mut spool_writer = io::BufWriter::with_capacity(1 << 20, &mut spool);
        let mut offset = 0u64;
        read_layer(input, "tar", |member| -> Result<()> {
            let raw = String::from_utf8_lossy(&member.raw_path).into_owned();
            if let Some(reason) = &member.invalid {
                return Err(Error::invalid("tar", format!("entry `{raw}`: {reason}")));
            }
            if let EntryClass::Unsupported { type_byte } = member.class {
                return Err(Error::invalid(
                    "tar",
                    format!(
                        "entry `{raw}` has the unsupported type `{}`",
                        char::from(type_byte).escape_default()
                    ),
                ));
            }
            if member.entry.path.is_empty() {
                return Ok(()); // the root itself
            }
            let components = key_of(&member.entry.path);
            let spooled = Spooled {
                entry: member.entry.clone(),
                offset,
            };
            if let EntryKind::File { size } = spooled.entry.kind {
                let copied = io::copy(member, &mut spool_writer)?;
                if copied != size {
                    return Err(Error::invalid("tar", "truncated file data"));
                }
                offset += size;
            }
            entries.insert(components, spooled);
            Ok(())
        })?;
        spool_writer.flush()?;
    }
    spool.rewind()?;

    // Hard-link groups: every member points at the first path (in output order).
    let mut first_of_group: HashMap<Vec<Vec<u8>>, Vec<Vec<u8>>> = HashMap::new();
    for (key, s) in &entries {
        if let EntryKind::Hardlink { .. } = s.entry.kind {
            let root = link_root(&entries, key, &key_of)?;
            let first = first_of_group
                .entry(root.clone())
                .or_insert_with(|| root.clone());
            if key < first {
                *first = key.clone();
            }
        }
    }
    // The first member carries the data and metadata of the group's root.
    let mut replaced: HashMap<Vec<Vec<u8>>, TarEntry> = HashMap::new();
    let mut data_source: HashMap<Vec<Vec<u8>>, u64> = HashMap::new();
    for (root, first) in &first_of_group {
        if first != root {
            let root_entry = &entries[root];
            let mut as_file = root_entry.entry.clone();
            as_file.path = first.join(&b'/');
            replaced.insert(first.clone(), as_file);
            data_source.insert(first.clone(), root_entry.offset);
            let mut as_link = root_entry.entry.clone();
            as_link.kind = EntryKind::Hardlink {
                target: first.join(&b'/'),
            };
            replaced.insert(root.clone(), as_link);
        }
    }

    let mut writer = LayerWriter::new(layout, options)?;
    for (key, s) in &entries {
        let mut entry = replaced
            .get(key)
            .cloned()
            .unwrap_or_else(|| s.entry.clone());
        let mut offset = data_source.get(key).copied().unwrap_or(s.offset);
        if let EntryKind::Hardlink { .. } = s.entry.kind
            && !replaced.contains_key(key)
        {
            let root = link_root(&entries, key, &key_of)?;
            entry.kind = EntryKind::Hardlink {
                target: first_of_group[&root].join(&b'/'),
            };
            offset = 0;
        }
        let size = entry.data_size();
        let mut reader = SpoolReader {
            file: &spool,
            offset,
            left: size,
        };
        writer.append(&entry, &mut reader)?;
    }
    writer.finish()
}

/// The entry a hard link finally points at (following links to links).
fn link_root(
    entries: &BTreeMap<Vec<Vec<u8>>, Spooled>,
    key: &[Vec<u8>],
    key_of: &dyn Fn(&[u8]) -> Vec<Vec<u8>>,
) -> Result<Vec<Vec<u8>>> {
    let mut current = key.to_vec();
    for _ in 0..=entries.len() {
        match &entries.get(&current).map(|s| &s.entry.kind) {
            Some(EntryKind::Hardlink { target }) => current = key_of(target),
            Some(_) => return Ok(current),
            None => {
                return Err(Error::invalid(
                    "tar",
                    format!(
                        "hard link `{}` points at `{}`, which is not in the archive",
                        String::from_utf8_lossy(&key.join(&b'/')),
                        String::from_utf8_lossy(&current.join(&b'/'))
                    ),
                ));
            }
        }
    }
    Err(Error::invalid(
        "tar",
        format!(
            "hard link `{}` is part of a cycle",
            String::from_utf8_lossy(&key.join(&b'/'))
        ),
    ))
}

struct SpoolReader<'a> {
    file: &'a std::fs::File,
    offset: u64,
    left: u64,
}

impl Read for SpoolReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(self.left as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.offset)?;
        self.offset += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}
