//! User and group names → numeric ids, from a rootfs's own `/etc/passwd`
//! and `/etc/group` (never the host's).

use std::collections::BTreeMap;
use std::path::Path;

/// The name → id tables of one rootfs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    users: BTreeMap<String, u32>,
    groups: BTreeMap<String, u32>,
}

fn parse(text: &str) -> BTreeMap<String, u32> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut fields = l.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?.parse().ok()?;
            Some((name.to_owned(), id))
        })
        .collect()
}

impl Ids {
    /// Read `root/etc/passwd` and `root/etc/group` (missing files: only root is known).
    pub fn of_rootfs(root: &Path) -> Self {
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_default();
        Ids::from_texts(&read("etc/passwd"), &read("etc/group"))
    }

    /// Parse the texts of a `passwd` and a `group` file.
    pub fn from_texts(passwd: &str, group: &str) -> Self {
        let mut ids = Ids {
            users: parse(passwd),
            groups: parse(group),
        };
        ids.users.entry("root".into()).or_insert(0);
        ids.groups.entry("root".into()).or_insert(0);
        ids
    }

    /// The uid of `name`; `None` when the rootfs does not know it (rpm then uses root).
    pub fn uid(&self, name: &str) -> Option<u32> {
        self.users.get(name).copied()
    }

    /// The gid of `name`; `None` when the rootfs does not know it.
    pub fn gid(&self, name: &str) -> Option<u32> {
        self.groups.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::Ids;

    #[test]
    fn names_map_through_the_rootfs_files() {
        let ids = Ids::from_texts(
            "root:x:0:0:root:/root:/bin/sh\nslipuser:x:998:997::/var/lib/slip:/sbin/nologin\n",
            "root:x:0:\nslipgroup:x:997:\n# comment\n",
        );
        assert_eq!(ids.uid("slipuser"), Some(998));
        assert_eq!(ids.gid("slipgroup"), Some(997));
        assert_eq!(ids.uid("nobody"), None);
        assert_eq!(Ids::from_texts("", "").uid("root"), Some(0));
    }
}
