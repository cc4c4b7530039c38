//! Resolving a package path inside a rootfs the way the rootfs itself would:
//! symlinks in directory components are followed (`/lib` → `usr/lib` on a
//! merged-/usr system) but can never lead outside the rootfs.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

const MAX_SYMLINKS: usize = 40;

/// The host path of `path`'s parent directory inside `root` (directory
/// symlinks followed, confined to `root`) joined with its last component,
/// which is not followed.
pub fn resolve_in_root(root: &Path, path: &Path) -> Result<PathBuf> {
    let escape = || Error::PathEscape {
        path: path.to_owned(),
        root: root.to_owned(),
    };
    let mut parts: Vec<OsString> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_owned()),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return Err(escape()),
        }
    }
    let Some(last) = parts.pop() else {
        return Ok(root.to_owned());
    };
    // Pending components, in reverse so `pop` yields the next one.
    let mut pending: Vec<OsString> = parts.into_iter().rev().collect();
    let mut resolved: Vec<OsString> = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        if part == "." || part.is_empty() {
            continue;
        }
        let host = resolved
            .iter()
            .fold(root.to_path_buf(), |p, c| p.join(c))
            .join(&part);
        match std::fs::read_link(&host) {
            Ok(target) => {
                hops += 1;
                if hops > MAX_SYMLINKS {
                    return Err(escape());
                }
                if target.is_absolute() {
                    resolved.clear();
                }
                let mut more: Vec<OsString> = target
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(n.to_owned()),
                        Component::ParentDir => Some(OsString::from("..")),
                        _ => None,
                    })
                    .collect();
                more.reverse();
                pending.extend(more);
            }
            Err(_) => resolved.push(part),
        }
    }
    Ok(resolved
        .iter()
        .fold(root.to_path_buf(), |p, c| p.join(c))
        .join(last))
}

#[cfg(test)]
mod tests {
    use super::resolve_in_root;

    #[test]
    fn directory_symlinks_are_followed_inside_the_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("usr/lib/abs")).unwrap();
        std::os::unix::fs::symlink("../../../../..", root.join("usr/lib/up")).unwrap();
        assert_eq!(
            resolve_in_root(root, "/lib/x.so".as_ref()).unwrap(),
            root.join("usr/lib/x.so")
        );
        assert_eq!(
            resolve_in_root(root, "/lib/abs/f".as_ref()).unwrap(),
            root.join("etc/f")
        );
        assert_eq!(
            resolve_in_root(root, "/lib/up/etc/passwd".as_ref()).unwrap(),
            root.join("etc/passwd")
        );
        // The last component is not followed.
        assert_eq!(
            resolve_in_root(root, "/lib".as_ref()).unwrap(),
            root.join("lib")
        );
        assert!(resolve_in_root(root, "/../etc".as_ref()).is_err());
    }
}
