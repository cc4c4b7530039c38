//! Cache keys known only while building.
//!
//! The plan's keys cover everything the recipe and the lock say. A package
//! step without a lock entry is only known once resolved: its key gets the
//! resolved package set ([`crate::steps::packages::resolved_key`]), so a repository
//! update invalidates the cached layer, and every step over it (in this image
//! or in images built on it) gets a key derived from that one.
//!
//! The planned keys and their hashing are slipway-recipe's
//! ([`slipway_recipe::key`]).

use slipway_recipe::key::KeyHasher;

/// The key a step's layer is stored under: its planned key when neither the
/// base image, the steps it runs over nor its own resolution differ from the
/// plan; else the planned key hashed with what differs.
///
/// `base` is the runtime key of an image base that differs from its planned
/// key; `deps` are `(planned, runtime)` keys of the steps it runs over;
/// `resolved` is the resolution of an unlocked package step.
pub(crate) fn derive(
    planned: &str,
    base: Option<&str>,
    deps: &[(String, String)],
    resolved: Option<&str>,
) -> String {
    if base.is_none() && resolved.is_none() && deps.iter().all(|(p, r)| p == r) {
        return planned.to_owned();
    }
    let mut h = KeyHasher::new();
    h.field("planned", planned);
    if let Some(b) = base {
        h.field("base", b);
    }
    for (_, runtime) in deps {
        h.field("over", runtime);
    }
    if let Some(r) = resolved {
        h.field("resolved", r);
    }
    h.finish()
}

/// The runtime key of a built image (for the images built on it): `None`
/// when every step kept its planned key.
pub(crate) fn image(
    planned: &str,
    base: Option<&str>,
    steps: &[(String, String)],
) -> Option<String> {
    if base.is_none() && steps.iter().all(|(p, r)| p == r) {
        return None;
    }
    Some(derive(planned, base, steps, Some("image")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_key_kept_when_nothing_differs() {
        let same = vec![("sha256:a".to_owned(), "sha256:a".to_owned())];
        assert_eq!(derive("sha256:k", None, &same, None), "sha256:k");
        assert_eq!(image("sha256:i", None, &same), None);
    }

    #[test]
    fn resolution_dependency_and_base_change_the_key() {
        let same = vec![("sha256:a".to_owned(), "sha256:a".to_owned())];
        let moved = vec![("sha256:a".to_owned(), "sha256:b".to_owned())];
        let r1 = derive("sha256:k", None, &same, Some("sha256:r1"));
        let r2 = derive("sha256:k", None, &same, Some("sha256:r2"));
        assert_ne!(r1, "sha256:k");
        assert_ne!(r1, r2);
        assert_ne!(derive("sha256:k", None, &moved, None), "sha256:k");
        assert_ne!(
            derive("sha256:k", Some("sha256:x"), &same, None),
            "sha256:k"
        );
        assert!(image("sha256:i", None, &moved).is_some());
    }
}
