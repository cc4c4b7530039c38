//! The checked recipe: what `Recipe::load` returns after validation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::Loc;

/// All images of a recipe directory, in dependency order (an image comes
/// after its base and after the images it copies from).
#[derive(Debug, Clone)]
pub struct Recipe {
    /// The recipe directory (e.g. `layers/`).
    pub root: PathBuf,
    /// The images, bases first.
    pub images: Vec<Image>,
}

/// One image: a base, repositories, sources, ordered steps and a config.
#[derive(Debug, Clone)]
pub struct Image {
    /// The image name (the file stem unless `name` says otherwise).
    pub name: String,
    /// Where the image is defined.
    pub loc: Loc,
    /// One line of description.
    pub description: Option<String>,
    /// Whether the image is an output (`false` for builder stages).
    pub publish: bool,
    /// What the image starts from.
    pub base: Base,
    /// Where `[base]` is written.
    pub base_loc: Loc,
    /// The image's platform.
    pub platform: Platform,
    /// The personality steps run under unless they say otherwise.
    pub personality: Personality,
    /// `SOURCE_DATE_EPOCH` for layer mtimes and config timestamps.
    pub source_date_epoch: i64,
    /// yum's `$releasever` for the image's repositories; `None`: read from the
    /// rootfs a package step runs over (`/etc/redhat-release`'s major
    /// version, else `/etc/os-release`'s `VERSION_ID`).
    pub releasever: Option<String>,
    /// Repositories the package steps resolve against.
    pub repos: Vec<Repo>,
    /// Files fetched (and verified) before any step runs.
    pub sources: Vec<Source>,
    /// The steps, in recipe (= layer) order.
    pub steps: Vec<Step>,
    /// The image config.
    pub config: ImageConfig,
}

impl Image {
    /// The source called `name`.
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }
    /// The step called `name`.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }
}

/// The fixed `SOURCE_DATE_EPOCH` when a recipe sets none (2018-04-01, the
/// time of the manylinux2010 work).
pub const DEFAULT_SOURCE_DATE_EPOCH: i64 = 1_522_540_800;

/// What an image starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// An image from a registry; pinned to a digest by the reference itself
    /// (`…@sha256:…`) or by `slipway lock`.
    Registry {
        /// The reference as written, e.g. `docker.io/library/centos:6.9`.
        reference: String,
        /// The platform to pick from a manifest list.
        platform: Platform,
    },
    /// Another image of the same recipe.
    Image(String),
}

impl Base {
    /// The digest the reference itself carries (`…@sha256:…`), if any.
    pub fn pinned_digest(&self) -> Option<&str> {
        match self {
            Base::Registry { reference, .. } => reference.split_once('@').map(|(_, d)| d),
            Base::Image(_) => None,
        }
    }
}

/// An OCI platform the recipes support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Platform {
    /// `linux/amd64`.
    LinuxAmd64,
    /// `linux/386`.
    Linux386,
}

impl Platform {
    /// Parse `linux/amd64` or `linux/386`.
    pub fn parse(s: &str) -> Option<Platform> {
        match s {
            "linux/amd64" => Some(Platform::LinuxAmd64),
            "linux/386" => Some(Platform::Linux386),
            _ => None,
        }
    }
    /// The OCI `os/architecture` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "linux/amd64",
            Platform::Linux386 => "linux/386",
        }
    }
    /// The OCI architecture (`amd64`, `386`).
    pub fn architecture(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "amd64",
            Platform::Linux386 => "386",
        }
    }
    /// yum's `$basearch` for CentOS on this platform.
    pub fn yum_basearch(self) -> &'static str {
        match self {
            Platform::LinuxAmd64 => "x86_64",
            Platform::Linux386 => "i386",
        }
    }
}

/// The process personality a step runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Personality {
    /// The host's (`uname -m` = `x86_64`).
    Linux64,
    /// `PER_LINUX32` (`linux32`; `uname -m` = `i686`).
    Linux32,
}

impl Personality {
    /// Parse `linux64` or `linux32`.
    pub fn parse(s: &str) -> Option<Personality> {
        match s {
            "linux64" => Some(Personality::Linux64),
            "linux32" => Some(Personality::Linux32),
            _ => None,
        }
    }
    /// `linux64` or `linux32`.
    pub fn as_str(self) -> &'static str {
        match self {
            Personality::Linux64 => "linux64",
            Personality::Linux32 => "linux32",
        }
    }
}

/// A yum repository definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// A name for messages and the plan.
    pub name: String,
    /// Where the `.repo` text comes from.
    pub kind: RepoKind,
    /// Where the repo is declared.
    pub loc: Loc,
}

/// Where a repository's `.repo` text comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoKind {
    /// A `.repo` file kept in the recipe directory (path relative to it).
    File(PathBuf),
    /// A `.repo` file fetched as the named source.
    Source(String),
    /// A release RPM (the named source, e.g. `epel-release`): it is installed
    /// by the first package step and the `.repo` files in its payload are used.
    Rpm(String),
}

/// A file fetched into the store before the steps run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The name steps use in `inputs`.
    pub name: String,
    /// The upstream URL.
    pub url: String,
    /// The expected sha256 (hex); `None` means `slipway lock` pins it (after
    /// checking `asc` when given).
    pub sha256: Option<String>,
    /// The file name in the store and under `/inputs/<name>/` (default: the
    /// last URL path segment).
    pub file_name: String,
    /// URL of a detached OpenPGP signature.
    pub asc: Option<String>,
    /// The source holding the keyring `asc` is checked against.
    pub keyring: Option<String>,
    /// Where the source is declared.
    pub loc: Loc,
}

/// One step: a layer of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Unique within the image.
    pub name: String,
    /// Where the step is declared.
    pub loc: Loc,
    /// One line of description.
    pub description: Option<String>,
    /// What the step does.
    pub action: Action,
    /// Sources mounted read-only at `/inputs/<name>/<file>`.
    pub inputs: Vec<String>,
    /// A directory of another image mounted read-only at `/inputs/<image>`.
    pub from_image: Option<FromImage>,
    /// Extra environment (on top of the image config's env).
    pub env: BTreeMap<String, String>,
    /// Whether the step may use the network.
    pub network: bool,
    /// The personality the step runs under.
    pub personality: Personality,
    /// The steps whose layers the step runs over (all earlier steps unless
    /// `depends-on` narrows it), transitively closed, in recipe order.
    pub depends_on: Vec<String>,
    /// Paths whose changes are not captured in the layer (e.g. `/tmp`).
    pub transient: Vec<String>,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run a shell script from the recipe directory in the sandbox.
    Script(PathBuf),
    /// Package operations, in order.
    Packages(Vec<PackageOp>),
    /// Unpack a source RPM into `topdir`, add a patch to its spec (next free
    /// `PatchN`, `%patchN -pSTRIP [-E]`, release suffix) — done by
    /// `slipway-vsyscall`.
    SrpmPatch(SrpmPatch),
}

/// One package operation, as `yum` would do it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageOp {
    /// `yum install` of package specs (`name`, `name-version-release`).
    Install(Vec<String>),
    /// `yum install` of RPM files matched by globs under the step's `from-image` input.
    InstallLocal(Vec<String>),
    /// `yum update` of the given specs (`*` = everything).
    Update(Vec<String>),
    /// `yum erase`.
    Erase(Vec<String>),
    /// `yum-builddep` of the source RPM held by the named source.
    BuildDep(String),
    /// `yum clean all`.
    Clean,
}

/// The parameters of an [`Action::SrpmPatch`] step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrpmPatch {
    /// The source holding the `.src.rpm`.
    pub srpm: String,
    /// The source holding the patch.
    pub patch: String,
    /// `-pN` for `%patch`.
    pub strip: u32,
    /// `-E` for `%patch` (the patch deletes files).
    pub remove_empty_files: bool,
    /// Appended to the release (`1.209` → `1.209.1`).
    pub release_suffix: String,
    /// The `%_topdir` to unpack into.
    pub topdir: String,
}

/// A directory of another image used as a step input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromImage {
    /// The image.
    pub image: String,
    /// The absolute path inside it.
    pub path: String,
}

/// The OCI image config fields a recipe sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// Environment; `$NAME` in a value expands from the base image's env.
    pub env: BTreeMap<String, String>,
    /// `Entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// `Cmd`.
    pub cmd: Option<Vec<String>>,
    /// `Labels`.
    pub labels: BTreeMap<String, String>,
    /// `WorkingDir`.
    pub workdir: Option<String>,
    /// `User`.
    pub user: Option<String>,
}
