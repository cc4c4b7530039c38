//! Streamed parser of `filelists.xml`: only the paths a caller asks for
//! are kept (the full file list of a distribution is large).

use std::io::BufRead;

use quick_xml::events::Event;

use super::{attr_text, decompress, entity_text, xml_error};
use crate::{Error, Result};

/// Parse a `filelists.xml` (plain or compressed) and call `each(pkgid, path)`
/// for every file whose path satisfies `wanted`.
pub fn parse_filelists(
    reader: impl BufRead,
    file: &str,
    wanted: &dyn Fn(&str) -> bool,
    mut each: impl FnMut(&str, &str),
) -> Result<()> {
    let mut xml = quick_xml::Reader::from_reader(decompress(reader)?);
    let mut buf = Vec::with_capacity(4096);
    let mut pkgid = String::new();
    let mut in_file = false;
    let mut text = String::new();
    let mut closed = false;
    loop {
        let pos = xml.buffer_position();
        let event = xml
            .read_event_into(&mut buf)
            .map_err(|e| xml_error(file, pos, e))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => match e.name().0 {
                "package" => {
                    pkgid.clear();
                    for a in e.attributes().flatten() {
                        if a.key.0 == "pkgid" {
                            pkgid = attr_text(&a);
                        }
                    }
                }
                "file" => {
                    in_file = matches!(event, Event::Start(_));
                    text.clear();
                }
                "filelists" | "version" => {}
                other => {
                    return Err(Error::Metadata {
                        file: file.to_owned(),
                        message: format!("at byte {pos}: unknown element <{other}>"),
                    });
                }
            },
            Event::Text(ref t) if in_file => text.push_str(t),
            Event::GeneralRef(ref r) if in_file => {
                if let Some(c) = entity_text(r) {
                    text.push(c);
                }
            }
            Event::End(ref e) => match e.name().0 {
                "file" => {
                    in_file = false;
                    if wanted(&text) {
                        each(&pkgid, &text);
                    }
                }
                "filelists" => closed = true,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !closed {
        return Err(Error::Metadata {
            file: file.to_owned(),
            message: "truncated: no complete <filelists> element".to_owned(),
        });
    }
    Ok(())
}
