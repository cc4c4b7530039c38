//! `repodata/repomd.xml`: the index of a repository's metadata files.

use std::collections::BTreeMap;
use std::io::BufRead;

use quick_xml::events::Event;

use super::{Checksum, attr_text, xml_error};
use crate::{Error, Result};

/// One `<data type="...">` entry of `repomd.xml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoMdEntry {
    /// `primary`, `filelists`, `primary_db`, ...
    pub kind: String,
    /// Checksum of the file as stored (compressed).
    pub checksum: Checksum,
    /// Checksum of the uncompressed content, if given.
    pub open_checksum: Option<Checksum>,
    /// Path relative to the repository's base URL.
    pub location: String,
    /// Size of the stored file, if given.
    pub size: Option<u64>,
    /// Uncompressed size, if given.
    pub open_size: Option<u64>,
    /// Timestamp written by createrepo.
    pub timestamp: Option<u64>,
}

/// A parsed `repomd.xml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoMd {
    /// `<revision>` (createrepo writes a timestamp).
    pub revision: String,
    /// The entries by `type`.
    pub data: BTreeMap<String, RepoMdEntry>,
}

/// Parse `repomd.xml`; `file` names it in errors.
pub fn parse_repomd(reader: impl BufRead, file: &str) -> Result<RepoMd> {
    let mut xml = quick_xml::Reader::from_reader(reader);
    let mut buf = Vec::new();
    let mut revision = String::new();
    let mut data = BTreeMap::new();
    let mut current: Option<RepoMdEntry> = None;
    let mut text = String::new();
    let mut checksum_type = String::new();
    let mut saw_root = false;
    let mut closed_root = false;
    loop {
        let pos = xml.buffer_position();
        let event = xml
            .read_event_into(&mut buf)
            .map_err(|e| xml_error(file, pos, e))?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                text.clear();
                match e.local_name().as_ref() {
                    "repomd" => saw_root = true,
                    "data" => {
                        let kind = e
                            .attributes()
                            .flatten()
                            .find(|a| a.key.as_ref() == "type")
                            .map(|a| attr_text(&a))
                            .unwrap_or_default();
                        current = Some(RepoMdEntry {
                            kind,
                            checksum: Checksum {
                                kind: String::new(),
                                value: String::new(),
                            },
                            open_checksum: None,
                            location: String::new(),
                            size: None,
                            open_size: None,
                            timestamp: None,
                        });
                    }
                    "checksum" | "open-checksum" => {
                        checksum_type = e
                            .attributes()
                            .flatten()
                            .find(|a| a.key.as_ref() == "type")
                            .map(|a| attr_text(&a))
                            .unwrap_or_default();
                    }
                    "location" => {
                        if let Some(entry) = current.as_mut() {
                            entry.location = e
                                .attributes()
                                .flatten()
                                .find(|a| a.key.as_ref() == "href")
                                .map(|a| attr_text(&a))
                                .unwrap_or_default();
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) => text.push_str(&t),
            Event::End(e) => {
                let value = text.trim().to_owned();
                text.clear();
                match (e.local_name().as_ref(), current.as_mut()) {
                    ("revision", _) => revision = value,
                    ("checksum", Some(entry)) => {
                        entry.checksum = Checksum {
                            kind: checksum_type.clone(),
                            value,
                        }
                    }
                    ("open-checksum", Some(entry)) => {
                        entry.open_checksum = Some(Checksum {
                            kind: checksum_type.clone(),
                            value,
                        })
                    }
                    ("size", Some(entry)) => entry.size = value.parse().ok(),
                    ("open-size", Some(entry)) => entry.open_size = value.parse().ok(),
                    ("timestamp", Some(entry)) => entry.timestamp = value.parse().ok(),
                    ("data", _) => {
                        if let Some(entry) = current.take() {
                            if entry.location.is_empty() || entry.checksum.value.is_empty() {
                                return Err(Error::Metadata {
                                    file: file.to_owned(),
                                    message: format!(
                                        "entry `{}` lacks a location or checksum",
                                        entry.kind
                                    ),
                                });
                            }
                            data.insert(entry.kind.clone(), entry);
                        }
                    }
                    ("repomd", _) => closed_root = true,
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_root || !closed_root {
        return Err(Error::Metadata {
            file: file.to_owned(),
            message: "truncated or not a repomd.xml: no complete <repomd> element".to_owned(),
        });
    }
    if !data.contains_key("primary") && !data.contains_key("primary_db") {
        return Err(Error::Metadata {
            file: file.to_owned(),
            message: "no `primary` or `primary_db` entry".to_owned(),
        });
    }
    Ok(RepoMd { revision, data })
}
