//! The few system calls that build a sandbox's mount tree, behind a trait.
//!
//! [`LinuxSyscall`] performs them; `RecordingSyscall` (tests only) records
//! them so unit tests can assert the mount plan without root (youki's
//! `syscall/` pattern).

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::path::PathBuf;

use nix::mount::{MntFlags, MsFlags};

/// The system calls used to set up a sandbox's root filesystem.
pub trait Syscall {
    /// `mount(2)`.
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> io::Result<()>;
    /// `mkdir -p` with `mode` for the created directories.
    fn mkdir_all(&self, path: &Path, mode: u32) -> io::Result<()>;
    /// Create an empty regular file (a bind-mount target) if it does not exist.
    fn touch(&self, path: &Path) -> io::Result<()>;
    /// Create a symlink `path` → `target` (replacing nothing).
    fn symlink(&self, target: &Path, path: &Path) -> io::Result<()>;
    /// `pivot_root(new_root, new_root)` then detach the old root.
    fn pivot_root(&self, new_root: &Path) -> io::Result<()>;
    /// `chroot(new_root)` (fallback when `pivot_root` is refused).
    fn chroot(&self, new_root: &Path) -> io::Result<()>;
    /// `chdir(2)`.
    fn chdir(&self, path: &Path) -> io::Result<()>;
    /// `sethostname(2)`.
    fn sethostname(&self, name: &str) -> io::Result<()>;
    /// `personality(2)`.
    fn personality(&self, persona: libc::c_ulong) -> io::Result<()>;
    /// Bring the loopback interface of the current network namespace up.
    fn loopback_up(&self) -> io::Result<()>;
    /// Make the mount point `path` (absolute, inside the rootfs mounted at
    /// `root`) exist as `kind` and return the host path to mount on. Symlinks
    /// on the way are resolved as the step would see them — with `root` as
    /// `/` — so none can lead outside the rootfs; missing directories are
    /// created with mode 0755 (the last one with `kind`'s mode).
    fn prepare_target(&self, root: &Path, path: &Path, kind: Target) -> io::Result<PathBuf>;
    /// Make `fsync`, `fdatasync`, `syncfs`, `sync` and `sync_file_range`
    /// return success without flushing, for this process and everything it
    /// starts (a seccomp filter; see [`crate::mounts::RootSetup::discard_syncs`]).
    fn discard_syncs(&self) -> io::Result<()>;
}

/// What a mount point must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A directory, created with this mode when missing.
    Dir(u32),
    /// A non-directory (for a file bind mount), created empty when missing.
    File,
}

/// The real system calls.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinuxSyscall;

fn nix_err(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

impl Syscall for LinuxSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> io::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data).map_err(|e| {
            io::Error::new(
                nix_err(e).kind(),
                format!(
                    "mount {} on {} (type {}, data {}): {e}",
                    source.unwrap_or(Path::new("none")).display(),
                    target.display(),
                    fstype.unwrap_or("none"),
                    data.unwrap_or("")
                ),
            )
        })
    }

    fn mkdir_all(&self, path: &Path, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(path)
            .map_err(|e| io::Error::new(e.kind(), format!("mkdir {}: {e}", path.display())))
    }

    fn touch(&self, path: &Path) -> io::Result<()> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => Ok(()),
            Err(_) => std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map(drop)
                .map_err(|e| io::Error::new(e.kind(), format!("create {}: {e}", path.display()))),
        }
    }

    fn symlink(&self, target: &Path, path: &Path) -> io::Result<()> {
        std::os::unix::fs::symlink(target, path)
            .map_err(|e| io::Error::new(e.kind(), format!("symlink {}: {e}", path.display())))
    }

    fn pivot_root(&self, new_root: &Path) -> io::Result<()> {
        // pivot_root(".", ".") stacks the old root on top of the new one;
        // detaching "." then leaves only the new root (see pivot_root(2)).
        nix::unistd::chdir(new_root).map_err(nix_err)?;
        nix::unistd::pivot_root(".", ".").map_err(|e| {
            io::Error::new(
                nix_err(e).kind(),
                format!("pivot_root {}: {e}", new_root.display()),
            )
        })?;
        nix::mount::umount2(".", MntFlags::MNT_DETACH).map_err(nix_err)?;
        nix::unistd::chdir("/").map_err(nix_err)
    }

    fn chroot(&self, new_root: &Path) -> io::Result<()> {
        nix::unistd::chroot(new_root).map_err(nix_err)?;
        nix::unistd::chdir("/").map_err(nix_err)
    }

    fn chdir(&self, path: &Path) -> io::Result<()> {
        nix::unistd::chdir(path).map_err(|e| {
            io::Error::new(nix_err(e).kind(), format!("chdir {}: {e}", path.display()))
        })
    }

    fn sethostname(&self, name: &str) -> io::Result<()> {
        nix::unistd::sethostname(OsStr::new(name)).map_err(nix_err)
    }

    fn personality(&self, persona: libc::c_ulong) -> io::Result<()> {
        // SAFETY: personality(2) only changes this process's execution domain flags.
        let r = unsafe { libc::personality(persona) };
        if r == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn loopback_up(&self) -> io::Result<()> {
        // SAFETY: a plain datagram socket used only for the ioctl below, closed after.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: ifreq is plain old data; zeroed is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        // SAFETY: fd is a valid socket and req a valid ifreq for SIOCGIFFLAGS/SIOCSIFFLAGS.
        let result = unsafe {
            if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
                Err(io::Error::last_os_error())
            } else {
                req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
                if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            }
        };
        // SAFETY: fd was opened above and is closed once.
        unsafe { libc::close(fd) };
        result
    }

    fn prepare_target(&self, root: &Path, path: &Path, kind: Target) -> io::Result<PathBuf> {
        prepare_target(root, path, kind)
    }

    fn discard_syncs(&self) -> io::Result<()> {
        let program = nosync_filter();
        let prog = libc::sock_fprog {
            len: u16::try_from(program.len()).map_err(|_| io::Error::other("filter too long"))?,
            filter: program.as_ptr().cast_mut(),
        };
        // SAFETY: `prog` points at a valid classic BPF program that outlives
        // the call (the kernel copies it). Without NO_NEW_PRIVS this needs
        // CAP_SYS_ADMIN in the current user namespace, which the sandbox's
        // root has.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0u32,
                &raw const prog,
            )
        };
        if r != 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("seccomp: {e}")));
        }
        Ok(())
    }
}

fn prepare_target(root: &Path, path: &Path, kind: Target) -> io::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    use std::path::Component;

    use nix::errno::Errno;
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
    use nix::sys::stat::{Mode, SFlag, fstat, fstatat, mkdirat};

    let refuse = |message: String| io::Error::new(io::ErrorKind::InvalidInput, message);
    let at = |prefix: &Path, e: Errno| {
        io::Error::new(
            nix_err(e).kind(),
            format!("mount point `/{}` in the rootfs: {e}", prefix.display()),
        )
    };
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n),
            Component::RootDir | Component::CurDir => {}
            _ => return Err(refuse(format!("mount point `{}` has `..`", path.display()))),
        }
    }
    let root_fd = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io::Error::new(nix_err(e).kind(), format!("open {}: {e}", root.display())))?;
    let root_real = std::fs::read_link(format!("/proc/self/fd/{}", root_fd.as_raw_fd()))?;
    let mut current = root_fd.try_clone()?;
    let mut prefix = PathBuf::new();
    for (i, name) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        prefix.push(name);
        // Resolve with the rootfs as `/`: `..` and absolute symlinks stay inside.
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let fd = match openat2(&root_fd, &prefix, how) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                // Missing from its (already resolved) parent — or a symlink
                // to something missing, which is not created through.
                if fstatat(&current, *name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).is_ok() {
                    let target = nix::fcntl::readlinkat(&current, *name).unwrap_or_default();
                    return Err(refuse(format!(
                        "mount point `/{}` in the rootfs is a symlink to `{}`, which does not \
                         exist there; the sandbox does not create mount points through dangling \
                         symlinks",
                        prefix.display(),
                        target.to_string_lossy()
                    )));
                }
                match (last, kind) {
                    (true, Target::File) => openat(
                        &current,
                        *name,
                        OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_WRONLY
                            | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map(drop),
                    (true, Target::Dir(mode)) => {
                        mkdirat(&current, *name, Mode::from_bits_truncate(mode))
                    }
                    (false, _) => mkdirat(&current, *name, Mode::from_bits_truncate(0o755)),
                }
                .map_err(|e| at(&prefix, e))?;
                openat(
                    &current,
                    *name,
                    OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| at(&prefix, e))?
            }
            Err(e) => {
                // A symlink that loops or escapes: name it and where it points
                // (`/tmp -> /tmp/x/host-tmp` loops once the rootfs is `/`).
                if let Ok(target) = nix::fcntl::readlinkat(&current, *name) {
                    return Err(io::Error::new(
                        nix_err(e).kind(),
                        format!(
                            "mount point `/{}` in the rootfs is a symlink to `{}`, which cannot \
                             be resolved inside the rootfs: {e}",
                            prefix.display(),
                            target.to_string_lossy()
                        ),
                    ));
                }
                return Err(at(&prefix, e));
            }
        };
        let is_dir = fstat(&fd)
            .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
            .map_err(|e| at(&prefix, e))?;
        let wrong = match (last, kind) {
            (false, _) | (true, Target::Dir(_)) => !is_dir,
            (true, Target::File) => is_dir,
        };
        if wrong {
            return Err(refuse(format!(
                "mount point `/{}` in the rootfs is {}",
                prefix.display(),
                if is_dir {
                    "a directory, expected a file"
                } else {
                    "not a directory"
                }
            )));
        }
        current = fd;
    }
    // The resolved place, as a host path (the step has not started: nothing
    // inside can move it before the mount).
    let resolved = std::fs::read_link(format!("/proc/self/fd/{}", current.as_raw_fd()))?;
    if resolved == root_real && !parts.is_empty() {
        return Err(refuse(format!(
            "mount point `{}` in the rootfs resolves to the rootfs's own root",
            path.display()
        )));
    }
    if !resolved.starts_with(&root_real) {
        return Err(refuse(format!(
            "mount point `{}` resolves outside the rootfs, to `{}`",
            path.display(),
            resolved.display()
        )));
    }
    Ok(resolved)
}

/// `AUDIT_ARCH_*` of the ABIs whose sync calls the filter knows.
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;

/// Syscall numbers of fsync, fdatasync, syncfs, sync, sync_file_range per ABI
/// (from the kernel's syscall tables; i386 matters for i686 steps on x86-64).
const SYNC_CALLS: [(u32, [u32; 5]); 3] = [
    (AUDIT_ARCH_X86_64, [74, 75, 306, 162, 277]),
    (AUDIT_ARCH_I386, [118, 148, 344, 36, 314]),
    (AUDIT_ARCH_AARCH64, [82, 83, 267, 81, 84]),
];

/// The classic BPF program of [`Syscall::discard_syncs`]: for each known
/// ABI, the sync calls return `SECCOMP_RET_ERRNO` with errno 0 — the call
/// "succeeds" without running; every other call is allowed.
pub(crate) fn nosync_filter() -> Vec<libc::sock_filter> {
    // Offsets into `struct seccomp_data`.
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: u16::try_from(code).unwrap_or(0),
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: u16::try_from(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K).unwrap_or(0),
        jt,
        jf,
        k,
    };
    let load = |offset: u32| stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset);
    let ret = |value: u32| stmt(libc::BPF_RET | libc::BPF_K, value);
    let mut program = Vec::new();
    for (arch, calls) in SYNC_CALLS {
        // [load arch] [arch?] [load nr] [5 x nr?] [allow] [errno 0]
        let block = u8::try_from(calls.len() + 3).unwrap_or(0);
        program.push(load(ARCH));
        // Not this ABI: skip the rest of the block.
        program.push(jeq(arch, 0, block));
        program.push(load(NR));
        for (i, nr) in calls.iter().enumerate() {
            // Match: jump to the errno return; no match: next comparison.
            let to_errno = u8::try_from(calls.len() - i).unwrap_or(0);
            program.push(jeq(*nr, to_errno, 0));
        }
        program.push(ret(libc::SECCOMP_RET_ALLOW));
        program.push(ret(libc::SECCOMP_RET_ERRNO));
    }
    program.push(ret(libc::SECCOMP_RET_ALLOW));
    program
}

/// One recorded call of [`RecordingSyscall`].
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    Mount {
        source: Option<PathBuf>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    MkdirAll(PathBuf),
    Touch(PathBuf),
    Symlink {
        target: PathBuf,
        path: PathBuf,
    },
    PivotRoot(PathBuf),
    Chroot(PathBuf),
    Chdir(PathBuf),
    Sethostname(String),
    Personality(libc::c_ulong),
    LoopbackUp,
    Prepare(PathBuf),
    DiscardSyncs,
}

/// A fake that records every call and performs none (for unit tests).
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct RecordingSyscall {
    pub(crate) calls: std::cell::RefCell<Vec<Call>>,
    /// Make `pivot_root` fail, to exercise the chroot fallback.
    pub(crate) refuse_pivot_root: bool,
}

#[cfg(test)]
impl Syscall for RecordingSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> io::Result<()> {
        self.calls.borrow_mut().push(Call::Mount {
            source: source.map(Path::to_path_buf),
            target: target.to_path_buf(),
            fstype: fstype.map(str::to_owned),
            flags,
            data: data.map(str::to_owned),
        });
        Ok(())
    }
    fn mkdir_all(&self, path: &Path, _mode: u32) -> io::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::MkdirAll(path.to_path_buf()));
        Ok(())
    }
    fn touch(&self, path: &Path) -> io::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::Touch(path.to_path_buf()));
        Ok(())
    }
    fn symlink(&self, target: &Path, path: &Path) -> io::Result<()> {
        self.calls.borrow_mut().push(Call::Symlink {
            target: target.to_path_buf(),
            path: path.to_path_buf(),
        });
        Ok(())
    }
    fn pivot_root(&self, new_root: &Path) -> io::Result<()> {
        if self.refuse_pivot_root {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        self.calls
            .borrow_mut()
            .push(Call::PivotRoot(new_root.to_path_buf()));
        Ok(())
    }
    fn chroot(&self, new_root: &Path) -> io::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::Chroot(new_root.to_path_buf()));
        Ok(())
    }
    fn chdir(&self, path: &Path) -> io::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::Chdir(path.to_path_buf()));
        Ok(())
    }
    fn sethostname(&self, name: &str) -> io::Result<()> {
        self.calls
            .borrow_mut()
            .push(Call::Sethostname(name.to_owned()));
        Ok(())
    }
    fn personality(&self, persona: libc::c_ulong) -> io::Result<()> {
        self.calls.borrow_mut().push(Call::Personality(persona));
        Ok(())
    }
    fn loopback_up(&self) -> io::Result<()> {
        self.calls.borrow_mut().push(Call::LoopbackUp);
        Ok(())
    }
    fn prepare_target(&self, root: &Path, path: &Path, _kind: Target) -> io::Result<PathBuf> {
        let target = root.join(path.strip_prefix("/").unwrap_or(path));
        self.calls.borrow_mut().push(Call::Prepare(target.clone()));
        Ok(target)
    }
    fn discard_syncs(&self) -> io::Result<()> {
        self.calls.borrow_mut().push(Call::DiscardSyncs);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{LinuxSyscall, Syscall};

    /// In a forked child: without the filter `fsync(-1)` fails with EBADF;
    /// with it, every sync call "succeeds" without reaching the kernel.
    #[test]
    fn the_nosync_filter_turns_sync_calls_into_successful_no_ops() {
        // SAFETY: the child only makes system calls and exits with `_exit`.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                // SAFETY: plain system calls on invalid descriptors, in the child only.
                let code = unsafe {
                    let before = libc::fsync(-1);
                    // NO_NEW_PRIVS lets an unprivileged test install the filter.
                    libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                    let installed = LinuxSyscall.discard_syncs().is_ok();
                    let after = [
                        libc::fsync(-1),
                        libc::fdatasync(-1),
                        libc::syncfs(-1),
                        libc::sync_file_range(-1, 0, 0, 0),
                    ];
                    i32::from(!(before == -1 && installed && after == [0, 0, 0, 0]))
                };
                // SAFETY: leave the forked child without running the parent's destructors.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
