//! [`Sandbox`]: run one [`Step`] over a staged rootfs.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;

use crate::child::{self, Identity};
use crate::error::{Error, Result};
use crate::mounts::{BindMount, RootMount, RootSetup, inside};
use crate::output::{self, OutputOptions};
use crate::scratch::{ScratchDir, remove_tree, sweep_stale};

/// The `PATH` a step gets unless its environment says otherwise.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One command to run in the sandbox.
#[derive(Debug, Clone)]
pub struct Step {
    /// Name used in messages and output prefixes.
    pub name: String,
    /// The command and its arguments (looked up in the step's `PATH` inside the rootfs).
    pub argv: Vec<OsString>,
    /// The complete environment (nothing is inherited from slipway).
    pub env: BTreeMap<String, String>,
    /// Absolute working directory inside the rootfs.
    pub workdir: PathBuf,
    /// Share the host's network (and get its `/etc/resolv.conf` and `/etc/hosts`).
    pub network: bool,
    /// Run under a 32-bit personality (`uname -m` → `i686`).
    pub linux32: bool,
    /// Read-only bind mounts: (host path, absolute path inside the rootfs).
    pub inputs: Vec<(PathBuf, PathBuf)>,
    /// Kill the step's whole process tree after this long.
    pub timeout: Option<Duration>,
    /// The fixed hostname.
    pub hostname: String,
    /// What happens with the output.
    pub output: OutputOptions,
    /// Make `fsync`, `fdatasync`, `syncfs`, `sync` and `sync_file_range`
    /// succeed without flushing (default: on). A step's writes land in a
    /// scratch upper directory that is only ever read back by the capture
    /// after the step has exited (the page cache serves it) and is thrown
    /// away if slipway or the machine dies first, so flushing it buys no
    /// durability — the layer blob slipway writes is what must survive. rpm
    /// alone calls `fdatasync` once per package on its rpmdb and `syncfs`
    /// at the end of a transaction. Like `dpkg --force-unsafe-io` or
    /// `eatmydata`, but as a seccomp filter so it also covers static binaries.
    pub discard_syncs: bool,
}

impl Step {
    /// A step with the default environment (`PATH`, `HOME=/root`), `/` as
    /// working directory, no network, no inputs and no timeout.
    pub fn new<I, S>(name: impl Into<String>, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let env = [("PATH", DEFAULT_PATH), ("HOME", "/root")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self {
            name: name.into(),
            argv: argv.into_iter().map(Into::into).collect(),
            env,
            workdir: PathBuf::from("/"),
            network: false,
            linux32: false,
            inputs: Vec::new(),
            timeout: None,
            hostname: "slipway".to_owned(),
            output: OutputOptions::default(),
            discard_syncs: true,
        }
    }
}

/// The base a step runs over.
#[derive(Debug, Clone)]
pub enum Base {
    /// overlayfs over these read-only directories (top-most first); the
    /// step's changes land in the overlay upper directory.
    Overlay(Vec<PathBuf>),
    /// No overlayfs: the step runs on a private copy of this directory and
    /// its changes are found by comparing the copy with it afterwards.
    Snapshot(PathBuf),
}

/// A finished step: its changes (the upper directory) and output.
#[derive(Debug)]
pub struct StepOutcome {
    scratch: ScratchDir,
    lowers: Vec<PathBuf>,
    /// The whole output when [`OutputOptions::collect`] was set.
    pub output: Vec<u8>,
}

impl StepOutcome {
    /// The directory holding the step's changes in overlayfs form (whiteouts
    /// as 0/0 character devices, opaque directories marked by xattr).
    pub fn upper(&self) -> PathBuf {
        self.scratch.upper()
    }

    /// Capture the step's changes as one layer in `layout` (see [`crate::capture_layer`]).
    pub fn capture(
        &self,
        layout: &slipway_oci::OciLayout,
        transient: &crate::Transient,
        options: &slipway_oci::LayerOptions,
    ) -> Result<slipway_oci::Layer> {
        crate::capture_layer(&self.upper(), &self.lowers, layout, transient, options)
    }

    /// The whole output as (lossy) text, when collected.
    pub fn output_text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }
}

/// Runs steps; owns a scratch area (in the store) for their overlay directories.
#[derive(Debug, Clone)]
pub struct Sandbox {
    scratch_root: PathBuf,
    cancel: Arc<AtomicBool>,
}

impl Sandbox {
    /// A sandbox whose steps keep their scratch directories under `scratch_root`.
    /// Scratch directories left by killed slipway processes are removed.
    pub fn new(scratch_root: impl Into<PathBuf>) -> Self {
        let scratch_root = scratch_root.into();
        sweep_stale(&scratch_root);
        Self {
            scratch_root,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A sandbox whose scratch directories (overlay upper and work dirs) live
    /// in memory, under `/dev/shm/slipway-<uid>`, when a step is expected to
    /// write about `expected_bytes` and that fits comfortably (at most a
    /// quarter of the free space there, leaving 256 MiB); `None` when not
    /// (no tmpfs `/dev/shm`, not enough room) — use [`Sandbox::new`] then.
    ///
    /// The upper directory is scratch: read once by the capture, then
    /// deleted. On disk, creating and later deleting its files costs journal
    /// writes that compete with everything else on the machine; in memory it
    /// costs neither, and only the compressed layer blob reaches the disk.
    /// `slipway install` uses it with the packages' installed size.
    pub fn in_memory(expected_bytes: u64) -> Option<Self> {
        const RESERVE: u64 = 256 << 20;
        let root = crate::scratch::memory_root()?;
        let free = crate::scratch::free_bytes(&root)?;
        let fits = expected_bytes
            .checked_add(RESERVE)
            .is_some_and(|need| need <= free / 4);
        fits.then(|| Self::new(root.join("scratch")))
    }

    /// A flag that, once set, kills running steps (like Ctrl-C does after
    /// [`crate::interrupt::install_handlers`]).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// Run `step` over `base`. On success the outcome holds the step's
    /// changes; on any failure everything is killed and removed.
    pub fn run(&self, base: &Base, step: &Step) -> Result<StepOutcome> {
        validate(step)?;
        let scratch = ScratchDir::create(&self.scratch_root)?;
        let (root, lowers) = match base {
            Base::Overlay(lowers) => {
                if lowers.is_empty() {
                    return Err(invalid(
                        step,
                        "an overlay needs at least one lower directory",
                    ));
                }
                let root = RootMount::Overlay {
                    lowers: lowers.clone(),
                    upper: scratch.upper(),
                    work: scratch.work(),
                    userxattr: !nix::unistd::geteuid().is_root(),
                };
                (root, lowers.clone())
            }
            Base::Snapshot(dir) => {
                let copy = scratch.path().join("root");
                crate::snapshot::copy_tree(dir, &copy)?;
                (RootMount::Directory(copy.clone()), vec![copy])
            }
        };
        let merged = match &root {
            RootMount::Overlay { .. } => scratch.merged(),
            RootMount::Directory(dir) => dir.clone(),
        };
        let mut inputs = Vec::new();
        for (source, target) in &step.inputs {
            let meta = fs_err::metadata(source)?;
            inputs.push(BindMount {
                source: source.clone(),
                target: target.clone(),
                is_dir: meta.is_dir(),
            });
        }
        // Mount points the sandbox itself creates in the rootfs; they are
        // not part of the step's changes.
        let mut made: Vec<PathBuf> = ["/proc", "/dev", "/tmp"].map(PathBuf::from).to_vec();
        made.extend(inputs.iter().map(|i| i.target.clone()));
        if step.network {
            made.extend(["/etc/resolv.conf", "/etc/hosts"].map(PathBuf::from));
        }
        let created: Vec<PathBuf> = made
            .iter()
            .filter_map(|p| first_missing(&lowers, p))
            .collect();

        let setup = RootSetup {
            root,
            merged,
            inputs,
            network: step.network,
            hostname: step.hostname.clone(),
            linux32: step.linux32,
            workdir: step.workdir.clone(),
            discard_syncs: step.discard_syncs,
        };
        let collected = self.spawn_and_wait(step, setup)?;
        // Drop the sandbox's own mount points from the changes (only when
        // they are still what the sandbox made: empty).
        for path in &created {
            remove_if_only_mountpoints(&inside(&scratch.upper(), path));
            // Making it copied its parents up (e.g. `/run` for
            // `/run/slipway/rpms`): those that still match the lower go too.
            if let Base::Overlay(lowers) = base {
                let rel = path.strip_prefix("/").unwrap_or(path);
                for ancestor in rel.ancestors().skip(1) {
                    if ancestor.as_os_str().is_empty()
                        || !crate::capture::only_copied_up(&scratch.upper(), lowers, ancestor)
                    {
                        break;
                    }
                    let _ = std::fs::remove_dir(scratch.upper().join(ancestor));
                }
            }
        }
        if let Base::Snapshot(dir) = base {
            crate::snapshot::diff_into(
                dir,
                &scratch.path().join("root"),
                &scratch.upper(),
                &created,
            )?;
            remove_tree(&scratch.path().join("root"))?;
        }
        let lowers = match base {
            Base::Overlay(lowers) => lowers.clone(),
            Base::Snapshot(dir) => vec![dir.clone()],
        };
        Ok(StepOutcome {
            scratch,
            lowers,
            output: collected.all,
        })
    }

    /// Run Rust code `work` on the merged view of an overlay over `lowers`
    /// (no pivot_root, no new pid namespace: a forked child in a private mount
    /// namespace), so that what it writes lands in the upper directory exactly
    /// as a step's changes do. Used by the bootstrap RPM installer.
    ///
    /// `work` runs in a forked child of a possibly multi-threaded process:
    /// it must not take locks other threads might hold (stdout, a logger).
    /// Its error is printed to the step's output and reported as the failure.
    pub fn run_native<F>(&self, lowers: &[PathBuf], name: &str, work: F) -> Result<StepOutcome>
    where
        F: Fn(&Path) -> std::result::Result<(), String> + Send + Sync + 'static,
    {
        if lowers.is_empty() {
            return Err(Error::InvalidStep {
                step: name.to_owned(),
                message: "an overlay needs at least one lower directory".into(),
            });
        }
        let scratch = ScratchDir::create(&self.scratch_root)?;
        let root = RootMount::Overlay {
            lowers: lowers.to_vec(),
            upper: scratch.upper(),
            work: scratch.work(),
            userxattr: !nix::unistd::geteuid().is_root(),
        };
        let merged = scratch.merged();
        let parent = nix::unistd::getpid();
        let (reader, writer) = std::io::pipe()?;
        let mut command = Command::new("/proc/self/exe");
        command
            .stdin(Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer);
        // SAFETY: runs in the forked child; see the function's documentation.
        unsafe {
            command.pre_exec(move || child::native(&root, &merged, parent, &work));
        }
        let spawned = command.spawn();
        drop(command);
        let step = Step::new(name, ["<native>"]);
        let collected = self.wait(&step, spawned, reader)?;
        let _ = collected;
        Ok(StepOutcome {
            scratch,
            lowers: lowers.to_vec(),
            output: Vec::new(),
        })
    }

    fn spawn_and_wait(&self, step: &Step, setup: RootSetup) -> Result<output::Collected> {
        let mut flags = CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWPID
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWIPC;
        if !step.network {
            flags |= CloneFlags::CLONE_NEWNET;
        }
        let uid = nix::unistd::geteuid().as_raw();
        let userns = (uid != 0).then(|| Identity {
            uid,
            gid: nix::unistd::getegid().as_raw(),
        });
        let parent = nix::unistd::getpid();
        let (reader, writer) = std::io::pipe()?;
        let mut command = Command::new(&step.argv[0]);
        command
            .args(&step.argv[1..])
            .env_clear()
            .envs(&step.env)
            .stdin(Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer);
        // SAFETY: the closure runs in the forked child before exec; it only
        // makes system calls and small allocations (glibc's malloc is
        // fork-safe), and it forks once more itself (see `child`).
        unsafe {
            command.pre_exec(move || child::enter(&setup, flags, parent, userns));
        }
        let spawned = command.spawn();
        // The parent's copies of the pipe's write end live in `command`.
        drop(command);
        self.wait(step, spawned, reader)
    }

    /// Stream the output of a spawned sandbox process and wait for it, with
    /// the step's timeout and cancellation.
    fn wait(
        &self,
        step: &Step,
        spawned: std::io::Result<std::process::Child>,
        reader: std::io::PipeReader,
    ) -> Result<output::Collected> {
        let name = step.name.clone();
        let options = step.output.clone();
        let pump = std::thread::spawn(move || output::pump(reader, &name, &options));
        let join = |pump: std::thread::JoinHandle<std::io::Result<output::Collected>>| {
            pump.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("output reader panicked")))
        };
        let mut child = match spawned {
            Ok(child) => child,
            Err(source) => {
                let tail = join(pump).map(|c| c.tail_text()).unwrap_or_default();
                return Err(Error::Spawn {
                    step: step.name.clone(),
                    message: tail,
                    source,
                });
            }
        };
        let started = Instant::now();
        let mut killed_for = None;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if killed_for.is_none() {
                if step.timeout.is_some_and(|t| started.elapsed() >= t) {
                    killed_for = Some(Killed::Timeout);
                } else if self.cancel.load(Ordering::SeqCst) || crate::interrupt::requested() {
                    killed_for = Some(Killed::Interrupt);
                }
                if killed_for.is_some() {
                    // Killing the keeper kills pid 1 (PDEATHSIG), and with it the namespace.
                    let _ = child.kill();
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // Returns once every process of the step is gone (all write ends closed).
        let collected = join(pump)?;
        match killed_for {
            Some(Killed::Timeout) => Err(Error::Timeout {
                step: step.name.clone(),
                timeout: step.timeout.unwrap_or_default(),
                tail: collected.tail_text(),
            }),
            Some(Killed::Interrupt) => Err(Error::Interrupted {
                step: step.name.clone(),
            }),
            None => {
                let code = status
                    .code()
                    .or_else(|| status.signal().map(|s| 128 + s))
                    .unwrap_or(-1);
                if code == 0 {
                    Ok(collected)
                } else {
                    Err(Error::StepFailed {
                        step: step.name.clone(),
                        code,
                        tail: collected.tail_text(),
                    })
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Killed {
    Timeout,
    Interrupt,
}

/// Remove `path` from an upper dir if it holds nothing but empty
/// directories and empty files (mount points the sandbox made).
fn remove_if_only_mountpoints(path: &Path) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    let only_mountpoints = if meta.is_dir() {
        walkdir::WalkDir::new(path).into_iter().all(|e| {
            e.is_ok_and(|e| {
                e.file_type().is_dir()
                    || (e.file_type().is_file() && e.metadata().is_ok_and(|m| m.len() == 0))
            })
        })
    } else {
        meta.is_file() && meta.len() == 0
    };
    if only_mountpoints {
        let _ = if meta.is_dir() {
            remove_tree(path)
        } else {
            std::fs::remove_file(path)
        };
    }
}

fn invalid(step: &Step, message: &str) -> Error {
    Error::InvalidStep {
        step: step.name.clone(),
        message: message.to_owned(),
    }
}

fn validate(step: &Step) -> Result<()> {
    if step.argv.is_empty() {
        return Err(invalid(step, "the command is empty"));
    }
    if !step.workdir.is_absolute() {
        return Err(invalid(step, "the working directory must be absolute"));
    }
    for (_, target) in &step.inputs {
        if !target.is_absolute() || target.components().any(|c| c.as_os_str() == "..") {
            return Err(invalid(
                step,
                &format!(
                    "input target `{}` must be absolute without `..`",
                    target.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The top-most ancestor-or-self of `path` missing from every lower dir.
fn first_missing(lowers: &[PathBuf], path: &Path) -> Option<PathBuf> {
    let mut current = PathBuf::from("/");
    for component in path.components().skip(1) {
        current.push(component);
        let exists = lowers
            .iter()
            .any(|l| std::fs::symlink_metadata(inside(l, &current)).is_ok());
        if !exists {
            return Some(current);
        }
    }
    None
}
