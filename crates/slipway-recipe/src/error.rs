//! The one error type of this crate.

use std::fmt;
use std::path::PathBuf;

/// Where something is in a recipe: a file (relative to the recipe directory)
/// and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    /// The file, relative to the recipe directory.
    pub file: PathBuf,
    /// The 1-based line.
    pub line: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// An optional "did you mean" suffix, printed as `` (did you mean `x`?)``.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Suggestion(pub Option<String>);

impl fmt::Display for Suggestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(s) => write!(f, " (did you mean `{s}`?)"),
            None => Ok(()),
        }
    }
}

/// Everything that can go wrong reading a recipe, planning it or reading
/// and checking its lock.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("cannot access `{path}`")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The recipe directory holds no image files.
    #[error("no image recipes (`*.toml`) in `{0}`")]
    NoImages(PathBuf),
    /// A file is not valid TOML or a value has the wrong type.
    #[error("{loc}: {message}")]
    Syntax {
        /// Where.
        loc: Loc,
        /// The parser's message.
        message: String,
    },
    /// A key the format does not know.
    #[error("{loc}: unknown key `{key}`{suggestion}")]
    UnknownKey {
        /// Where.
        loc: Loc,
        /// The key as written.
        key: String,
        /// The closest known key, if one is close.
        suggestion: Suggestion,
    },
    /// A file the recipe names does not exist.
    #[error("{loc}: `{key}` names `{path}`, which does not exist in the recipe directory")]
    MissingFile {
        /// Where.
        loc: Loc,
        /// The key naming the file.
        key: String,
        /// The path as written (relative to the recipe directory).
        path: String,
    },
    /// Images that are each other's base (directly or through `from-image`).
    #[error("{loc}: cycle between images: {chain}")]
    Cycle {
        /// Where the edge closing the cycle is written.
        loc: Loc,
        /// The images, `a -> b -> a`.
        chain: String,
    },
    /// A sha256 that is not 64 hex digits.
    #[error("{loc}: `{key}` is not a sha256: expected 64 lowercase hex digits, found `{value}`")]
    BadSha256 {
        /// Where.
        loc: Loc,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
    },
    /// Two things of one kind with the same name.
    #[error("{loc}: duplicate {kind} `{name}` (first defined at {first})")]
    Duplicate {
        /// Where the second one is.
        loc: Loc,
        /// `image`, `step`, `source` or `repo`.
        kind: &'static str,
        /// The name.
        name: String,
        /// Where the first one is.
        first: Loc,
    },
    /// A reference to a name that is not defined.
    #[error("{loc}: `{key}` names {kind} `{name}`, which is not defined{suggestion}")]
    UnknownName {
        /// Where.
        loc: Loc,
        /// The key holding the reference.
        key: String,
        /// `image`, `step`, `source` or `repo`.
        kind: &'static str,
        /// The name.
        name: String,
        /// The closest defined name, if one is close.
        suggestion: Suggestion,
    },
    /// A value the format does not accept (explained in `message`).
    #[error("{loc}: `{key}`: {message}")]
    Invalid {
        /// Where.
        loc: Loc,
        /// The key.
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// Images asked for on the command line that the recipe does not define.
    #[error("no image `{name}` in `{dir}`{suggestion}")]
    NoSuchImage {
        /// The name asked for.
        name: String,
        /// The recipe directory.
        dir: PathBuf,
        /// The closest image name.
        suggestion: Suggestion,
    },
    /// The lock file does not parse.
    #[error("cannot parse lock file `{path}`: {message}")]
    LockSyntax {
        /// The lock file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// `--locked` was given and the lock does not match the recipe.
    #[error("`{path}` is out of date: {reason}")]
    StaleLock {
        /// The lock file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// `--update` names no image or package step of the recipe.
    #[error("`--update {selector}`: {message}")]
    UnknownSelector {
        /// The selector as given.
        selector: String,
        /// What is wrong with it.
        message: String,
    },
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
