//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while editing a spec, rebuilding a source RPM
/// or auditing ELF files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The spec has no `%prep` section, so there is nowhere to apply a patch.
    #[error("spec has no `%prep` section: cannot add a `%patch` line")]
    SpecNoPrep,

    /// The spec has more than one `%prep` section.
    #[error("spec has two `%prep` sections (lines {first} and {second})")]
    SpecTwoPreps {
        /// Line (1-based) of the first `%prep`.
        first: usize,
        /// Line (1-based) of the second `%prep`.
        second: usize,
    },

    /// `%prep` applies patches in a way the editor does not rewrite.
    #[error(
        "spec line {line}: `{macro_name}` in `%prep` is unsupported: the editor only adds \
         `%patchN` lines after `%setup`/`%patch` lines"
    )]
    SpecUnsupportedPrep {
        /// Line (1-based) of the macro.
        line: usize,
        /// The macro found, e.g. `%autosetup`.
        macro_name: String,
    },

    /// `%prep` has neither a `%patch` nor a `%setup` line to add a patch after.
    #[error("spec `%prep` (line {line}) has no `%setup` or `%patch` line to add a patch after")]
    SpecNoSetupOrPatch {
        /// Line (1-based) of `%prep`.
        line: usize,
    },

    /// The spec has no `Release:` tag in its main preamble.
    #[error("spec has no `Release:` tag in its main preamble")]
    SpecNoRelease,

    /// The release is defined twice with different values.
    #[error(
        "spec defines the release twice: line {first_line} `{first}` and line {second_line} \
         `{second}` conflict"
    )]
    SpecConflictingRelease {
        /// Line (1-based) of the first definition.
        first_line: usize,
        /// Text of the first definition.
        first: String,
        /// Line (1-based) of the second definition.
        second_line: usize,
        /// Text of the second definition.
        second: String,
    },

    /// The release value (or the macro it uses) has no literal number to bump.
    #[error("spec line {line}: release `{value}` has no literal number to bump")]
    SpecReleaseNotBumpable {
        /// Line (1-based) of the definition.
        line: usize,
        /// The release value.
        value: String,
    },

    /// A patch file name is not usable in a spec.
    #[error("patch file name `{name}` is not a plain file name")]
    BadPatchName {
        /// The offending name.
        name: String,
    },

    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),

    /// An RPM could not be parsed or unpacked.
    #[error("cannot read RPM `{path}`")]
    Rpm {
        /// The RPM file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<slipway_rpm::Error>,
    },

    /// The file given as a source RPM is a binary RPM.
    #[error("`{path}` is not a source RPM")]
    NotSourceRpm {
        /// The RPM file.
        path: PathBuf,
    },

    /// The source RPM holds no spec file or more than one.
    #[error("source RPM `{path}` holds {count} spec files, expected exactly one")]
    SpecCount {
        /// The RPM file.
        path: PathBuf,
        /// How many `.spec` files it holds.
        count: usize,
    },

    /// A file name in the source RPM payload would escape the topdir.
    #[error("source RPM `{path}` holds an unsafe file name `{name}`")]
    UnsafeName {
        /// The RPM file.
        path: PathBuf,
        /// The file name.
        name: String,
    },

    /// An external command (`rpmbuild`, `createrepo_c`) could not be started.
    #[error("cannot run `{program}`")]
    Spawn {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// An external command failed.
    #[error("`{command}` failed with {status}; its output ends with:\n{output_tail}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// The last lines of its stdout and stderr.
        output_tail: String,
    },

    /// The rebuild step in the sandbox failed.
    #[error("`rpmbuild` in the sandbox failed")]
    Sandbox(#[source] slipway_sandbox::Error),

    /// The rebuild produced no binary RPMs.
    #[error("`rpmbuild` produced no binary RPMs under `{dir}`")]
    NoBinaryRpms {
        /// The `RPMS/` directory searched.
        dir: PathBuf,
    },

    /// An ELF file or archive could not be parsed.
    #[error("cannot parse `{path}` as ELF: {message}")]
    Elf {
        /// The file (and archive member, if any).
        path: String,
        /// What the parser said.
        message: String,
    },

    /// An OCI layout or image could not be read.
    #[error("cannot read {what}: {message}")]
    Image {
        /// The layout, image or layer.
        what: String,
        /// What slipway-oci said.
        message: String,
    },

    /// A directory walk failed.
    #[error("cannot walk `{path}`")]
    Walk {
        /// The root of the walk.
        path: PathBuf,
        /// The cause.
        #[source]
        source: walkdir::Error,
    },
}
