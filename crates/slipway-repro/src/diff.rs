//! Comparing two images: manifest, config, layers, then files.
//!
//! Two modes:
//!
//! * **exact** (the default): every byte that reaches the manifest digest
//!   counts — manifest and config fields (including `created` and history
//!   timestamps), layer digests, compressed sizes and media types, tar entry
//!   order, file mtimes and owner names.
//! * **semantic** (like diffoci's `--semantic`): ignores timestamps (file
//!   mtimes, config `created`, `history[].created`, the
//!   `org.opencontainers.image.created` annotation), tar entry order, owner
//!   *names* (numeric ids still count), compression (layer digests, sizes,
//!   media types), the manifest's format (only its annotations are
//!   compared) and `rootfs.diff_ids`; two layers whose files agree on
//!   everything else are "equivalent".

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::index::{Entry, EntryKind, LayerIndex, index_layer};
use crate::source::{LayerInfo, SourceImage};

/// How strict a comparison is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every byte counts.
    #[default]
    Exact,
    /// Timestamps, entry order, owner names and compression are ignored.
    Semantic,
}

impl Mode {
    /// What this mode ignores, for people: empty for [`Mode::Exact`]. The
    /// text report and the JSON report (`ignored`) carry it, and
    /// `slipway diff --help` lists the same.
    pub fn ignores(self) -> &'static [&'static str] {
        match self {
            Mode::Exact => &[],
            Mode::Semantic => &[
                "file mtimes",
                "config created and history[].created",
                "the org.opencontainers.image.created annotation",
                "tar entry order",
                "owner names (numeric ids still count)",
                "compression (layer digests, compressed sizes, media types)",
                "the manifest's format (only its annotations count)",
                "rootfs.diff_ids",
            ],
        }
    }
}

/// Options of [`diff_images`].
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Exact or semantic.
    pub mode: Mode,
    /// Lines of unified diff shown per changed text file.
    pub hint_lines: usize,
    /// Bytes of each changed file read for a hint.
    pub hint_bytes: usize,
    /// Stop after the first differing layer (what `verify` wants).
    pub first_layer_only: bool,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            mode: Mode::Exact,
            hint_lines: 12,
            hint_bytes: 1 << 20,
            first_layer_only: false,
        }
    }
}

/// The result of comparing two images.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// No difference that the mode counts.
    pub identical: bool,
    /// The mode used.
    pub mode: Mode,
    /// What the mode ignored ([`Mode::ignores`]).
    pub ignored: Vec<&'static str>,
    /// The first image.
    pub a: Side,
    /// The second image.
    pub b: Side,
    /// Differing manifest fields (not config or layers, which follow).
    pub manifest: Vec<FieldDiff>,
    /// Differing config fields, as JSON pointers-ish paths (`config.Env`).
    pub config: Vec<FieldDiff>,
    /// Every layer position, with what differs in it.
    pub layers: Vec<LayerDiff>,
}

/// One side of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// The location as given.
    pub location: String,
    /// The manifest digest, if the source has one.
    pub manifest_digest: Option<String>,
    /// The config digest.
    pub config_digest: String,
}

/// A field whose value differs; `None` means absent on that side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    /// Dotted path of the field (`config.Env`, `history[2].created_by`).
    pub field: String,
    /// Value in the first image.
    pub a: Option<Value>,
    /// Value in the second image.
    pub b: Option<Value>,
}

/// How a layer position compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerStatus {
    /// Same digest.
    Same,
    /// Different bytes, but nothing the semantic mode counts.
    Equivalent,
    /// Differs.
    Different,
    /// Only in the second image.
    Added,
    /// Only in the first image.
    Removed,
    /// Not compared (after the first differing layer, when asked to stop).
    Skipped,
}

/// One layer position.
#[derive(Debug, Clone, Serialize)]
pub struct LayerDiff {
    /// Position, 0 = bottom.
    pub index: usize,
    /// Verdict.
    pub status: LayerStatus,
    /// The layer in the first image.
    pub a: Option<LayerInfo>,
    /// The layer in the second image.
    pub b: Option<LayerInfo>,
    /// Layer-level remarks (compression only, entry order, media type).
    pub notes: Vec<String>,
    /// Files that differ, sorted by path.
    pub files: Vec<FileDiff>,
}

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Only in the second image's layer.
    Added,
    /// Only in the first image's layer.
    Removed,
    /// In both, different.
    Changed,
}

/// One differing path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileDiff {
    /// Path inside the layer (no leading `/`).
    pub path: String,
    /// Added, removed or changed.
    pub change: Change,
    /// The entry's kind (the second image's, unless removed).
    pub kind: EntryKind,
    /// For changed paths: what differs.
    pub differences: Vec<Difference>,
}

/// One differing attribute of a path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// `type`, `content`, `mode`, `owner`, `owner-name`, `mtime`, `xattr`, `link`, `device`.
    pub field: String,
    /// Value in the first image.
    pub a: String,
    /// Value in the second image.
    pub b: String,
    /// For content: a short unified diff (text) or the first differing offset (binary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Compare two opened images.
pub fn diff_images(a: &SourceImage, b: &SourceImage, options: &DiffOptions) -> Result<Report> {
    let semantic = options.mode == Mode::Semantic;
    let mut report = Report {
        identical: true,
        mode: options.mode,
        ignored: options.mode.ignores().to_vec(),
        a: side(a),
        b: side(b),
        manifest: Vec::new(),
        config: Vec::new(),
        layers: Vec::new(),
    };
    let same_manifest = a.manifest_digest.is_some() && a.manifest_digest == b.manifest_digest;
    if !same_manifest {
        report.manifest = manifest_diffs(&a.manifest, &b.manifest, semantic);
        report.config = config_diffs(&a.config, &b.config, semantic);
    }
    let mut stop = false;
    for index in 0..a.layers.len().max(b.layers.len()) {
        let la = a.layers.get(index);
        let lb = b.layers.get(index);
        let mut layer = LayerDiff {
            index,
            status: LayerStatus::Same,
            a: la.cloned(),
            b: lb.cloned(),
            notes: Vec::new(),
            files: Vec::new(),
        };
        match (la, lb) {
            _ if stop => layer.status = LayerStatus::Skipped,
            (Some(_), None) => layer.status = LayerStatus::Removed,
            (None, Some(_)) => layer.status = LayerStatus::Added,
            (Some(x), Some(y)) => compare_layer(a, b, index, x, y, options, &mut layer)?,
            (None, None) => {}
        }
        if matches!(
            layer.status,
            LayerStatus::Different | LayerStatus::Added | LayerStatus::Removed
        ) && options.first_layer_only
        {
            stop = true;
        }
        report.layers.push(layer);
    }
    report.identical = report.manifest.is_empty()
        && report.config.is_empty()
        && report
            .layers
            .iter()
            .all(|l| matches!(l.status, LayerStatus::Same | LayerStatus::Equivalent));
    if !semantic && !same_manifest && a.manifest_digest.is_some() && b.manifest_digest.is_some() {
        // Something outside the fields compared (e.g. JSON formatting) differs.
        if report.identical {
            report.manifest.push(FieldDiff {
                field: "digest".into(),
                a: a.manifest_digest.clone().map(Value::String),
                b: b.manifest_digest.clone().map(Value::String),
            });
        }
        report.identical = false;
    }
    Ok(report)
}

fn side(image: &SourceImage) -> Side {
    Side {
        location: image.location.clone(),
        manifest_digest: image.manifest_digest.clone(),
        config_digest: image.config_digest.clone(),
    }
}

fn compare_layer(
    a: &SourceImage,
    b: &SourceImage,
    index: usize,
    la: &LayerInfo,
    lb: &LayerInfo,
    options: &DiffOptions,
    out: &mut LayerDiff,
) -> Result<()> {
    let semantic = options.mode == Mode::Semantic;
    if la.digest == lb.digest {
        return Ok(());
    }
    if la.diff_id.is_some() && la.diff_id == lb.diff_id {
        if semantic {
            out.status = LayerStatus::Equivalent;
        } else {
            out.status = LayerStatus::Different;
            out.notes.push(
                "same uncompressed tar (diff id), different compression or media type".into(),
            );
        }
        return Ok(());
    }
    let none = BTreeSet::new();
    let (ia, _) = index_layer(a.open_layer(index)?, &none, 0)?;
    let (ib, _) = index_layer(b.open_layer(index)?, &none, 0)?;
    let mut files = compare_entries(&ia, &ib, semantic);
    for (side, index) in [("a", &ia), ("b", &ib)] {
        if index.truncated {
            out.notes.push(format!(
                "the tar of {side} ends early (no padding or end-of-archive blocks)"
            ));
        }
    }
    let wanted: BTreeSet<String> = files
        .iter()
        .filter(|f| f.differences.iter().any(|d| d.field == "content"))
        .map(|f| f.path.clone())
        .collect();
    if !wanted.is_empty() {
        let (_, ka) = index_layer(a.open_layer(index)?, &wanted, options.hint_bytes)?;
        let (_, kb) = index_layer(b.open_layer(index)?, &wanted, options.hint_bytes)?;
        for file in &mut files {
            if let (Some(ca), Some(cb)) = (ka.get(&file.path), kb.get(&file.path)) {
                for d in &mut file.differences {
                    if d.field == "content" {
                        d.hint = Some(content_hint(ca, cb, options.hint_lines));
                    }
                }
            }
        }
    }
    if !semantic {
        if ia.order != ib.order && files.is_empty() {
            out.notes.push("same entries in a different order".into());
        } else if ia.order != ib.order {
            let sa: BTreeSet<&String> = ia.order.iter().collect();
            let sb: BTreeSet<&String> = ib.order.iter().collect();
            if sa == sb {
                out.notes.push("entries are in a different order".into());
            }
        }
        if la.media_type != lb.media_type {
            out.notes
                .push(format!("media type {} vs {}", la.media_type, lb.media_type));
        }
        if files.is_empty() && out.notes.is_empty() {
            out.notes
                .push("same entries, different tar encoding (headers or padding)".into());
        }
    }
    out.status = if files.is_empty() && (semantic || out.notes.is_empty()) {
        LayerStatus::Equivalent
    } else {
        LayerStatus::Different
    };
    out.files = files;
    Ok(())
}

/// Compare two layer indexes path by path.
pub fn compare_entries(a: &LayerIndex, b: &LayerIndex, semantic: bool) -> Vec<FileDiff> {
    let mut out = Vec::new();
    let paths: BTreeSet<&String> = a.entries.keys().chain(b.entries.keys()).collect();
    for path in paths {
        match (a.entries.get(path), b.entries.get(path)) {
            (Some(x), None) => out.push(FileDiff {
                path: path.clone(),
                change: Change::Removed,
                kind: x.kind,
                differences: Vec::new(),
            }),
            (None, Some(y)) => out.push(FileDiff {
                path: path.clone(),
                change: Change::Added,
                kind: y.kind,
                differences: Vec::new(),
            }),
            (Some(x), Some(y)) => {
                let differences = entry_differences(x, y, semantic);
                if !differences.is_empty() {
                    out.push(FileDiff {
                        path: path.clone(),
                        change: Change::Changed,
                        kind: y.kind,
                        differences,
                    });
                }
            }
            (None, None) => {}
        }
    }
    out
}

fn entry_differences(x: &Entry, y: &Entry, semantic: bool) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut push = |field: &str, a: String, b: String| {
        if a != b {
            out.push(Difference {
                field: field.to_owned(),
                a,
                b,
                hint: None,
            });
        }
    };
    push("type", x.kind.to_string(), y.kind.to_string());
    if x.kind == EntryKind::File && y.kind == EntryKind::File && x.sha256 != y.sha256 {
        push(
            "content",
            format!(
                "{} ({} bytes)",
                x.sha256.clone().unwrap_or_default(),
                x.size
            ),
            format!(
                "{} ({} bytes)",
                y.sha256.clone().unwrap_or_default(),
                y.size
            ),
        );
    }
    push("mode", format!("{:04o}", x.mode), format!("{:04o}", y.mode));
    push(
        "owner",
        format!("{}:{}", x.uid, x.gid),
        format!("{}:{}", y.uid, y.gid),
    );
    if !semantic {
        push(
            "owner-name",
            format!("{}:{}", x.uname, x.gname),
            format!("{}:{}", y.uname, y.gname),
        );
        push("mtime", x.mtime.to_string(), y.mtime.to_string());
    }
    let keys: BTreeSet<&String> = x.xattrs.keys().chain(y.xattrs.keys()).collect();
    for key in keys {
        let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(absent)".into());
        push(
            &format!("xattr {key}"),
            show(x.xattrs.get(key)),
            show(y.xattrs.get(key)),
        );
    }
    let show_link = |l: &Option<String>| l.clone().unwrap_or_default();
    push("link", show_link(&x.link), show_link(&y.link));
    let show_dev = |d: &Option<(u32, u32)>| d.map(|(m, n)| format!("{m},{n}")).unwrap_or_default();
    push("device", show_dev(&x.device), show_dev(&y.device));
    out
}

/// A short hint of how two contents differ: a unified diff for text, the
/// first differing offset for binary data.
pub fn content_hint(a: &[u8], b: &[u8], max_lines: usize) -> String {
    let texts = (std::str::from_utf8(a), std::str::from_utf8(b));
    if let (Ok(ta), Ok(tb)) = texts
        && !ta.contains('\0')
        && !tb.contains('\0')
    {
        let diff = similar::TextDiff::from_lines(ta, tb);
        let text = diff
            .unified_diff()
            .context_radius(1)
            .header("a", "b")
            .to_string();
        let lines: Vec<&str> = text.lines().skip(2).collect();
        let mut out = lines
            .iter()
            .take(max_lines)
            .copied()
            .collect::<Vec<_>>()
            .join("\n");
        if lines.len() > max_lines {
            out.push_str(&format!("\n… {} more lines", lines.len() - max_lines));
        }
        return out;
    }
    let offset = a
        .iter()
        .zip(b.iter())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let window = |data: &[u8]| {
        let end = (offset + 8).min(data.len());
        data.get(offset..end).map(hex::encode).unwrap_or_default()
    };
    format!(
        "binary, {} vs {} bytes; first difference at offset {:#x}: a {} b {}",
        a.len(),
        b.len(),
        offset,
        window(a),
        window(b)
    )
}

fn manifest_diffs(a: &Value, b: &Value, semantic: bool) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            // Compared through the config and layer sections instead;
            // docker archives call them `Config` and `Layers`.
            for key in ["config", "layers", "Config", "Layers"] {
                map.remove(key);
            }
            if semantic {
                // Only annotations mean something across manifest formats.
                map.retain(|k, _| k == "annotations");
                if let Some(ann) = map.get_mut("annotations").and_then(Value::as_object_mut) {
                    ann.remove("org.opencontainers.image.created");
                }
            }
        }
        v
    };
    walk("", &strip(a), &strip(b), &mut out);
    out
}

fn config_diffs(a: &Value, b: &Value, semantic: bool) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    let strip = |v: &Value| {
        let mut v = v.clone();
        if semantic && let Some(map) = v.as_object_mut() {
            map.remove("created");
            if let Some(history) = map.get_mut("history").and_then(Value::as_array_mut) {
                for h in history {
                    if let Some(h) = h.as_object_mut() {
                        h.remove("created");
                    }
                }
            }
            if let Some(rootfs) = map.get_mut("rootfs").and_then(Value::as_object_mut) {
                rootfs.remove("diff_ids");
            }
        }
        v
    };
    walk("", &strip(a), &strip(b), &mut out);
    out
}

/// Recurse into objects and into `history`-like arrays of objects; compare
/// other arrays (Env, Cmd, diff_ids) as whole values.
fn walk(prefix: &str, a: &Value, b: &Value, out: &mut Vec<FieldDiff>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for key in keys {
                let field = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                match (x.get(key), y.get(key)) {
                    (Some(va), Some(vb)) => walk(&field, va, vb, out),
                    (va, vb) => out.push(FieldDiff {
                        field,
                        a: va.cloned(),
                        b: vb.cloned(),
                    }),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.iter().chain(y.iter()).all(Value::is_object) => {
            for i in 0..x.len().max(y.len()) {
                let field = format!("{prefix}[{i}]");
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => walk(&field, va, vb, out),
                    (va, vb) => out.push(FieldDiff {
                        field,
                        a: va.cloned(),
                        b: vb.cloned(),
                    }),
                }
            }
        }
        _ => out.push(FieldDiff {
            field: prefix.to_owned(),
            a: Some(a.clone()),
            b: Some(b.clone()),
        }),
    }
}

/// Render a report for people (the CLI's default output).
pub fn render_text(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let digest = |side: &Side| {
        side.manifest_digest
            .clone()
            .unwrap_or_else(|| format!("config {}", side.config_digest))
    };
    let _ = writeln!(s, "a: {} ({})", report.a.location, digest(&report.a));
    let _ = writeln!(s, "b: {} ({})", report.b.location, digest(&report.b));
    if report.ignored.is_empty() {
        let _ = writeln!(
            s,
            "mode: exact (every byte of the manifest digest counts; --semantic ignores timestamps, entry order, owner names and compression)"
        );
    } else {
        let _ = writeln!(s, "mode: semantic, ignoring:");
        for what in &report.ignored {
            let _ = writeln!(s, "  - {what}");
        }
    }
    let show = |v: &Option<Value>| {
        v.as_ref()
            .map(|v| v.to_string())
            .unwrap_or_else(|| "(absent)".into())
    };
    for f in &report.manifest {
        let _ = writeln!(s, "manifest {}: {} -> {}", f.field, show(&f.a), show(&f.b));
    }
    for f in &report.config {
        let _ = writeln!(s, "config {}: {} -> {}", f.field, show(&f.a), show(&f.b));
    }
    let total = report.layers.len();
    for layer in &report.layers {
        let n = layer.index + 1;
        let info = |l: &Option<LayerInfo>| {
            l.as_ref()
                .map(|l| {
                    format!(
                        "{} diff_id {} size {}",
                        l.digest,
                        l.diff_id.as_deref().unwrap_or("?"),
                        l.size
                    )
                })
                .unwrap_or_else(|| "(none)".into())
        };
        match layer.status {
            LayerStatus::Same => {
                let _ = writeln!(
                    s,
                    "layer {n}/{total}: same {}",
                    layer.a.as_ref().map(|l| l.digest.as_str()).unwrap_or("")
                );
                continue;
            }
            LayerStatus::Skipped => {
                let _ = writeln!(s, "layer {n}/{total}: not compared");
                continue;
            }
            LayerStatus::Equivalent => {
                let _ = writeln!(s, "layer {n}/{total}: equivalent (semantic)");
            }
            LayerStatus::Added => {
                let _ = writeln!(s, "layer {n}/{total}: only in b: {}", info(&layer.b));
                continue;
            }
            LayerStatus::Removed => {
                let _ = writeln!(s, "layer {n}/{total}: only in a: {}", info(&layer.a));
                continue;
            }
            LayerStatus::Different => {
                let _ = writeln!(s, "layer {n}/{total}: different");
            }
        }
        let _ = writeln!(s, "  a: {}", info(&layer.a));
        let _ = writeln!(s, "  b: {}", info(&layer.b));
        for note in &layer.notes {
            let _ = writeln!(s, "  note: {note}");
        }
        for file in &layer.files {
            match file.change {
                Change::Added => {
                    let _ = writeln!(s, "  + /{} ({})", file.path, file.kind);
                }
                Change::Removed => {
                    let _ = writeln!(s, "  - /{} ({})", file.path, file.kind);
                }
                Change::Changed => {
                    for d in &file.differences {
                        let _ = writeln!(s, "  ~ /{}: {} {} -> {}", file.path, d.field, d.a, d.b);
                        if let Some(hint) = &d.hint {
                            for line in hint.lines() {
                                let _ = writeln!(s, "      {line}");
                            }
                        }
                    }
                }
            }
        }
    }
    let _ = writeln!(
        s,
        "{}",
        if report.identical {
            "identical"
        } else {
            "different"
        }
    );
    s
}
