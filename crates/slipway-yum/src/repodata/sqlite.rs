//! The `primary_db` and `filelists_db` sqlite files (yum's own cache format,
//! shipped by createrepo without `--no-database`).

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{Checksum, Package};
use crate::evr::{Dep, Evr, Flag};
use crate::{Error, Result};

fn open(path: &Path, label: &str) -> Result<Connection> {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|source| {
        Error::Sqlite {
            file: label.to_owned(),
            source,
        }
    })
}

/// Read every package of an (uncompressed) `primary.sqlite`.
pub fn read_primary_db(path: &Path, label: &str) -> Result<Vec<Package>> {
    let db = open(path, label)?;
    let sql = |source| Error::Sqlite {
        file: label.to_owned(),
        source,
    };
    let mut by_key: HashMap<i64, Package> = HashMap::new();
    let mut order = Vec::new();
    {
        let mut stmt = db
            .prepare(
                "SELECT pkgKey, pkgId, name, arch, epoch, version, release, checksum_type, \
                 location_href, location_base, size_package, rpm_sourcerpm FROM packages",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |r| {
                let epoch: Option<String> = r.get(4)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    Package {
                        checksum: Checksum {
                            kind: r.get(7)?,
                            value: r.get(1)?,
                        },
                        name: r.get(2)?,
                        arch: r.get(3)?,
                        evr: Evr::new(
                            epoch.and_then(|e| e.parse().ok()).unwrap_or(0),
                            r.get::<_, String>(5)?,
                            r.get::<_, String>(6)?,
                        ),
                        location: r.get(8)?,
                        location_base: r.get::<_, Option<String>>(9)?.filter(|s| !s.is_empty()),
                        size: r.get::<_, Option<i64>>(10)?.unwrap_or(0).max(0) as u64,
                        sourcerpm: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
                        provides: Vec::new(),
                        requires: Vec::new(),
                        conflicts: Vec::new(),
                        obsoletes: Vec::new(),
                        files: Vec::new(),
                    },
                ))
            })
            .map_err(sql)?;
        for row in rows {
            let (key, pkg) = row.map_err(sql)?;
            order.push(key);
            by_key.insert(key, pkg);
        }
    }
    for table in ["provides", "requires", "conflicts", "obsoletes"] {
        let mut stmt = db
            .prepare(&format!(
                "SELECT pkgKey, name, flags, epoch, version, release FROM {table} ORDER BY rowid"
            ))
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |r| {
                let flag: Option<String> = r.get(2)?;
                let flag = flag.as_deref().and_then(Flag::parse);
                let epoch: Option<String> = r.get(3)?;
                let evr = flag.map(|_| -> rusqlite::Result<Evr> {
                    Ok(Evr::new(
                        epoch.as_deref().and_then(|e| e.parse().ok()).unwrap_or(0),
                        r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                        r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    ))
                });
                let evr = evr.transpose()?;
                Ok((
                    r.get::<_, i64>(0)?,
                    Dep {
                        name: r.get(1)?,
                        flag,
                        evr,
                    },
                ))
            })
            .map_err(sql)?;
        for row in rows {
            let (key, dep) = row.map_err(sql)?;
            let Some(p) = by_key.get_mut(&key) else {
                continue;
            };
            match table {
                "provides" => p.provides.push(dep),
                "requires" if !dep.name.starts_with("rpmlib(") => p.requires.push(dep),
                "conflicts" => p.conflicts.push(dep),
                "obsoletes" => p.obsoletes.push(dep),
                _ => {}
            }
        }
    }
    {
        let mut stmt = db
            .prepare("SELECT pkgKey, name FROM files ORDER BY rowid")
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(sql)?;
        for row in rows {
            let (key, name) = row.map_err(sql)?;
            if let Some(p) = by_key.get_mut(&key) {
                p.files.push(name);
            }
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|k| by_key.remove(&k))
        .collect())
}

/// Call `each(pkgid, path)` for every wanted path of an (uncompressed)
/// `filelists.sqlite`. Its `filelist` rows hold a directory and the
/// `/`-joined names of the files in it.
pub fn read_filelists_db(
    path: &Path,
    label: &str,
    wanted: &dyn Fn(&str) -> bool,
    mut each: impl FnMut(&str, &str),
) -> Result<()> {
    let db = open(path, label)?;
    let sql = |source| Error::Sqlite {
        file: label.to_owned(),
        source,
    };
    let mut stmt = db
        .prepare(
            "SELECT p.pkgId, f.dirname, f.filenames FROM filelist f \
             JOIN packages p ON p.pkgKey = f.pkgKey",
        )
        .map_err(sql)?;
    let mut rows = stmt.query([]).map_err(sql)?;
    while let Some(row) = rows.next().map_err(sql)? {
        let pkgid: String = row.get(0).map_err(sql)?;
        let dir: String = row.get(1).map_err(sql)?;
        let names: String = row.get(2).map_err(sql)?;
        for name in names.split('/') {
            let full = if dir.ends_with('/') {
                format!("{dir}{name}")
            } else {
                format!("{dir}/{name}")
            };
            if wanted(&full) {
                each(&pkgid, &full);
            }
        }
    }
    Ok(())
}
