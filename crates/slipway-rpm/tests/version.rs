//! `rpmvercmp` and `Evr` ordering against the real peer: rpm 4.18's
//! `rpm.labelCompare` from Debian's `python3-rpm`.

use slipway_rpm::version::{Evr, rpmvercmp};
use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

/// Version strings including the odd ones: `~`, `^`, letters vs digits,
/// leading zeros, empty segments, separators only, long numbers. (The empty
/// string is left out: `labelCompare` rejects it as an invalid version; the
/// unit tests cover it.)
const VERSIONS: &[&str] = &[
    "0",
    "00",
    "1",
    "01",
    "001",
    "1.0",
    "1.00",
    "1.0.0",
    "1..0",
    "1.0.",
    ".1.0",
    "1_0",
    "1+0",
    "1-0",
    "2",
    "10",
    "1.1",
    "1.01",
    "1.10",
    "1a",
    "1.a",
    "1.0a",
    "1.0aa",
    "1.0A",
    "a",
    "A",
    "b",
    "ab",
    "a1",
    "1a1",
    "1.0~rc1",
    "1.0~rc2",
    "1.0~",
    "1.0~~",
    "~",
    "~1",
    "1.0~rc1~git",
    "1.0^",
    "1.0^git1",
    "1.0^git2",
    "1.0^git1~pre",
    "1.0~rc1^git1",
    "^",
    "^1",
    "1.0^20160101",
    "1.0.1",
    "5.5p1",
    "5.5p10",
    "5.5p2",
    "xyz10",
    "xyz10.1",
    "10xyz",
    "10.1xyz",
    "xyz.4",
    "8",
    "2.6.32",
    "2.6.32-754",
    "4294967296",
    "18446744073709551616",
    "99999999999999999999999",
    "0.0.0.0.1",
    "el6",
    "el6_9",
    "el7",
    "fc31",
    "1.el6",
    "1.el6_9.2",
    "3.el6.centos",
    "1:1",
    "1.0_rc1",
    "1.0-rc1",
    "é1",
    "1é",
    "1.0+git",
    "1.0.git",
    "1.0*2",
];

/// Epochs as the strings `labelCompare` receives (None = absent).
const EPOCHS: &[Option<&str>] = &[None, Some("0"), Some("1"), Some("2"), Some("10")];

fn pairs() -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    for (i, a) in VERSIONS.iter().enumerate() {
        // Each version against itself, its neighbours and a stride of others.
        for b in VERSIONS.iter().skip(i).step_by(7) {
            out.push((*a, *b));
        }
        if let Some(b) = VERSIONS.get(i + 1) {
            out.push((*a, *b));
        }
    }
    out
}

/// Asks python3-rpm for `rpm.labelCompare` on each triple pair.
/// `(epoch, version, release)` as `rpm.labelCompare` takes it.
type Label<'a> = (Option<&'a str>, &'a str, &'a str);

fn label_compare(cases: &[(Label<'_>, Label<'_>)]) -> Vec<i32> {
    let Some(python) = slipway_test_support::require_tool("python3") else {
        return Vec::new();
    };
    // Debian's python has the rpm bindings; a venv python on PATH might not.
    let python = if std::path::Path::new("/usr/bin/python3").exists() {
        std::path::PathBuf::from("/usr/bin/python3")
    } else {
        python
    };
    let script = r#"
import json, sys, rpm
cases = json.load(sys.stdin)
print(json.dumps([rpm.labelCompare(tuple(a), tuple(b)) for a, b in cases]))
"#;
    let json_cases: Vec<String> = cases
        .iter()
        .map(|(a, b)| format!("[{},{}]", triple(a), triple(b)))
        .collect();
    let input = format!("[{}]", json_cases.join(","));
    let mut child = Command::new(python)
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python3-rpm failed");
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect()
}

fn triple((e, v, r): &(Option<&str>, &str, &str)) -> String {
    let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    format!("[{},{},{}]", e.map_or("null".into(), q), q(v), q(r))
}

fn ord(i: i32) -> Ordering {
    i.cmp(&0)
}

#[test]
fn rpmvercmp_agrees_with_python3_rpm() {
    let pairs = pairs();
    assert!(pairs.len() >= 200, "only {} pairs", pairs.len());
    // Compare versions with equal epoch and release: labelCompare's answer
    // is then rpmvercmp's on the versions.
    let cases: Vec<_> = pairs
        .iter()
        .map(|(a, b)| ((Some("0"), *a, "1"), (Some("0"), *b, "1")))
        .collect();
    let truth = label_compare(&cases);
    if truth.is_empty() {
        return;
    }
    let mut wrong = Vec::new();
    for ((a, b), t) in pairs.iter().zip(&truth) {
        if rpmvercmp(a, b) != ord(*t) {
            wrong.push(format!(
                "{a:?} vs {b:?}: rpm says {t}, we say {:?}",
                rpmvercmp(a, b)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} disagree:\n{}",
        wrong.len(),
        pairs.len(),
        wrong.join("\n")
    );
}

#[test]
fn evr_order_agrees_with_python3_rpm() {
    // Epoch x version x release combinations, including absent epochs.
    let versions = ["1.0", "1.0~rc1", "1.0^git1", "2", "1.00", "1a"];
    let releases = ["1", "1.el6", "1.el6_9", "2", "10", "1~beta"];
    let mut triples = Vec::new();
    for (i, e) in EPOCHS.iter().enumerate() {
        for (j, v) in versions.iter().enumerate() {
            let r = releases[(i + j) % releases.len()];
            triples.push((*e, *v, r));
        }
    }
    let mut cases = Vec::new();
    for (i, a) in triples.iter().enumerate() {
        for b in triples.iter().skip(i).step_by(3) {
            cases.push((*a, *b));
        }
    }
    assert!(cases.len() >= 100);
    let truth = label_compare(&cases);
    if truth.is_empty() {
        return;
    }
    let evr = |(e, v, r): &(Option<&str>, &str, &str)| {
        Evr::new(e.map(|e| e.parse().unwrap()), *v, Some((*r).to_owned()))
    };
    for ((a, b), t) in cases.iter().zip(&truth) {
        let (ea, eb) = (evr(a), evr(b));
        assert_eq!(
            ea.cmp_for_dependency(&eb),
            ord(*t),
            "{ea} vs {eb}: rpm.labelCompare says {t}"
        );
        // The total order refines labelCompare: it only breaks its ties.
        if *t != 0 {
            assert_eq!(ea.cmp(&eb), ord(*t), "{ea} vs {eb}");
        }
    }
}
