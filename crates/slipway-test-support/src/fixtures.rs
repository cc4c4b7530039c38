//! Fixture RPMs built by `rpmbuild` from `fixtures/` spec files, and yum repos made by `createrepo_c`.
