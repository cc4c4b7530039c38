//! `from-image` inputs: a directory of an image built earlier, given to a
//! step read-only at [`MOUNT`].
//!
//! The directory is copied out of the image by `cp -a` run in the sandbox
//! over the image's trees, so the kernel's overlayfs merges the layers
//! (whiteouts and opaque directories included) rather than slipway.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result, build_err};
use crate::steps::StepJob;
use crate::store::key_hex;

/// Where a step sees its `from-image` directory.
pub(crate) const MOUNT: &str = "/inputs/from-image";

impl StepJob<'_> {
    /// The step's `from-image` directory, copied out of its image into the
    /// store's tmp (named after the step's key); `None` for a step without
    /// one. The caller removes it.
    pub(crate) fn export_from_image(&self) -> Result<Option<PathBuf>> {
        let (Some(f), Some(from)) = (&self.step.from_image, self.from) else {
            return Ok(None);
        };
        let (store, image, step, path) = (self.cx.store, self.cx.image, self.step, &f.path);
        let target = store
            .tmp()
            .join(format!("from-image-{}", key_hex(&self.plan.key)));
        if target.exists() {
            fs_err::remove_dir_all(&target).map_err(|e| Error::io(&target, e))?;
        }
        let src = format!("{}/.", path.trim_end_matches('/'));
        let copy = slipway_sandbox::Step::new(
            format!("{}/{} (from-image {path})", image.name, step.name),
            ["cp", "-a", src.as_str(), "/.slipway-from-image"],
        );
        let outcome = self
            .cx
            .sandbox
            .run(&slipway_sandbox::Base::Overlay(from.lowers.clone()), &copy)
            .map_err(|source| Error::Step {
                image: image.name.clone(),
                step: format!("{} (from-image {path})", step.name),
                source,
            })?;
        let copied = outcome.upper().join(".slipway-from-image");
        if !Path::new(&copied).is_dir() {
            return Err(build_err(
                format!("{}: from-image `{path}`", step.loc),
                "is not a directory in the image",
            ));
        }
        fs_err::rename(&copied, &target).map_err(|e| Error::io(&target, e))?;
        Ok(Some(target))
    }
}
