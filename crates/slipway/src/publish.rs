//! Publishing what `slipway build` wrote into OCI layouts: multi-platform
//! indexes (`--index NAME=IMAGE,IMAGE…`) and pushes to a registry
//! (`--output docker://HOST/REPO/{image}:TAG`).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context as _, bail};
use slipway_oci::{Image, OciLayout};
use slipway_registry::{ClientOptions, PushOptions, Reference};

/// In an output's name: one output per image, named after it.
pub(crate) const IMAGE_PLACEHOLDER: &str = "{image}";

/// `--index NAME=IMAGE,IMAGE…`: an image index `NAME` joining the named
/// single-platform images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexSpec {
    /// The index's name (its layout directory, or `{image}` of a push).
    pub(crate) name: String,
    /// The images it joins, in order.
    pub(crate) images: Vec<String>,
}

impl FromStr for IndexSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "`{text}` is not `NAME=IMAGE,IMAGE…` (e.g. `manylinux2010=manylinux2010_x86_64,manylinux2010_i686`)"
            )
        };
        let (name, images) = text.split_once('=').ok_or_else(usage)?;
        let images: Vec<String> = images.split(',').map(|s| s.trim().to_owned()).collect();
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !valid(name) || images.iter().any(|i| !valid(i)) {
            return Err(usage());
        }
        Ok(IndexSpec {
            name: name.to_owned(),
            images,
        })
    }
}

/// One image or index written by the build: its name and its layout (tag
/// `latest`).
#[derive(Debug, Clone)]
pub(crate) struct Written {
    /// The image's (or index's) name.
    pub(crate) name: String,
    /// Its OCI layout directory.
    pub(crate) layout: PathBuf,
}

/// Check before a build that every image an index names is built and
/// published, so a typo fails before hours of compiling.
pub(crate) fn check_indexes(specs: &[IndexSpec], published: &[String]) -> anyhow::Result<()> {
    for spec in specs {
        if published.contains(&spec.name) {
            bail!(
                "`--index {}=…` has the name of an image of the recipe; choose another name",
                spec.name
            );
        }
        for image in &spec.images {
            if !published.contains(image) {
                bail!(
                    "`--index {}` names `{image}`, which this build does not publish (it \
                     publishes: {})",
                    spec.name,
                    published.join(", ")
                );
            }
        }
    }
    Ok(())
}

/// Write each index into `out_dir/<name>` (tag `latest`) from the built
/// images' layouts.
pub(crate) fn write_indexes(
    specs: &[IndexSpec],
    built: &[Written],
    out_dir: &Path,
) -> anyhow::Result<Vec<Written>> {
    let mut written = Vec::new();
    for spec in specs {
        let mut images = Vec::new();
        for name in &spec.images {
            let Some(w) = built.iter().find(|w| &w.name == name) else {
                bail!("`--index {}`: image `{name}` was not built", spec.name);
            };
            let layout = OciLayout::open(&w.layout)?;
            let image = Image::load(&layout, Some("latest"))?;
            images.push((layout, image));
        }
        let path = out_dir.join(&spec.name);
        let dest = OciLayout::create(&path)?;
        let pairs: Vec<(&OciLayout, &Image)> = images.iter().map(|(l, i)| (l, i)).collect();
        let descriptor = slipway_oci::write_platform_index(&dest, "latest", &pairs)
            .with_context(|| format!("writing the image index `{}`", spec.name))?;
        println!(
            "{} {} oci:{}:latest",
            spec.name,
            descriptor.digest(),
            path.display()
        );
        written.push(Written {
            name: spec.name.clone(),
            layout: path,
        });
    }
    Ok(written)
}

/// The registry reference `template` (`docker://HOST/REPO/{image}:TAG`, the
/// prefix optional) names for `name`.
pub(crate) fn push_target(template: &str, name: &str) -> anyhow::Result<Reference> {
    let text = template.strip_prefix("docker://").unwrap_or(template);
    let text = text.replace(IMAGE_PLACEHOLDER, name);
    Reference::parse(&text).with_context(|| format!("`--output {template}`"))
}

/// Push every written image and index to the reference `template` names for
/// it; prints `NAME DIGEST docker://REF` for each.
pub(crate) fn push_all(
    template: &str,
    written: &[Written],
    client: &ClientOptions,
    push: &PushOptions,
) -> anyhow::Result<()> {
    if written.len() > 1 && !template.contains(IMAGE_PLACEHOLDER) {
        bail!(
            "`--output {template}` names one repository but {} images were built; put \
             `{IMAGE_PLACEHOLDER}` in it (`docker://HOST/REPO/{IMAGE_PLACEHOLDER}:TAG`) or name one image",
            written.len()
        );
    }
    for w in written {
        let target = push_target(template, &w.name)?;
        let digest =
            slipway_registry::push_blocking(client, &w.layout, Some("latest"), &target, push)
                .with_context(|| format!("pushing `{}` to `{target}`", w.name))?;
        println!("{} {digest} docker://{target}", w.name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_specs_parse_and_bad_ones_say_the_shape() {
        let spec: IndexSpec = "manylinux2010=manylinux2010_x86_64,manylinux2010_i686"
            .parse()
            .unwrap();
        assert_eq!(spec.name, "manylinux2010");
        assert_eq!(spec.images, ["manylinux2010_x86_64", "manylinux2010_i686"]);
        for bad in ["noequals", "=a,b", "x=", "x=a,,b", "x/y=a"] {
            let err = bad.parse::<IndexSpec>().unwrap_err();
            assert!(err.contains("NAME=IMAGE,IMAGE"), "{bad}: {err}");
        }
    }

    #[test]
    fn an_index_of_an_image_not_built_fails_before_the_build() {
        let spec: IndexSpec = "multi=a,b".parse().unwrap();
        let err = check_indexes(std::slice::from_ref(&spec), &["a".into()]).unwrap_err();
        assert!(err.to_string().contains("names `b`"), "{err}");
        check_indexes(&[spec], &["a".into(), "b".into()]).unwrap();
        let same: IndexSpec = "a=a,b".parse().unwrap();
        assert!(check_indexes(&[same], &["a".into(), "b".into()]).is_err());
    }

    #[test]
    fn push_targets_fill_in_the_image_name() {
        let r = push_target("docker://127.0.0.1:5000/pypa/{image}:2026", "manylinux2010").unwrap();
        assert_eq!(r.to_string(), "127.0.0.1:5000/pypa/manylinux2010:2026");
    }
}
