//! One multi-platform image index from several single-platform images: what
//! `slipway build --index NAME=IMAGE,IMAGE…` writes (manylinux2010 =
//! x86_64 + i686), as `docker buildx imagetools create` or a BuildKit
//! multi-platform build would.

use oci_spec::image::{
    Arch, Descriptor, ImageIndexBuilder, MediaType, Os, PlatformBuilder, SCHEMA_VERSION,
};

use crate::transport::copy_blob;
use crate::{Error, Image, OciLayout, Result, canonical_json};

/// Write into `dest` an OCI image index whose manifests are `images` (each an
/// image in its own layout), in the order given, each with the platform of
/// its config, and tag the index `tag`; every blob the images need is copied
/// (verified) into `dest`. Returns the index descriptor.
///
/// Two images with the same platform are refused: a client choosing by
/// platform could not tell them apart.
pub fn write_platform_index(
    dest: &OciLayout,
    tag: &str,
    images: &[(&OciLayout, &Image)],
) -> Result<Descriptor> {
    let mut manifests = Vec::with_capacity(images.len());
    let mut seen = Vec::new();
    for (layout, image) in images {
        let platform = image.config.platform();
        if seen.contains(&platform) {
            return Err(Error::invalid(
                format!("image index `{tag}`"),
                format!("two of its images are for {platform}"),
            ));
        }
        for blob in std::iter::once(image.descriptor.clone()).chain(image.blobs()) {
            copy_blob(layout, dest, &blob)?;
        }
        let mut builder = PlatformBuilder::default()
            .os(Os::from(platform.os.as_str()))
            .architecture(Arch::from(platform.architecture.as_str()));
        if let Some(variant) = &platform.variant {
            builder = builder.variant(variant.clone());
        }
        let oci_platform = builder
            .build()
            .map_err(|e| Error::invalid(format!("platform {platform}"), e.to_string()))?;
        let mut descriptor = Descriptor::new(
            MediaType::ImageManifest,
            image.descriptor.size(),
            image.descriptor.digest().clone(),
        );
        descriptor.set_platform(Some(oci_platform));
        manifests.push(descriptor);
        seen.push(platform);
    }
    let index = ImageIndexBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests)
        .build()
        .map_err(|e| Error::invalid(format!("image index `{tag}`"), e.to_string()))?;
    let descriptor = dest.write_blob(&canonical_json(&index)?, MediaType::ImageIndex)?;
    dest.add_manifest(&descriptor, Some(tag))?;
    Ok(descriptor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ImageConfig, Platform, write_image};

    fn image_for(dir: &std::path::Path, platform: &str) -> (OciLayout, Image) {
        let layout = OciLayout::create(dir.join(platform.replace('/', "-"))).unwrap();
        let config = ImageConfig::new(&Platform::parse(platform).unwrap(), 0);
        write_image(&layout, &config, &[], Some("latest")).unwrap();
        let image = Image::load(&layout, Some("latest")).unwrap();
        (layout, image)
    }

    #[test]
    fn an_index_lists_each_image_with_its_platform_and_loads_by_platform() {
        let dir = tempfile::tempdir().unwrap();
        let (amd64_layout, amd64) = image_for(dir.path(), "linux/amd64");
        let (i386_layout, i386) = image_for(dir.path(), "linux/386");
        let dest = OciLayout::create(dir.path().join("index")).unwrap();
        let images = [(&amd64_layout, &amd64), (&i386_layout, &i386)];
        let index = write_platform_index(&dest, "latest", &images).unwrap();
        assert_eq!(index.media_type(), &MediaType::ImageIndex);
        assert_eq!(
            dest.resolve(Some("latest")).unwrap().digest(),
            index.digest()
        );
        for (platform, image) in [("linux/386", &i386), ("linux/amd64", &amd64)] {
            let chosen =
                Image::load_for(&dest, Some("latest"), &Platform::parse(platform).unwrap())
                    .unwrap();
            assert_eq!(
                chosen.descriptor.digest(),
                image.descriptor.digest(),
                "{platform}"
            );
        }
        // The same images give the same index bytes.
        let again = OciLayout::create(dir.path().join("again")).unwrap();
        assert_eq!(
            write_platform_index(&again, "latest", &images)
                .unwrap()
                .digest(),
            index.digest()
        );
    }

    #[test]
    fn two_images_of_one_platform_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (layout, image) = image_for(dir.path(), "linux/amd64");
        let dest = OciLayout::create(dir.path().join("index")).unwrap();
        let err = write_platform_index(&dest, "multi", &[(&layout, &image), (&layout, &image)])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("two of its images are for linux/amd64"),
            "{err}"
        );
    }
}
