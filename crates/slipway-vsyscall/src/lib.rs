//! Rebuild glibc without vsyscall use (source RPM spec patching) and audit ELF files for vsyscall references.
#![warn(missing_docs)]
