//! Assembling an image: its config over its base's, the base's layers and
//! one layer per step, written to the store (always: the digest is the
//! image's identity) and, when the image is published, to its own OCI
//! layout in the output directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use slipway_oci::oci_spec::image::Descriptor;
use slipway_oci::{Digest, ImageConfig, OciLayout};
use slipway_recipe::Image;
use slipway_recipe::plan::ImagePlan;

use crate::driver::{Built, Driver, LayerRef};
use crate::error::{Error, Result, build_err};
use crate::report::{Event, ImageReport};
use crate::steps::StepLayer;
use crate::{key, store};

/// The image env with `$NAME` / `${NAME}` expanded from `base`.
fn expand(value: &str, base: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, tail) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], &inner[end + 1..]),
                None => ("", after),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
        } else {
            out.push_str(base.get(name).map(String::as_str).unwrap_or(""));
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

fn env_map(config: &ImageConfig) -> BTreeMap<String, String> {
    config
        .env()
        .into_iter()
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// The image config env of `image` over its base's.
pub(crate) fn image_env(image: &Image, base: &ImageConfig) -> BTreeMap<String, String> {
    let mut env = env_map(base);
    env.entry("PATH".into())
        .or_insert_with(|| slipway_sandbox::DEFAULT_PATH.to_owned());
    let base_env = env.clone();
    for (k, v) in &image.config.env {
        env.insert(k.clone(), expand(v, &base_env));
    }
    env
}

/// The config of `image`: its base's, with the recipe's platform, epoch,
/// env, entrypoint, cmd, labels, workdir and user.
fn image_config(image: &Image, base: &ImageConfig) -> Result<ImageConfig> {
    let mut config = base.clone();
    config.set_platform(&slipway_oci::Platform::parse(image.platform.as_str())?);
    config.set_created(image.source_date_epoch);
    let env = image_env(image, base);
    for (k, v) in &env {
        if image.config.env.contains_key(k) {
            config.set_env(k, v);
        }
    }
    if let Some(e) = &image.config.entrypoint {
        config.set_entrypoint(Some(e.clone()));
    }
    if let Some(c) = &image.config.cmd {
        config.set_cmd(Some(c.clone()));
    }
    for (k, v) in &image.config.labels {
        config.set_label(k, v);
    }
    if let Some(w) = &image.config.workdir {
        config.set_working_dir(w);
    }
    if let Some(u) = &image.config.user {
        config.set_user(u);
    }
    Ok(config)
}

impl Driver<'_> {
    /// Write `image` (its base plus `layers`, one per step of `plan`) to the
    /// store, and to the output directory when `publish`.
    pub(crate) fn assemble(
        &self,
        image: &Image,
        plan: &ImagePlan,
        base: Built,
        layers: Vec<StepLayer>,
        publish: bool,
    ) -> Result<(Built, ImageReport)> {
        let epoch = image.source_date_epoch;
        let mut config = image_config(image, &base.config)?;
        let blobs = self.store.blobs.open()?;
        let mut all = base.layers.clone();
        let mut lowers = base.lowers.clone();
        let mut steps = Vec::new();
        let mut keys = Vec::new();
        for (layer, step) in layers.into_iter().zip(&plan.steps) {
            let digest = Digest::try_from(layer.layer.descriptor.digest())?;
            let created_by = format!("slipway: {} ({})", step.name, step.action);
            config.append_layer(
                &Digest::from_sha256_hex(store::key_hex(&layer.layer.diff_id))?,
                &created_by,
                epoch,
            );
            all.push(LayerRef {
                blob: blobs.blob_path(&digest),
                descriptor: layer.layer.descriptor,
            });
            lowers.insert(0, self.store.tree(&layer.key));
            keys.push((step.key.clone(), layer.key));
            steps.push((step.name.clone(), layer.cached));
        }
        let runtime_key = key::image(&plan.key, base.runtime_key.as_deref(), &keys);
        let descriptors: Vec<Descriptor> = all.iter().map(|l| l.descriptor.clone()).collect();
        // Always written to the store (the digest is the image's identity), and
        // to the output directory when the image is published.
        let manifest = slipway_oci::write_manifest(&blobs, &config, &descriptors)?;
        let digest = manifest.digest().to_string();
        let path = match publish {
            true => Some(self.publish(image, &config, &all, &digest)?),
            false => None,
        };
        let built = Built {
            layers: all,
            config,
            lowers,
            runtime_key,
            planned_key: plan.key.clone(),
        };
        let report = ImageReport {
            name: image.name.clone(),
            digest,
            path,
            steps,
        };
        Ok((built, report))
    }

    /// Write the image into its own layout under the output directory
    /// (blobs hard-linked from the store where possible); its manifest must
    /// be the store's, `digest`.
    fn publish(
        &self,
        image: &Image,
        config: &ImageConfig,
        layers: &[LayerRef],
        digest: &str,
    ) -> Result<PathBuf> {
        let dir = self.options.output.join(&image.name);
        if dir.exists() {
            fs_err::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        let layout = OciLayout::create(&dir)?;
        for layer in layers {
            let d = Digest::try_from(layer.descriptor.digest())?;
            link_or_copy(&layer.blob, &layout.blob_path(&d))?;
        }
        let descriptors: Vec<Descriptor> = layers.iter().map(|l| l.descriptor.clone()).collect();
        let written = slipway_oci::write_image(&layout, config, &descriptors, Some("latest"))?;
        if written.digest().to_string() != digest {
            return Err(build_err(
                format!("image `{}`", image.name),
                "manifest differs between store and output",
            ));
        }
        self.reporter.event(&Event::Written {
            image: &image.name,
            digest,
            path: &dir,
        });
        Ok(dir)
    }
}

/// Hard-link `blob` to `target` (a copy across file systems), unless it is
/// there already.
fn link_or_copy(blob: &Path, target: &Path) -> Result<()> {
    if target.exists() {
        return Ok(());
    }
    if let Some(parent) = target.parent() {
        fs_err::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    if fs_err::hard_link(blob, target).is_err() {
        fs_err::copy(blob, target).map_err(|e| Error::io(target, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn env_expansion() {
        let base = [("PATH".to_owned(), "/usr/bin:/bin".to_owned())]
            .into_iter()
            .collect();
        assert_eq!(expand("/opt/bin:$PATH", &base), "/opt/bin:/usr/bin:/bin");
        assert_eq!(expand("${PATH}:/x", &base), "/usr/bin:/bin:/x");
        assert_eq!(expand("$NOPE-a", &base), "-a");
        assert_eq!(expand("cost $", &base), "cost $");
    }
}
