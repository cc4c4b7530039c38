//! Client for the OCI distribution API (Docker Hub and compatible registries):
//! pull, push, auth.
//!
//! Async on tokio + reqwest inside; blocking wrappers ([`pull_blocking`],
//! [`push_blocking`], [`copy_blocking`]) for the CLI and the build driver, so
//! the rest of slipway stays synchronous.
//!
//! ```no_run
//! use slipway_registry::{ClientOptions, PullOptions, Platform, Reference, pull_blocking};
//!
//! let reference = Reference::parse("i386/centos:6")?;
//! let options = PullOptions { platform: Some(Platform::parse("linux/386")?), ..Default::default() };
//! let pulled = pull_blocking(&ClientOptions::default(), &reference, "centos-oci".as_ref(), &options)?;
//! println!("{} config {}", pulled.manifest.digest, pulled.config_digest);
//! # Ok::<(), slipway_registry::Error>(())
//! ```
#![warn(missing_docs)]

mod auth;
mod client;
mod digest;
mod error;
mod layout;
pub mod manifest;
mod platform;
mod pull;
mod push;
mod reference;
mod reporter;
mod transport;

use std::future::Future;
use std::path::Path;

pub use auth::{
    Challenge, CredentialSource, Credentials, lookup_in_file, parse_token_response,
    repository_scope, token_url,
};
pub use client::{Client, ClientOptions, Session};
pub use digest::{sha256_digest, validate_digest};
pub use error::{Error, Result};
pub use layout::{BlobWriter, Layout, REF_NAME};
pub use platform::{Platform, select as select_platform};
pub use pull::{DockerManifests, FetchedManifest, PullOptions, Pulled, pull, resolve_image};
pub use push::{BlobPush, PushOptions, push};
pub use reference::{DEFAULT_TAG, DOCKER_HUB, DOCKER_HUB_API, Reference};
pub use reporter::{NoReporter, Reporter};
pub use transport::{CopyOptions, ImageLocation, copy};

/// Run `future` to completion on a fresh multi-threaded tokio runtime.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime(format!("cannot start tokio: {e}")))?;
    Ok(runtime.block_on(future))
}

/// Pull `reference` into the OCI layout at `layout_dir` (created if needed).
pub fn pull_blocking(
    client_options: &ClientOptions,
    reference: &Reference,
    layout_dir: &Path,
    options: &PullOptions,
) -> Result<Pulled> {
    let client = Client::new(client_options.clone())?;
    let layout = Layout::create_or_open(layout_dir)?;
    block_on(async {
        let session = client.session(reference, false, &[])?;
        pull(&session, reference, &layout, options).await
    })?
}

/// Push the image tagged `tag` (or the only one) of the layout at
/// `layout_dir` to `target`; returns the manifest digest.
pub fn push_blocking(
    client_options: &ClientOptions,
    layout_dir: &Path,
    tag: Option<&str>,
    target: &Reference,
    options: &PushOptions,
) -> Result<String> {
    let client = Client::new(client_options.clone())?;
    let layout = Layout::open(layout_dir)?;
    let descriptor = layout.resolve(tag)?;
    block_on(async {
        let session = client.session(target, true, &options.mount_from)?;
        push(&session, &layout, &descriptor, target, options).await
    })?
}

/// Copy between two [`ImageLocation`]s; returns the manifest digest written.
pub fn copy_blocking(
    client_options: &ClientOptions,
    src: &ImageLocation,
    dst: &ImageLocation,
    options: &CopyOptions,
) -> Result<String> {
    let client = Client::new(client_options.clone())?;
    block_on(copy(&client, src, dst, options))?
}
