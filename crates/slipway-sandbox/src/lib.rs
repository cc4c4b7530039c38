//! Run build steps in Linux namespaces over a staged rootfs and capture their changes as OCI layers.
#![warn(missing_docs)]
