//! `from-image` inputs: a directory of an image built earlier, given to a
//! step read-only at [`MOUNT`].
//!
//! The directory is copied out of the image by `cp -a` run in the sandbox
//! over the image's trees, so the kernel's overlayfs merges the layers
//! (whiteouts and opaque directories included) rather than slipway.

use std::path::{Path, PathBuf};

use super::Built;
use super::store::{Store, key_hex};
use crate::error::{Error, Result};
use crate::model::{Image, Step};

/// Where a step sees its `from-image` directory.
pub(crate) const MOUNT: &str = "/inputs/from-image";

/// Copy `path` of the image `from` into the store's tmp (named after the
/// step's `key`) and return the directory; the caller removes it.
pub(crate) fn export(
    store: &Store,
    sandbox: &slipway_sandbox::Sandbox,
    image: &Image,
    step: &Step,
    from: &Built,
    path: &str,
    key: &str,
) -> Result<PathBuf> {
    let target = store.tmp().join(format!("from-image-{}", key_hex(key)));
    if target.exists() {
        fs_err::remove_dir_all(&target).map_err(|e| Error::io(&target, e))?;
    }
    let src = format!("{}/.", path.trim_end_matches('/'));
    let copy = slipway_sandbox::Step::new(
        format!("{}/{} (from-image {path})", image.name, step.name),
        ["cp", "-a", src.as_str(), "/.slipway-from-image"],
    );
    let outcome = sandbox
        .run(&slipway_sandbox::Base::Overlay(from.lowers.clone()), &copy)
        .map_err(|source| Error::Step {
            image: image.name.clone(),
            step: format!("{} (from-image {path})", step.name),
            source,
        })?;
    let copied = outcome.upper().join(".slipway-from-image");
    if !Path::new(&copied).is_dir() {
        return Err(Error::Build {
            what: format!("{}: from-image `{path}`", step.loc),
            message: "is not a directory in the image".into(),
        });
    }
    fs_err::rename(&copied, &target).map_err(|e| Error::io(&target, e))?;
    Ok(target)
}
