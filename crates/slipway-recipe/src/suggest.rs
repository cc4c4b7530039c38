//! "Did you mean …?" by edit distance.

use crate::error::Suggestion;

/// The candidate closest to `word`, if it is close enough to be a likely typo
/// (Jaro-Winkler similarity ≥ 0.8 or Levenshtein distance ≤ 2 for short words).
pub(crate) fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Suggestion {
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(word, candidate);
        let close = score >= 0.8 || strsim::levenshtein(word, candidate) <= 2;
        if close && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, candidate));
        }
    }
    Suggestion(best.map(|(_, c)| c.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::suggest;

    #[test]
    fn typos_find_their_key() {
        let keys = ["script", "inputs", "depends-on", "network"];
        assert_eq!(suggest("scirpt", keys).0.as_deref(), Some("script"));
        assert_eq!(suggest("depends_on", keys).0.as_deref(), Some("depends-on"));
        assert_eq!(suggest("zzzzzz", keys).0, None);
    }
}
