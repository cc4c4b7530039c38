//! The debootstrap builder rootfs (stands in for CentOS 6.9) and its OCI image.
