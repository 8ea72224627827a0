//! "Did you mean": the names a mistyped one is closest to, for the client id, the realm and
//! the linked subject the doctor cannot find.

/// How many near matches a fix names at most.
pub const MAX_NEAR: usize = 3;

/// Up to [`MAX_NEAR`] of `candidates` that `wanted` may be a typo of, nearest first: the
/// same name in another case, or one within a small edit distance (insertions, deletions, substitutions and swaps
/// of neighbours; a third of the longer
/// name, at least 1 and at most 3 edits). `wanted` itself is never among them.
pub fn near_matches<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
    let folded = wanted.to_lowercase();
    let mut near: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter(|c| *c != wanted)
        .filter_map(|c| {
            let distance = strsim::osa_distance(&folded, &c.to_lowercase());
            let limit = (wanted.chars().count().max(c.chars().count()) / 3).clamp(1, 3);
            (distance <= limit).then_some((distance, c))
        })
        .collect();
    near.sort();
    near.dedup();
    near.into_iter().take(MAX_NEAR).map(|(_, c)| c).collect()
}

/// ` (did you mean 'a' or 'b'?)` for a fix, or nothing when there is no near match.
pub(super) fn did_you_mean(near: &[String]) -> String {
    match near {
        [] => String::new(),
        [one] => format!(" (did you mean '{one}'?)"),
        [rest @ .., last] => {
            let rest: Vec<String> = rest.iter().map(|n| format!("'{n}'")).collect();
            format!(" (did you mean {} or '{last}'?)", rest.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_case_and_distance() {
        let names = [
            "custom-client",
            "Custom-Client",
            "admin-cli",
            "account",
            "custom-clients",
        ];
        assert_eq!(
            near_matches("custom-cleint", names),
            vec!["Custom-Client", "custom-client", "custom-clients"]
        );
        assert_eq!(
            near_matches("CUSTOM-CLIENT", names),
            vec!["Custom-Client", "custom-client", "custom-clients"]
        );
        // Short names allow one edit; the name itself is no suggestion.
        assert_eq!(near_matches("acme", ["acme", "acne", "bcnf"]), vec!["acne"]);
        assert!(near_matches("totally-else", names).is_empty());
        // Two letters swapped are one edit.
        assert_eq!(near_matches("tiral", ["trial", "master"]), vec!["trial"]);
    }

    #[test]
    fn the_fix_wording() {
        assert_eq!(did_you_mean(&[]), "");
        assert_eq!(did_you_mean(&["a".into()]), " (did you mean 'a'?)");
        assert_eq!(
            did_you_mean(&["a".into(), "b".into(), "c".into()]),
            " (did you mean 'a', 'b' or 'c'?)"
        );
    }
}
