//! `slipway install`: resolve packages with the yum crate, download them
//! verified, install them into an image (the image's own rpm in the sandbox
//! when it has one, the native bootstrap installer otherwise) and write the
//! image with one more layer.

use std::path::PathBuf;

use anyhow::Context;
use slipway_sandbox::image::{stage_image, write_with_layer};
use slipway_sandbox::install::{RpmTransaction, bootstrap_install, rootfs_has_rpm};
use slipway_sandbox::slipway_oci::LayerOptions;
use slipway_sandbox::{Base, Sandbox, Step, Transient};

use slipway_yum::Lock;
use slipway_yum::download::{DownloadOptions, NoReporter, download};
use slipway_yum::gpg::RepoKeys;
use slipway_yum::store::Transport;

use super::resolve::{RepoArgs, resolve_words};

/// Arguments of `slipway install`.
#[derive(Debug, clap::Args)]
pub(crate) struct InstallArgs {
    /// The base image: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE`, or a layout directory.
    #[arg(value_name = "IMAGE")]
    pub(crate) image: String,
    /// Where the new image goes (same forms as IMAGE; an `oci:` directory must not exist yet).
    #[arg(value_name = "DEST")]
    pub(crate) dest: String,
    #[command(flatten)]
    pub(crate) repos: RepoArgs,
    /// Install these package files as they are, without resolving (repeatable).
    #[arg(long = "rpm", value_name = "FILE")]
    pub(crate) rpms: Vec<PathBuf>,
    /// Erase this installed package (by name) with the image's own `rpm -e`,
    /// in the same step, before installing (repeatable).
    #[arg(long = "erase", value_name = "NAME")]
    pub(crate) erase: Vec<String>,
    /// Pass `--nodeps` to the image's rpm (a builder whose base is not in its rpmdb).
    #[arg(long)]
    pub(crate) nodeps: bool,
    /// Always use the native bootstrap installer (no scriptlets, no rpmdb).
    #[arg(long)]
    pub(crate) bootstrap: bool,
    /// Keep the step's scratch (overlay upper) on disk, in the store, even
    /// when it would fit in memory (`/dev/shm`).
    #[arg(long)]
    pub(crate) disk_scratch: bool,
    /// Parallel downloads.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub(crate) jobs: usize,
    /// Packages to install.
    #[arg(value_name = "PKG")]
    pub(crate) packages: Vec<String>,
}

pub(crate) fn run(args: InstallArgs) -> anyhow::Result<()> {
    slipway_sandbox::interrupt::install_handlers().context("cannot install signal handlers")?;
    let store = super::store_root(args.repos.store.as_ref());
    let started = std::time::Instant::now();
    let staged = stage_image(&args.image, &store)
        .with_context(|| format!("cannot stage `{}`", args.image))?;
    tracing::info!(
        "staged the base in {:.3} s",
        started.elapsed().as_secs_f64()
    );
    let sandbox = Sandbox::new(store.join("scratch"));
    let lowers = vec![staged.rootfs.clone()];
    let has_rpm = !args.bootstrap && rootfs_has_rpm(&lowers);

    let mut files = args.rpms.clone();
    if !args.packages.is_empty() {
        files.extend(resolve_and_download(
            &args, &sandbox, &lowers, &staged, has_rpm,
        )?);
    }
    if files.is_empty() && args.erase.is_empty() {
        anyhow::bail!("nothing to install: name packages, `--rpm` files or `--erase` names");
    }
    if !args.erase.is_empty() && !has_rpm {
        anyhow::bail!(
            "`--erase` needs the image's own rpm, and `{}` has none{}",
            args.image,
            if args.bootstrap {
                " in use (`--bootstrap`)"
            } else {
                ""
            }
        );
    }

    let mut created_by = String::from("slipway install");
    for name in &args.erase {
        created_by.push_str(&format!(" --erase {name}"));
    }
    for file in &files {
        if let Some(name) = file.file_name() {
            created_by.push(' ');
            created_by.push_str(&name.to_string_lossy());
        }
    }
    let facts = header_facts(&files)?;
    // The upper dir holds what the packages install (plus the rpmdb's
    // growth): small enough, it is made in memory (see `Sandbox::in_memory`).
    let sandbox = match args.disk_scratch {
        true => sandbox,
        false => Sandbox::in_memory(facts.installed_bytes.saturating_mul(2)).unwrap_or(sandbox),
    };
    let phase = std::time::Instant::now();
    let outcome = if has_rpm {
        let tx = RpmTransaction {
            install: files,
            erase: args.erase.clone(),
            nodeps: args.nodeps,
            linux32: staged.is_i686(),
        };
        let mut step = tx.step("install")?;
        step.output.echo = slipway_sandbox::Echo::Stderr;
        sandbox.run(&Base::Overlay(lowers.clone()), &step)?
    } else {
        // Bootstrap: unpack natively onto the overlay's merged view, so the
        // changes land in the upper dir and are captured like a step's.
        let files = files.clone();
        sandbox.run_native(&lowers, "bootstrap", move |root| {
            bootstrap_install(root, &files)
                .map(drop)
                .map_err(|e| format!("bootstrap install failed: {e}"))
        })?
    };
    tracing::info!("installed in {:.3} s", phase.elapsed().as_secs_f64());
    let phase = std::time::Instant::now();
    let options = normalise(&outcome, &facts)?;
    let descriptor = write_with_layer(
        &staged,
        &outcome,
        &args.dest,
        &created_by,
        &Transient::package_caches(),
        &options,
        &store.join("scratch"),
    )?;
    tracing::info!(
        "captured the layer and wrote the image in {:.3} s (total {:.3} s)",
        phase.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    println!("{}", descriptor.digest());
    Ok(())
}

/// Resolve `args.packages` over the image (its own rpmdb's installed set
/// when it has rpm) and download them verified; returns the package files.
fn resolve_and_download(
    args: &InstallArgs,
    sandbox: &Sandbox,
    lowers: &[PathBuf],
    staged: &slipway_sandbox::image::StagedImage,
    has_rpm: bool,
) -> anyhow::Result<Vec<PathBuf>> {
    let transport = Transport::new()?;
    // The installed set is what the image's own rpmdb says.
    let installed = if has_rpm {
        let mut query = Step::new("rpm -qa", ["rpm", "-qa"]);
        query.output.collect = true;
        query.linux32 = staged.is_i686();
        let out = sandbox.run(&Base::Overlay(lowers.to_vec()), &query)?;
        let list = tempfile::NamedTempFile::new()?;
        fs_err::write(list.path(), out.output)?;
        Some(list)
    } else {
        None
    };
    let installed_path = installed.as_ref().map(|f| f.path().to_path_buf());
    let (repos, tx) = resolve_words(
        &args.repos,
        installed_path.as_ref(),
        &args.packages,
        &transport,
    )?;
    let lock = Lock::from_transaction(&tx, &repos);
    let keys = RepoKeys::load(&args.repos.configs()?, &transport)?;
    let check = |p: &slipway_yum::LockedPackage, path: &std::path::Path| keys.check(p, path);
    let options = DownloadOptions {
        jobs: args.jobs,
        signature: Some(&check),
    };
    Ok(download(
        &lock.packages,
        &args.repos.store(),
        &transport,
        &options,
        &NoReporter,
    )?)
}

/// The layer options of the install (its epoch) with the upper directory
/// normalised as a build step's is.
fn normalise(
    outcome: &slipway_sandbox::StepOutcome,
    facts: &HeaderFacts,
) -> anyhow::Result<LayerOptions> {
    let mut options = LayerOptions::from_env()?;
    if std::env::var_os("SOURCE_DATE_EPOCH").is_none() {
        // No pinned epoch: use the newest file mtime of the packages, so the
        // clamp keeps their mtimes (and `rpm -V` clean) while the layer still
        // depends only on its inputs.
        options.source_date_epoch = facts.newest_mtime.max(options.source_date_epoch);
    }
    // What rpm leaves that differs between runs (install times and
    // transaction ids in the rpmdb, its environment files, logs): the same
    // post-step normaliser as `slipway build`, so the same packages over the
    // same image give the same layer.
    let epoch = u32::try_from(options.source_date_epoch).with_context(|| {
        format!(
            "SOURCE_DATE_EPOCH {} is outside 0..=4294967295",
            options.source_date_epoch
        )
    })?;
    slipway_repro::normalize_tree(
        &outcome.upper(),
        &slipway_repro::NormalizeOptions {
            source_date_epoch: epoch,
            drop_pyc: false,
        },
    )
    .with_context(|| format!("normalising `{}`", outcome.upper().display()))?;
    Ok(options)
}

/// What the package headers say about an install.
struct HeaderFacts {
    /// The newest file mtime.
    newest_mtime: i64,
    /// The sum of the file sizes.
    installed_bytes: u64,
}

/// Read the headers of `rpms` once for [`HeaderFacts`].
fn header_facts(rpms: &[PathBuf]) -> anyhow::Result<HeaderFacts> {
    let mut facts = HeaderFacts {
        newest_mtime: 0,
        installed_bytes: 0,
    };
    for rpm in rpms {
        let header = slipway_sandbox::slipway_rpm::read_header(rpm)
            .with_context(|| format!("cannot read the header of `{}`", rpm.display()))?;
        for file in &header.files {
            facts.newest_mtime = facts.newest_mtime.max(i64::from(file.mtime));
            facts.installed_bytes = facts.installed_bytes.saturating_add(file.size);
        }
    }
    Ok(facts)
}
