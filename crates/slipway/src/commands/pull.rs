//! `slipway pull`, and the registry flags and progress bars that `push` and
//! `copy` share.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use slipway_registry::{
    ClientOptions, CopyOptions, CredentialSource, Credentials, ImageLocation, NoReporter, Platform,
    Reference, Reporter,
};

/// Flags for reaching registries (skopeo's names): credentials and TLS.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RegistryAccessArgs {
    /// Credentials `USER:PASSWORD` for the registry.
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        env = "SLIPWAY_CREDS",
        hide_env_values = true
    )]
    pub(crate) creds: Option<String>,
    /// Auth file to read instead of `$REGISTRY_AUTH_FILE`, containers' `auth.json` and `~/.docker/config.json`.
    #[arg(long, value_name = "FILE")]
    pub(crate) authfile: Option<PathBuf>,
    /// Verify TLS certificates (`--tls-verify=false` also allows plain HTTP).
    /// Loopback registries may use plain HTTP unless `--tls-verify=true`.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) tls_verify: Option<bool>,
    /// Directory of extra CA certificates (`*.crt`, `*.pem`).
    #[arg(long, value_name = "DIR")]
    pub(crate) cert_dir: Option<PathBuf>,
}

impl RegistryAccessArgs {
    pub(crate) fn client_options(&self) -> anyhow::Result<ClientOptions> {
        let flag = self
            .creds
            .as_deref()
            .map(Credentials::parse_flag)
            .transpose()?;
        Ok(ClientOptions {
            credentials: CredentialSource {
                flag,
                authfile: self.authfile.clone(),
            },
            tls_verify: self.tls_verify,
            cert_dir: self.cert_dir.clone(),
            ..ClientOptions::default()
        })
    }
}

/// The registry flags of `pull`, `push` and `copy`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RegistryArgs {
    #[command(flatten)]
    pub(crate) access: RegistryAccessArgs,
    /// Blobs transferred at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub(crate) jobs: usize,
}

impl RegistryArgs {
    pub(crate) fn client_options(&self) -> anyhow::Result<ClientOptions> {
        Ok(ClientOptions {
            concurrency: self.jobs.max(1),
            ..self.access.client_options()?
        })
    }
}

/// Arguments of `slipway pull`.
#[derive(Debug, clap::Args)]
pub(crate) struct PullArgs {
    /// Image to pull: `REGISTRY/REPO[:TAG|@DIGEST]` (Docker Hub names such as
    /// `centos:6.9` work; a `docker://` prefix is accepted).
    pub(crate) reference: String,
    /// Where to write it: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]` or
    /// `docker-archive:FILE[:NAME:TAG]` (default: `oci:<repo name>:<tag>`).
    pub(crate) dest: Option<String>,
    /// Platform to choose from a multi-platform image, e.g. `linux/386`
    /// (default: this machine's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub(crate) platform: Option<String>,
    /// Refuse to convert a Docker manifest for an `oci:`/`oci-archive:`
    /// destination instead of rewriting it with OCI media types (skopeo's flag).
    #[arg(long)]
    pub(crate) preserve_digests: bool,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

pub(crate) fn run(args: PullArgs) -> anyhow::Result<()> {
    let text = args
        .reference
        .strip_prefix("docker://")
        .unwrap_or(&args.reference);
    let reference = Reference::parse(text)?;
    let dest = match &args.dest {
        Some(dest) => ImageLocation::parse(dest)?,
        None => ImageLocation::Oci {
            dir: PathBuf::from(reference.short_name()),
            tag: Some(
                reference
                    .tag()
                    .unwrap_or(slipway_registry::DEFAULT_TAG)
                    .to_owned(),
            ),
        },
    };
    if matches!(dest, ImageLocation::Docker(_)) {
        anyhow::bail!("`slipway pull` writes local images; use `slipway copy` for `{dest}`");
    }
    let options = CopyOptions {
        platform: args.platform.as_deref().map(Platform::parse).transpose()?,
        reporter: reporter(),
        preserve_digests: args.preserve_digests,
    };
    let digest = slipway_registry::copy_blocking(
        &args.registry.client_options()?,
        &ImageLocation::Docker(reference.clone()),
        &dest,
        &options,
    )
    .with_context(|| format!("pulling `{reference}` into `{dest}`"))?;
    println!("{digest}");
    Ok(())
}

/// Progress bars on stderr when it is a terminal (and `NO_COLOR` is only about colour).
pub(crate) fn reporter() -> Arc<dyn Reporter> {
    if std::io::stderr().is_terminal() {
        Arc::new(Bars::default())
    } else {
        Arc::new(NoReporter)
    }
}

/// One indicatif bar per blob.
#[derive(Default)]
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn with_bar(&self, digest: &str, f: impl FnOnce(&ProgressBar)) {
        if let Ok(bars) = self.bars.lock()
            && let Some(bar) = bars.get(digest)
        {
            f(bar);
        }
    }
}

impl Reporter for Bars {
    fn blob_start(&self, digest: &str, size: u64) {
        let bar = self.multi.add(ProgressBar::new(size));
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        let short = digest.trim_start_matches("sha256:");
        bar.set_prefix(short.get(..12).unwrap_or(short).to_owned());
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(digest.to_owned(), bar);
        }
    }

    fn blob_progress(&self, digest: &str, bytes: u64) {
        self.with_bar(digest, |b| b.inc(bytes));
    }

    fn blob_restart(&self, digest: &str, offset: u64) {
        self.with_bar(digest, |b| b.set_position(offset));
    }

    fn blob_done(&self, digest: &str, _skipped: bool) {
        let bar = self.bars.lock().ok().and_then(|mut b| b.remove(digest));
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    }
}
