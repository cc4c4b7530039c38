//! Bases: an image built earlier in the same build, or a registry image
//! pulled by its pinned digest into the store and unpacked (once per
//! manifest digest) into the tree every step runs over.

use std::collections::BTreeMap;
use std::path::PathBuf;

use slipway_oci::oci_spec::image::MediaType;
use slipway_oci::{Digest, OciLayout};
use slipway_recipe::Image;
use slipway_recipe::plan::{BasePlan, ImagePlan};

use crate::driver::{Built, Driver, LayerRef};
use crate::error::{Error, Result, build_err};
use crate::report::Event;
use crate::store::key_hex;

fn oci_media_type(media_type: &MediaType) -> MediaType {
    let text = media_type.to_string();
    if text.contains("zstd") {
        MediaType::ImageLayerZstd
    } else if text.contains("gzip") {
        MediaType::ImageLayerGzip
    } else {
        MediaType::ImageLayer
    }
}

/// A registry base as the plan pins it.
struct Pinned<'a> {
    image: &'a Image,
    reference: &'a str,
    digest: String,
    platform: slipway_oci::Platform,
}

impl Driver<'_> {
    /// The base of `image`: the image `built` earlier, or the pinned
    /// registry base, pulled and unpacked when the store does not have it.
    pub(crate) fn prepare_base(
        &self,
        image: &Image,
        plan: &ImagePlan,
        built: &BTreeMap<String, Built>,
    ) -> Result<Built> {
        let (reference, platform, digest) = match &plan.base {
            BasePlan::Image { name, .. } => {
                return built
                    .get(name)
                    .cloned()
                    .ok_or_else(|| build_err(format!("base image `{name}`"), "not built"));
            }
            BasePlan::Registry {
                reference,
                platform,
                digest,
            } => (reference, platform, digest),
        };
        let digest = digest.clone().ok_or_else(|| Error::Unpinned {
            what: format!("base `{reference}` of image `{}`", image.name),
        })?;
        let pinned = Pinned {
            image,
            reference,
            digest,
            platform: slipway_oci::Platform::parse(platform.as_str())?,
        };
        let layout_dir = self.store.base_layout(&pinned.digest);
        if !layout_dir.join("index.json").exists() {
            self.pull_base(&pinned, &layout_dir)?;
        }
        let layout = OciLayout::open(&layout_dir)?;
        let base = slipway_oci::Image::load_for(&layout, Some("base"), &pinned.platform)?;
        let manifest_digest = base.digest()?.to_string();
        self.reporter.event(&Event::Base {
            image: &image.name,
            digest: &manifest_digest,
        });
        if base.diff_ids()?.len() != base.layers().len() {
            return Err(build_err(
                format!("base `{reference}`"),
                "the config's diff_ids do not match the manifest's layers",
            ));
        }
        let mut layers = Vec::new();
        for descriptor in base.layers() {
            let d = Digest::try_from(descriptor.digest())?;
            let mut descriptor = descriptor.clone();
            descriptor.set_media_type(oci_media_type(descriptor.media_type()));
            layers.push(LayerRef {
                blob: layout.blob_path(&d),
                descriptor,
            });
        }
        let tree = self.base_tree(reference, &layout, &base, &manifest_digest)?;
        Ok(Built {
            layers,
            config: base.config.clone(),
            lowers: vec![tree],
            runtime_key: None,
            planned_key: String::new(),
        })
    }

    /// Pull `pinned` into `layout_dir` (through a temporary directory),
    /// checking the digest.
    fn pull_base(&self, pinned: &Pinned<'_>, layout_dir: &std::path::Path) -> Result<()> {
        let Pinned {
            image,
            reference,
            digest,
            platform,
        } = pinned;
        if self.store.offline {
            return Err(Error::Offline {
                what: format!("base `{reference}` ({digest}) of image `{}`", image.name),
                instead: "build once with the network".into(),
            });
        }
        let pull_err = |source| Error::Pull {
            reference: (*reference).to_owned(),
            source,
        };
        let parsed = slipway_registry::Reference::parse(reference)
            .map_err(pull_err)?
            .with_digest(digest);
        let pull = slipway_registry::PullOptions {
            platform: Some(platform.clone()),
            tag: Some("base".into()),
            ..Default::default()
        };
        let tmp = self.store.tmp().join(format!("pull-{}", key_hex(digest)));
        let _ = fs_err::remove_dir_all(&tmp);
        let pulled = slipway_registry::pull_blocking(&self.options.registry, &parsed, &tmp, &pull)
            .map_err(pull_err)?;
        let got = pulled.manifest.digest.to_string();
        if &got != digest && pulled.index_digest.as_deref() != Some(digest.as_str()) {
            return Err(Error::DigestMismatch {
                what: format!("base `{reference}`"),
                expected: digest.clone(),
                actual: got,
            });
        }
        let _ = fs_err::remove_dir_all(layout_dir);
        fs_err::rename(&tmp, layout_dir).map_err(|e| Error::io(layout_dir, e))
    }

    /// The base merged into one tree, unpacked once per manifest digest: the
    /// bottom lower directory of every step.
    fn base_tree(
        &self,
        reference: &str,
        layout: &OciLayout,
        base: &slipway_oci::Image,
        manifest_digest: &str,
    ) -> Result<PathBuf> {
        let tree = self.store.base_tree(manifest_digest);
        if tree.is_dir() {
            return Ok(tree);
        }
        let tmp = self
            .store
            .tmp()
            .join(format!("unpack-{}", key_hex(manifest_digest)));
        let _ = fs_err::remove_dir_all(&tmp);
        fs_err::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        // slipway-oci's unpack: digests and diff ids checked, whiteouts
        // applied, nothing written outside the tree.
        let unpacked =
            slipway_oci::unpack(layout, base, &tmp, &slipway_oci::UnpackOptions::default())?;
        if let Some(refused) = unpacked.refused.first() {
            return Err(build_err(
                format!("base `{reference}`"),
                format!(
                    "layer {} entry `{}` cannot be applied: {} ({} refused in all)",
                    refused.layer,
                    refused.path,
                    refused.reason,
                    unpacked.refused.len()
                ),
            ));
        }
        fs_err::rename(&tmp, &tree).map_err(|e| Error::io(&tree, e))?;
        Ok(tree)
    }
}
