//! The mount plan of a sandbox: what the child process mounts, in order,
//! before it becomes the step's command.
//!
//! [`RootSetup`] is computed in the parent (no I/O in the child beyond the
//! system calls); [`setup_root`] replays it against a [`Syscall`].

use std::io;
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use crate::syscall::{Syscall, Target};

/// `PER_LINUX32`: `uname -m` reports `i686` on x86-64.
pub const PER_LINUX32: libc::c_ulong = 0x0008;

/// The device nodes bind-mounted from the host into the sandbox's `/dev`.
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// How the root filesystem is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootMount {
    /// overlayfs: read-only lower directories (top first), this step's upper and work dirs.
    Overlay {
        /// Lower directories, top-most first.
        lowers: Vec<PathBuf>,
        /// Where the step's changes land.
        upper: PathBuf,
        /// overlayfs's work directory (same filesystem as `upper`).
        work: PathBuf,
        /// Mounted inside a user namespace (not root): overlayfs must keep
        /// its whiteout and opaque marks in `user.overlay.*` xattrs (`userxattr`).
        userxattr: bool,
    },
    /// A plain directory bind-mounted onto itself (snapshot mode: it is a private copy).
    Directory(PathBuf),
}

/// A read-only bind mount of a host path at a path inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// The host path (file or directory).
    pub source: PathBuf,
    /// Absolute path inside the sandbox.
    pub target: PathBuf,
    /// True when `source` is a directory.
    pub is_dir: bool,
}

/// Everything the child needs to build its root, computed by the parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootSetup {
    /// How `/` is made.
    pub root: RootMount,
    /// The directory where the new root is assembled (overlay mount point).
    pub merged: PathBuf,
    /// Read-only inputs (sources, scripts, packages).
    pub inputs: Vec<BindMount>,
    /// Host network: bind `/etc/resolv.conf` and `/etc/hosts`; otherwise only loopback.
    pub network: bool,
    /// The fixed hostname.
    pub hostname: String,
    /// Run under `PER_LINUX32` (i686 steps).
    pub linux32: bool,
    /// The working directory inside the sandbox.
    pub workdir: PathBuf,
    /// Turn the step's `fsync`-family calls into no-ops (see [`crate::Step::discard_syncs`]).
    pub discard_syncs: bool,
}

/// `root` joined with an absolute in-sandbox `path`.
pub(crate) fn inside(root: &Path, path: &Path) -> PathBuf {
    root.join(path.strip_prefix("/").unwrap_or(path))
}

/// Build the root described by `setup` and enter it. Runs in the child, in
/// fresh mount/pid/uts/ipc/net namespaces.
pub fn setup_root(sys: &dyn Syscall, setup: &RootSetup) -> io::Result<()> {
    let m = &setup.merged;
    // Nothing we mount may propagate back to the host's namespace.
    sys.mount(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;
    mount_root(sys, &setup.root, m)?;

    // Every mount point is resolved inside the new root (see
    // `Syscall::prepare_target`): a symlink in a hostile rootfs such as
    // `/tmp -> /host/path` cannot send a mount outside it.
    let proc_dir = sys.prepare_target(m, Path::new("/proc"), Target::Dir(0o555))?;
    sys.mount(
        Some(Path::new("proc")),
        &proc_dir,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )?;

    let dev = sys.prepare_target(m, Path::new("/dev"), Target::Dir(0o755))?;
    mount_dev(sys, &dev)?;

    let tmp = sys.prepare_target(m, Path::new("/tmp"), Target::Dir(0o1777))?;
    sys.mount(
        Some(Path::new("tmpfs")),
        &tmp,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777"),
    )?;

    for input in &setup.inputs {
        let kind = if input.is_dir {
            Target::Dir(0o755)
        } else {
            Target::File
        };
        let target = sys.prepare_target(m, &input.target, kind)?;
        bind_readonly(sys, &input.source, &target)?;
    }
    if setup.network {
        for file in ["/etc/resolv.conf", "/etc/hosts"] {
            let target = sys.prepare_target(m, Path::new(file), Target::File)?;
            bind_readonly(sys, Path::new(file), &target)?;
        }
    }

    sys.sethostname(&setup.hostname)?;
    if !setup.network {
        sys.loopback_up()?;
    }
    if sys.pivot_root(m).is_err() {
        // pivot_root is refused when the current root is the initramfs; chroot
        // is enough there because the namespace dies with the step.
        sys.chroot(m)?;
    }
    if setup.linux32 {
        sys.personality(PER_LINUX32)?;
    }
    if setup.discard_syncs {
        // Only a speed-up: a kernel without seccomp filters still runs the
        // step correctly, flushing as it asks.
        let _ = sys.discard_syncs();
    }
    sys.chdir(&setup.workdir)
}

/// Mount the root (overlay or bind) at `m`.
pub fn mount_root(sys: &dyn Syscall, root: &RootMount, m: &Path) -> io::Result<()> {
    match root {
        RootMount::Overlay {
            lowers,
            upper,
            work,
            userxattr,
        } => {
            let lowerdir = lowers
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":");
            // redirect_dir/metacopy off: every change is a full copy-up, so the
            // upper dir alone describes the step's changes (see capture).
            // In a user namespace overlayfs takes `redirect_dir=nofollow`
            // (it refuses `off` there); both never create redirects.
            let (redirect, xattrs) = if *userxattr {
                ("nofollow", ",userxattr")
            } else {
                ("off", "")
            };
            let data = format!(
                "lowerdir={lowerdir},upperdir={},workdir={},redirect_dir={redirect},metacopy=off,index=off{xattrs}",
                upper.display(),
                work.display()
            );
            sys.mount(
                Some(Path::new("overlay")),
                m,
                Some("overlay"),
                MsFlags::empty(),
                Some(&data),
            )
        }
        RootMount::Directory(dir) => {
            sys.mount(Some(dir), m, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
        }
    }
}

/// `/dev` at `dev` (an existing directory, resolved inside the root): a
/// fresh tmpfs, so what is made inside it needs no further checks.
fn mount_dev(sys: &dyn Syscall, dev: &Path) -> io::Result<()> {
    sys.mount(
        Some(Path::new("tmpfs")),
        dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )?;
    for name in DEVICES {
        let target = dev.join(name);
        sys.touch(&target)?;
        let source = Path::new("/dev").join(name);
        sys.mount(Some(&source), &target, None, MsFlags::MS_BIND, None)?;
    }
    let pts = dev.join("pts");
    sys.mkdir_all(&pts, 0o755)?;
    sys.mount(
        Some(Path::new("devpts")),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    sys.symlink(Path::new("pts/ptmx"), &dev.join("ptmx"))?;
    let shm = dev.join("shm");
    sys.mkdir_all(&shm, 0o1777)?;
    sys.mount(
        Some(Path::new("shm")),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777,size=65536k"),
    )?;
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        sys.symlink(Path::new(target), &dev.join(name))?;
    }
    Ok(())
}

/// Bind `source` read-only onto `target` (prepared by `prepare_target`).
fn bind_readonly(sys: &dyn Syscall, source: &Path, target: &Path) -> io::Result<()> {
    sys.mount(
        Some(source),
        target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    sys.mount(
        None,
        target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::{Call, RecordingSyscall};

    fn setup(network: bool, linux32: bool) -> RootSetup {
        RootSetup {
            root: RootMount::Overlay {
                lowers: vec!["/s/l1".into(), "/s/l0".into()],
                upper: "/s/up".into(),
                work: "/s/work".into(),
                userxattr: false,
            },
            merged: "/s/m".into(),
            inputs: vec![BindMount {
                source: "/store/src".into(),
                target: "/inputs/src".into(),
                is_dir: true,
            }],
            network,
            hostname: "slipway".into(),
            linux32,
            workdir: "/work".into(),
            discard_syncs: true,
        }
    }

    fn mounts(calls: &[Call]) -> Vec<(String, Option<String>)> {
        calls
            .iter()
            .filter_map(|c| match c {
                Call::Mount { target, fstype, .. } => {
                    Some((target.display().to_string(), fstype.clone()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn mount_plan_starts_private_then_overlay_and_ends_in_the_new_root() {
        let sys = RecordingSyscall::default();
        setup_root(&sys, &setup(false, false)).unwrap();
        let calls = sys.calls.borrow();
        assert_eq!(
            calls[0],
            Call::Mount {
                source: None,
                target: "/".into(),
                fstype: None,
                flags: MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                data: None
            }
        );
        match &calls[1] {
            Call::Mount {
                fstype,
                data,
                target,
                ..
            } => {
                assert_eq!(fstype.as_deref(), Some("overlay"));
                assert_eq!(target, Path::new("/s/m"));
                let data = data.as_deref().unwrap();
                assert!(
                    data.starts_with("lowerdir=/s/l1:/s/l0,upperdir=/s/up,workdir=/s/work"),
                    "{data}"
                );
            }
            other => panic!("expected the overlay mount, got {other:?}"),
        }
        let m = mounts(&calls);
        let targets: Vec<&str> = m.iter().map(|(t, _)| t.as_str()).collect();
        for expected in [
            "/s/m/proc",
            "/s/m/dev",
            "/s/m/dev/null",
            "/s/m/dev/urandom",
            "/s/m/dev/tty",
            "/s/m/dev/pts",
            "/s/m/dev/shm",
            "/s/m/tmp",
            "/s/m/inputs/src",
        ] {
            assert!(
                targets.contains(&expected),
                "{expected} not mounted: {targets:?}"
            );
        }
        // No network: no host resolv.conf/hosts, loopback brought up.
        assert!(!targets.iter().any(|t| t.ends_with("resolv.conf")));
        assert!(calls.contains(&Call::LoopbackUp));
        // The input is remounted read-only after the bind.
        assert!(calls.iter().any(|c| matches!(c, Call::Mount { target, flags, .. }
            if target == Path::new("/s/m/inputs/src") && flags.contains(MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT))));
        let tail: Vec<&Call> = calls.iter().rev().take(3).collect();
        assert_eq!(*tail[0], Call::Chdir("/work".into()));
        assert_eq!(*tail[1], Call::DiscardSyncs);
        assert_eq!(*tail[2], Call::PivotRoot("/s/m".into()));
        assert!(!calls.iter().any(|c| matches!(c, Call::Personality(_))));
    }

    #[test]
    fn network_steps_get_resolv_conf_and_hosts_and_i686_gets_linux32() {
        let sys = RecordingSyscall::default();
        setup_root(&sys, &setup(true, true)).unwrap();
        let calls = sys.calls.borrow();
        let targets: Vec<String> = mounts(&calls).into_iter().map(|(t, _)| t).collect();
        assert!(targets.contains(&"/s/m/etc/resolv.conf".to_string()));
        assert!(targets.contains(&"/s/m/etc/hosts".to_string()));
        assert!(!calls.contains(&Call::LoopbackUp));
        let pivot = calls
            .iter()
            .position(|c| matches!(c, Call::PivotRoot(_)))
            .unwrap();
        let persona = calls
            .iter()
            .position(|c| *c == Call::Personality(PER_LINUX32))
            .unwrap();
        assert!(persona > pivot);
    }

    #[test]
    fn chroot_is_the_fallback_when_pivot_root_is_refused() {
        let sys = RecordingSyscall {
            refuse_pivot_root: true,
            ..Default::default()
        };
        setup_root(&sys, &setup(false, false)).unwrap();
        assert!(sys.calls.borrow().contains(&Call::Chroot("/s/m".into())));
    }

    #[test]
    fn in_a_user_namespace_the_overlay_uses_user_xattrs_and_no_redirects() {
        let overlay_data = |userxattr: bool| {
            let sys = RecordingSyscall::default();
            let root = RootMount::Overlay {
                lowers: vec!["/s/l0".into()],
                upper: "/s/up".into(),
                work: "/s/work".into(),
                userxattr,
            };
            mount_root(&sys, &root, Path::new("/s/m")).unwrap();
            match &sys.calls.borrow()[0] {
                Call::Mount { data, .. } => data.clone().unwrap(),
                other => panic!("expected the overlay mount, got {other:?}"),
            }
        };
        let root = overlay_data(false);
        assert!(root.contains(",redirect_dir=off,") && !root.contains("userxattr"));
        let user = overlay_data(true);
        assert!(
            user.contains(",redirect_dir=nofollow,") && user.ends_with(",userxattr"),
            "{user}"
        );
        for option in ["metacopy=off", "index=off"] {
            assert!(root.contains(option) && user.contains(option));
        }
    }
}
