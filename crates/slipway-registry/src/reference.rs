//! Image references with Docker's normalisation.
//!
//! `centos:6.9` means `docker.io/library/centos:6.9`, served by the API host
//! `registry-1.docker.io`; the first path component is a registry host only
//! when it contains `.` or `:`, is `localhost`, or has upper-case letters
//! (the rules of `github.com/distribution/reference`'s `ParseNormalizedNamed`).

use std::fmt;

use crate::digest::validate_digest;
use crate::error::{Error, Result};

/// The registry Docker Hub's short names refer to.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's distribution API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The tag used when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// A normalised image reference: registry, repository, tag and/or digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parse `[HOST[:PORT]/]REPO[:TAG][@DIGEST]` with Docker's normalisation.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidReference {
            reference: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.is_empty() {
            return Err(bad("empty"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                validate_digest(digest).map_err(|_| bad("the digest is not sha256:<64 hex>"))?;
                (rest, Some(digest.to_owned()))
            }
            None => (text, None),
        };
        // A tag is after the last ':' that follows the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let (name, tag) = rest.split_at(last_slash + i);
                (name, Some(tag[1..].to_owned()))
            }
            None => (rest, None),
        };
        if let Some(tag) = &tag
            && !valid_tag(tag)
        {
            return Err(bad("the tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_owned(), remainder.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB.to_owned()
        } else {
            registry
        };
        if registry.is_empty() {
            return Err(bad("empty registry host"));
        }
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !valid_repository(&repository) {
            return Err(bad(
                "the repository must be lower-case path components of [a-z0-9] separated by `.`, `_`, `__` or `-`",
            ));
        }
        Ok(Self {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The registry name as users write it (`docker.io`, `localhost:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host (and port) that serves the distribution API.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The repository path (`library/centos`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if one was given.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// What to ask the registry for: the digest if given, else the tag, else `latest`.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or(DEFAULT_TAG)
    }

    /// The same image with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository pinned to `digest` (the tag is kept for display).
    pub fn with_digest(&self, digest: &str) -> Self {
        Self {
            digest: Some(digest.to_owned()),
            ..self.clone()
        }
    }

    /// The last path component of the repository (`centos` for `library/centos`).
    pub fn short_name(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn valid_repository(repository: &str) -> bool {
    !repository.is_empty() && repository.split('/').all(valid_component)
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__` or one or more `-`.
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:5b6cd9f6a1f4a2b9e7b2a1c0f0e5b7d3e9c6f1a2b3c4d5e6f708192a3b4c5d6e";

    /// One row per reference, columns separated by `|`: input, registry,
    /// API host, repository, tag, digest, display (`-` = none; `$D` = [`D`]).
    const NORMALISATION: &str = "
        centos:6.9 | docker.io | registry-1.docker.io | library/centos | 6.9 | - | docker.io/library/centos:6.9
        centos | docker.io | registry-1.docker.io | library/centos | - | - | docker.io/library/centos
        i386/centos:6 | docker.io | registry-1.docker.io | i386/centos | 6 | - | docker.io/i386/centos:6
        docker.io/centos:6.9 | docker.io | registry-1.docker.io | library/centos | 6.9 | - | docker.io/library/centos:6.9
        index.docker.io/library/centos | docker.io | registry-1.docker.io | library/centos | - | - | docker.io/library/centos
        quay.io/pypa/manylinux2010_x86_64:latest | quay.io | quay.io | pypa/manylinux2010_x86_64 | latest | - | quay.io/pypa/manylinux2010_x86_64:latest
        localhost:5000/base/centos@$D | localhost:5000 | localhost:5000 | base/centos | - | $D | localhost:5000/base/centos@$D
        127.0.0.1:41234/centos:6.9@$D | 127.0.0.1:41234 | 127.0.0.1:41234 | centos | 6.9 | $D | 127.0.0.1:41234/centos:6.9@$D
        localhost/foo | localhost | localhost | foo | - | - | localhost/foo
        pypa/manylinux_2_28-x86__64 | docker.io | registry-1.docker.io | pypa/manylinux_2_28-x86__64 | - | - | docker.io/pypa/manylinux_2_28-x86__64
    ";

    #[test]
    fn docker_normalisation_table() {
        for row in NORMALISATION.lines().filter(|l| !l.trim().is_empty()) {
            let cols: Vec<String> = row.split('|').map(|c| c.trim().replace("$D", D)).collect();
            let [input, registry, api, repository, tag, digest, display] = &cols[..] else {
                panic!("a row has 7 columns: {row}");
            };
            let opt = |c: &String| (c != "-").then(|| c.clone());
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            let got = (
                r.registry().to_owned(),
                r.api_host().to_owned(),
                r.repository().to_owned(),
                r.tag().map(str::to_owned),
                r.digest().map(str::to_owned),
                r.to_string(),
            );
            let want = (
                registry.clone(),
                api.clone(),
                repository.clone(),
                opt(tag),
                opt(digest),
                display.clone(),
            );
            assert_eq!(got, want, "{input}");
        }
    }

    #[test]
    fn rejects_invalid_references() {
        for bad in [
            "",
            "Centos:6",
            "centos:",
            "centos:-x",
            "centos@sha256:abc",
            "a//b",
            "centos_:6",
            "a___b",
            "registry.example/",
        ] {
            let err = Reference::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("invalid image reference"), "{err}");
        }
    }

    #[test]
    fn manifest_reference_prefers_digest() {
        let r = Reference::parse(&format!("centos:6@{D}")).unwrap();
        assert_eq!(r.manifest_reference(), D);
        assert_eq!(
            Reference::parse("centos").unwrap().manifest_reference(),
            "latest"
        );
        assert_eq!(Reference::parse("a/b/c").unwrap().short_name(), "c");
    }
}
