//! `slipway fetch`: download the packages of a lock (or of a fresh
//! resolution) into the store, verified, optionally copied to a directory.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use slipway_yum::Lock;
use slipway_yum::download::{DownloadOptions, Reporter, download};
use slipway_yum::gpg::RepoKeys;
use slipway_yum::store::Transport;

use super::resolve::{RepoArgs, resolve_words};

/// Arguments of `slipway fetch`.
#[derive(Debug, clap::Args)]
pub(crate) struct FetchArgs {
    #[command(flatten)]
    pub(crate) repos: RepoArgs,
    /// Download what this lock file pins (else resolve `[install] PKG…` now).
    #[arg(long, value_name = "FILE")]
    pub(crate) lock: Option<PathBuf>,
    /// Fail if the lock no longer matches the repositories' metadata.
    #[arg(long, requires = "lock")]
    pub(crate) locked: bool,
    /// Installed packages (when resolving), one NEVRA per line.
    #[arg(long, value_name = "FILE")]
    pub(crate) installed: Option<PathBuf>,
    /// Also place the RPMs here as `name-version-release.arch.rpm`.
    #[arg(long, value_name = "DIR")]
    pub(crate) dest: Option<PathBuf>,
    /// Downloads at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub(crate) jobs: usize,
    /// `[install|update] PKG…` when no lock is given.
    #[arg(value_name = "JOB|PKG", trailing_var_arg = true)]
    pub(crate) words: Vec<String>,
}

/// indicatif bars, one per download in flight, on stderr.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Reporter for Bars {
    fn start(&self, nevra: &str, total: u64) {
        let bar = self.multi.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template("{msg:40} {bytes:>10}/{total_bytes:10} {bar:30}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(nevra.to_owned());
        if let Ok(mut b) = self.bars.lock() {
            b.insert(nevra.to_owned(), bar);
        }
    }
    fn progress(&self, nevra: &str, bytes: u64) {
        if let Some(b) = self.bars.lock().ok().and_then(|b| b.get(nevra).cloned()) {
            b.inc(bytes);
        }
    }
    fn done(&self, nevra: &str) {
        if let Some(b) = self.bars.lock().ok().and_then(|mut b| b.remove(nevra)) {
            b.finish_and_clear();
        }
    }
}

struct Quiet;
impl Reporter for Quiet {}

pub(crate) fn run(args: FetchArgs) -> anyhow::Result<()> {
    let transport = Transport::new()?;
    let lock = match &args.lock {
        Some(path) => {
            let lock = Lock::read(path)?;
            if args.locked {
                let repos = args.repos.load(&transport)?;
                let reasons = lock.is_stale(&repos);
                if !reasons.is_empty() {
                    anyhow::bail!("`{}` is stale: {}", path.display(), reasons.join("; "));
                }
            }
            lock
        }
        None => {
            let (repos, tx) = resolve_words(
                &args.repos,
                args.installed.as_ref(),
                &args.words,
                &transport,
            )?;
            Lock::from_transaction(&tx, &repos)
        }
    };
    let keys = RepoKeys::load(&args.repos.configs()?, &transport)?;
    let check = |p: &slipway_yum::LockedPackage, path: &std::path::Path| keys.check(p, path);
    let options = DownloadOptions {
        jobs: args.jobs,
        signature: Some(&check),
    };
    let store = args.repos.store();
    let paths = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        let bars = Bars {
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
        };
        download(&lock.packages, &store, &transport, &options, &bars)?
    } else {
        download(&lock.packages, &store, &transport, &options, &Quiet)?
    };
    if let Some(dest) = &args.dest {
        fs_err::create_dir_all(dest)?;
        for (pkg, path) in lock.packages.iter().zip(&paths) {
            let target = dest.join(pkg.file_name());
            let _ = fs_err::remove_file(&target);
            if std::fs::hard_link(path, &target).is_err() {
                fs_err::copy(path, &target)
                    .with_context(|| format!("cannot copy to `{}`", target.display()))?;
            }
        }
    }
    for (pkg, path) in lock.packages.iter().zip(&paths) {
        println!("{}\t{}", pkg.nevra(), path.display());
    }
    Ok(())
}
