//! Streamed parser of `primary.xml`.
//!
//! **Decision on unknown elements:** yum 3's C parser and libsolv skip
//! elements they do not know. We refuse them instead (naming the file, the
//! byte offset, the tag and the package): createrepo has written the same
//! element set since 2007 plus the weak-dependency lists, which we accept
//! and ignore, so an unknown tag means a file we do not understand, and a
//! resolver that silently ignores, say, a new kind of dependency list would
//! pick wrong package sets. Elements in a foreign namespace prefix (neither
//! none nor `rpm:`) are tolerated, since that is how extensions are added.

use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};

use super::{Checksum, Package, attr_text, decompress, entity_text, xml_error};
use crate::evr::{Dep, Evr, Flag};
use crate::{Error, Result};

#[derive(Clone, Copy, PartialEq, Eq)]
enum List {
    None,
    Provides,
    Requires,
    Conflicts,
    Obsoletes,
    Ignored,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Text {
    None,
    Name,
    Arch,
    Checksum,
    Sourcerpm,
    File,
}

fn empty_package() -> Package {
    Package {
        name: String::new(),
        arch: String::new(),
        evr: Evr::new(0, "", ""),
        checksum: Checksum {
            kind: String::new(),
            value: String::new(),
        },
        location: String::new(),
        location_base: None,
        size: 0,
        sourcerpm: String::new(),
        provides: Vec::new(),
        requires: Vec::new(),
        conflicts: Vec::new(),
        obsoletes: Vec::new(),
        files: Vec::new(),
    }
}

/// Parse a `primary.xml` (plain or gzip/bzip2/xz compressed), calling
/// `each` for every package. `file` names the file in errors.
pub fn parse_primary(
    reader: impl BufRead,
    file: &str,
    mut each: impl FnMut(Package),
) -> Result<()> {
    let mut xml = quick_xml::Reader::from_reader(decompress(reader)?);
    xml.config_mut().check_end_names = true;
    let mut buf = Vec::with_capacity(4096);
    let mut pkg: Option<Package> = None;
    let mut list = List::None;
    let mut text_kind = Text::None;
    let mut text = String::new();
    let mut depth_ok = false;
    let mut closed = false;
    loop {
        let pos = xml.buffer_position();
        let event = xml
            .read_event_into(&mut buf)
            .map_err(|e| xml_error(file, pos, e))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name: &str = e.name().0;
                match name {
                    "metadata" => depth_ok = true,
                    "package" => {
                        if pkg.is_some() {
                            return Err(unexpected(file, pos, name, pkg.as_ref()));
                        }
                        pkg = Some(empty_package());
                    }
                    _ => {
                        let Some(p) = pkg.as_mut() else {
                            return Err(unexpected(file, pos, name, None));
                        };
                        start_in_package(e, name, p, &mut list, &mut text_kind, file, pos)?;
                        if empty {
                            text_kind = Text::None;
                        } else {
                            text.clear();
                        }
                    }
                }
            }
            Event::Text(ref t) if text_kind != Text::None => text.push_str(t),
            Event::CData(ref t) if text_kind != Text::None => text.push_str(t),
            Event::GeneralRef(ref r) if text_kind != Text::None => match entity_text(r) {
                Some(c) => text.push(c),
                None => {
                    return Err(xml_error(file, pos, format!("unknown entity `&{};`", &**r)));
                }
            },
            Event::End(ref e) => {
                let name: &str = e.name().0;
                if name == "package" {
                    if let Some(p) = pkg.take() {
                        if p.name.is_empty() || p.arch.is_empty() || p.location.is_empty() {
                            return Err(Error::Metadata {
                                file: file.to_owned(),
                                message: format!(
                                    "at byte {pos}: package `{}` lacks a name, arch or location",
                                    p.name
                                ),
                            });
                        }
                        each(p);
                    }
                } else if name == "metadata" {
                    closed = true;
                } else if let Some(p) = pkg.as_mut() {
                    match name {
                        "rpm:provides" | "rpm:requires" | "rpm:conflicts" | "rpm:obsoletes"
                        | "rpm:recommends" | "rpm:suggests" | "rpm:supplements"
                        | "rpm:enhances" => list = List::None,
                        _ => {}
                    }
                    let value = std::mem::take(&mut text);
                    match text_kind {
                        Text::None => {}
                        Text::Name => p.name = value,
                        Text::Arch => p.arch = value,
                        Text::Checksum => p.checksum.value = value,
                        Text::Sourcerpm => p.sourcerpm = value,
                        Text::File => p.files.push(value),
                    }
                    text_kind = Text::None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !depth_ok || !closed || pkg.is_some() {
        return Err(Error::Metadata {
            file: file.to_owned(),
            message: "truncated: no complete <metadata> element".to_owned(),
        });
    }
    Ok(())
}

fn unexpected(file: &str, pos: u64, tag: &str, pkg: Option<&Package>) -> Error {
    let inside = match pkg {
        Some(p) if !p.name.is_empty() => format!(" in package `{}`", p.name),
        _ => String::new(),
    };
    Error::Metadata {
        file: file.to_owned(),
        message: format!("at byte {pos}: unknown element <{tag}>{inside}"),
    }
}

fn start_in_package(
    e: &BytesStart<'_>,
    name: &str,
    p: &mut Package,
    list: &mut List,
    text_kind: &mut Text,
    file: &str,
    pos: u64,
) -> Result<()> {
    *text_kind = Text::None;
    match name {
        "name" => *text_kind = Text::Name,
        "arch" => *text_kind = Text::Arch,
        "version" => p.evr = evr_attrs(e),
        "checksum" => {
            *text_kind = Text::Checksum;
            for a in e.attributes().flatten() {
                if a.key.0 == "type" {
                    p.checksum.kind = attr_text(&a);
                }
            }
        }
        "location" => {
            for a in e.attributes().flatten() {
                match a.key.0 {
                    "href" => p.location = attr_text(&a),
                    "xml:base" => p.location_base = Some(attr_text(&a)),
                    _ => {}
                }
            }
        }
        "size" => {
            for a in e.attributes().flatten() {
                if a.key.0 == "package" {
                    p.size = a.value.parse().unwrap_or(0);
                }
            }
        }
        "rpm:sourcerpm" => *text_kind = Text::Sourcerpm,
        "file" => *text_kind = Text::File,
        "rpm:provides" => *list = List::Provides,
        "rpm:requires" => *list = List::Requires,
        "rpm:conflicts" => *list = List::Conflicts,
        "rpm:obsoletes" => *list = List::Obsoletes,
        "rpm:recommends" | "rpm:suggests" | "rpm:supplements" | "rpm:enhances" => {
            *list = List::Ignored
        }
        "rpm:entry" => {
            let dep = dep_attrs(e);
            match *list {
                List::Provides => p.provides.push(dep),
                List::Requires => {
                    if !dep.name.starts_with("rpmlib(") {
                        p.requires.push(dep)
                    }
                }
                List::Conflicts => p.conflicts.push(dep),
                List::Obsoletes => p.obsoletes.push(dep),
                List::Ignored => {}
                List::None => return Err(unexpected(file, pos, name, Some(p))),
            }
        }
        "summary" | "description" | "packager" | "url" | "time" | "format" | "rpm:license"
        | "rpm:vendor" | "rpm:group" | "rpm:buildhost" | "rpm:header-range" => {}
        other => {
            // Foreign namespaces are extensions; tolerate them.
            let foreign = other
                .split_once(':')
                .is_some_and(|(prefix, _)| prefix != "rpm");
            if !foreign {
                return Err(unexpected(file, pos, other, Some(p)));
            }
        }
    }
    Ok(())
}

fn evr_attrs(e: &BytesStart<'_>) -> Evr {
    let mut evr = Evr::new(0, "", "");
    for a in e.attributes().flatten() {
        match a.key.0 {
            "epoch" => evr.epoch = a.value.parse().unwrap_or(0),
            "ver" => evr.version = attr_text(&a),
            "rel" => evr.release = attr_text(&a),
            _ => {}
        }
    }
    evr
}

fn dep_attrs(e: &BytesStart<'_>) -> Dep {
    let mut dep = Dep::name("");
    let mut evr = Evr::new(0, "", "");
    for a in e.attributes().flatten() {
        match a.key.0 {
            "name" => dep.name = attr_text(&a),
            "flags" => dep.flag = Flag::parse(&a.value),
            "epoch" => evr.epoch = a.value.parse().unwrap_or(0),
            "ver" => evr.version = attr_text(&a),
            "rel" => evr.release = attr_text(&a),
            _ => {}
        }
    }
    if dep.flag.is_some() {
        dep.evr = Some(evr);
    }
    dep
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="1">
<package type="rpm">
  <name>foo</name>
  <arch>x86_64</arch>
  <version epoch="1" ver="2.0" rel="3.el6"/>
  <checksum type="sha256" pkgid="YES">abcd</checksum>
  <summary>Foo &amp; bar</summary>
  <description>long</description>
  <packager></packager>
  <url></url>
  <time file="1" build="2"/>
  <size package="1234" installed="1" archive="2"/>
  <location href="Packages/foo-2.0-3.el6.x86_64.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:vendor/>
    <rpm:group>x</rpm:group>
    <rpm:buildhost>h</rpm:buildhost>
    <rpm:sourcerpm>foo-2.0-3.el6.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="1" end="2"/>
    <rpm:provides>
      <rpm:entry name="foo" flags="EQ" epoch="1" ver="2.0" rel="3.el6"/>
      <rpm:entry name="libfoo.so.1()(64bit)"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="rpmlib(CompressedFileNames)" flags="LE" epoch="0" ver="3.0.4" rel="1"/>
      <rpm:entry name="bar" flags="GE" epoch="0" ver="1.0" pre="1"/>
      <rpm:entry name="/bin/sh"/>
    </rpm:requires>
    <rpm:obsoletes><rpm:entry name="oldfoo" flags="LT" epoch="0" ver="2"/></rpm:obsoletes>
    <rpm:suggests><rpm:entry name="baz"/></rpm:suggests>
    <file>/usr/bin/foo&amp;x</file>
    <file type="dir">/etc/foo</file>
  </format>
</package>
</metadata>
"#;

    fn parse(text: &str) -> Result<Vec<Package>> {
        let mut out = Vec::new();
        parse_primary(text.as_bytes(), "primary.xml", |p| out.push(p))?;
        Ok(out)
    }

    #[test]
    fn parses_a_package() {
        let pkgs = parse(ONE).unwrap();
        assert_eq!(pkgs.len(), 1);
        let p = &pkgs[0];
        assert_eq!(p.nevra(), "foo-1:2.0-3.el6.x86_64");
        assert_eq!(p.size, 1234);
        assert_eq!(p.checksum.value, "abcd");
        assert_eq!(p.requires.len(), 2);
        assert_eq!(p.requires[0].to_string(), "bar >= 1.0");
        assert_eq!(p.provides[1].to_string(), "libfoo.so.1()(64bit)");
        assert_eq!(p.obsoletes[0].to_string(), "oldfoo < 2");
        assert_eq!(p.files, ["/usr/bin/foo&x", "/etc/foo"]);
        assert_eq!(p.sourcerpm, "foo-2.0-3.el6.src.rpm");
    }

    #[test]
    fn unknown_tag_is_an_error_naming_file_tag_and_package() {
        let bad = ONE.replace("<rpm:vendor/>", "<rpm:weirdness/>");
        let err = parse(&bad).unwrap_err().to_string();
        assert!(err.starts_with("primary.xml: at byte "), "{err}");
        assert!(
            err.ends_with("unknown element <rpm:weirdness> in package `foo`"),
            "{err}"
        );
        // Foreign namespaces are extensions.
        let ext = ONE.replace("<rpm:vendor/>", "<suse:keyword/>");
        assert_eq!(parse(&ext).unwrap().len(), 1);
    }

    #[test]
    fn no_prefix_or_byte_flip_panics() {
        for cut in 0..ONE.len() {
            if ONE.is_char_boundary(cut) {
                let _ = parse(&ONE[..cut]);
            }
        }
        let bytes = ONE.as_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] = b'<';
            let mut out = Vec::new();
            let _ = parse_primary(b.as_slice(), "primary.xml", |p| out.push(p));
        }
    }

    #[test]
    fn truncated_is_an_error() {
        let cut = &ONE[..ONE.len() / 2];
        let err = parse(cut).unwrap_err().to_string();
        assert!(err.starts_with("primary.xml: "), "{err}");
    }
}
