//! The few system calls that build a sandbox's mount tree, behind a trait.
//!
//! [`LinuxSyscall`] performs them; [`RecordingSyscall`] (tests only) records
//! them so unit tests can assert the mount plan without root (youki's
//! `syscall/` pattern).

use std::ffi::OsStr;
use std::io;
use std::path::Path;
#[cfg(test)]
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
}
