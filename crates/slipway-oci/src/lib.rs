//! OCI image layouts, deterministic layers, image config/manifest/index, oci-archive and docker-archive.
#![warn(missing_docs)]
