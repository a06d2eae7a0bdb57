//! "Did you mean login?": the closest known name to a mistyped word, by edit distance, as
//! git, cargo and clap suggest one.

/// The number of single-character insertions, deletions, substitutions and swaps of two neighbours
/// that turn `a` into `b` (optimal string alignment distance), case-insensitively.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

/// The candidate closest to `word`, if it is close enough to be what was meant: at most one edit
/// for short names, two for names of five letters or more. `None` for an exact match (nothing was
/// mistyped) and when two candidates are equally close (a guess would be a coin toss).
pub fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let mut best: Option<(&str, usize)> = None;
    let mut tie = false;
    for c in candidates {
        let d = distance(word, c);
        if d == 0 {
            return None;
        }
        let allowed = if c.chars().count() >= 5 { 2 } else { 1 };
        if d > allowed {
            continue;
        }
        match best {
            Some((_, b)) if d > b => {}
            Some((_, b)) if d == b => tie = true,
            _ => {
                best = Some((c, d));
                tie = false;
            }
        }
    }
    best.filter(|_| !tie).map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &[&str] =
        &["login", "whoami", "touch", "logout", "sessions", "logout-all", "renew", "use", "events"];

    #[test]
    fn distances() {
        assert_eq!(distance("login", "login"), 0);
        assert_eq!(distance("lgoin", "login"), 1);
        assert_eq!(distance("logn", "login"), 1);
        assert_eq!(distance("LOGIN", "login"), 0);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("whomai", "whoami"), 1);
    }

    #[test]
    fn suggestions() {
        let s = |w: &str| did_you_mean(w, SESSION.iter().copied());
        assert_eq!(s("lgoin"), Some("login"));
        assert_eq!(s("loign"), Some("login"));
        assert_eq!(s("whomai"), Some("whoami"));
        assert_eq!(s("sesions"), Some("sessions"));
        assert_eq!(s("logot"), Some("logout"));
        assert_eq!(s("logout_all"), Some("logout-all"));
        assert_eq!(s("login"), None);
        assert_eq!(s("GET"), None);
        assert_eq!(s("us"), Some("use"));
        assert_eq!(s("x"), None);
        // Two equally close names: no guess.
        assert_eq!(did_you_mean("ab", ["aa", "bb"]), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_never_suggests_far_names(word in "\\PC{0,12}") {
            if let Some(s) = did_you_mean(&word, SESSION.iter().copied()) {
                proptest::prop_assert!(distance(&word, s) <= 2);
            }
        }
    }
}
