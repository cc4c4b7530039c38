//! Client for the OCI distribution API (Docker Hub and compatible registries): pull, push, auth.
#![warn(missing_docs)]
