//! Yum repositories: .repo files, repodata, dependency resolution, lock files, verified downloads.
#![warn(missing_docs)]
