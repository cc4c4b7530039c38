//! The spec editor: add patches to an RPM spec file and bump its release.
//!
//! Pure text in, text out: no I/O. It understands the shape of the specs of
//! the RHEL 6 era (glibc's among them): numbered `PatchN:` tags in the main
//! preamble, a `%prep` section that applies them with `%patchN -pX` lines
//! after a `%setup`, and a release defined either by the `Release:` tag or by
//! a `%define`/`%global` macro that tag uses. Anything else it refuses with
//! one clear error instead of guessing (`%autosetup`/`%autopatch`, no `%prep`,
//! two release definitions that disagree, …).
//!
//! No crate parses RPM spec files short of running rpm itself (which needs
//! the spec's build environment), so this is hand-written and line-based.
//!
//! ```
//! use slipway_vsyscall::spec::{SpecPatch, add_patches};
//!
//! let spec = "%define glibcrelease 1.209%{?dist}\nName: glibc\nRelease: %{glibcrelease}\n\
//!             Patch0: a.patch\nPatch243: b.patch\n%description\nx\n\
//!             %prep\n%setup -q\n%patch0 -p1\n%patch243 -p1\n\n%build\n";
//! let edit = add_patches(spec, &[SpecPatch::new("remove-vsyscall.patch", "-E -p3")]).unwrap();
//! assert_eq!(edit.patch_numbers, vec![244]);
//! assert_eq!(edit.new_release, "1.209.1%{?dist}");
//! assert!(edit.text.contains("Patch244: remove-vsyscall.patch\n"));
//! assert!(edit.text.contains("%patch243 -p1\n%patch244 -E -p3\n"));
//! ```

use crate::Error;

/// One patch to add to a spec: the file name (as placed in `SOURCES/`) and
/// the flags of its `%patch` line, e.g. `-E -p3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecPatch {
    /// File name of the patch, without directories.
    pub file_name: String,
    /// Flags for `%patchN`, e.g. `-p1` or `-E -p3`.
    pub flags: String,
}

impl SpecPatch {
    /// A patch applied with `flags`.
    pub fn new(file_name: impl Into<String>, flags: impl Into<String>) -> Self {
        Self {
            file_name: file_name.into(),
            flags: flags.into(),
        }
    }
}

/// Where the release that was bumped is defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseSite {
    /// In the `Release:` tag itself, on this 1-based line.
    Tag {
        /// 1-based line of the tag in the original spec.
        line: usize,
    },
    /// In a `%define`/`%global` macro the `Release:` tag uses.
    Macro {
        /// The macro's name, e.g. `glibcrelease`.
        name: String,
        /// 1-based line of the definition in the original spec.
        line: usize,
    },
}

/// The result of [`add_patches`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecEdit {
    /// The edited spec text.
    pub text: String,
    /// The `PatchN` number given to each patch, in order.
    pub patch_numbers: Vec<u32>,
    /// The release value before the edit, unexpanded (e.g. `1.209%{?dist}`).
    pub old_release: String,
    /// The release value after the edit, unexpanded (e.g. `1.209.1%{?dist}`).
    pub new_release: String,
    /// Where the release is defined.
    pub release_site: ReleaseSite,
}

/// Add `patches` to `spec` (next free `PatchN:` tags, matching `%patchN`
/// lines in `%prep`) and bump the release once.
///
/// Release bump: the leading number of the release value (`1.209` in
/// `1.209%{?dist}`) gets `.1` appended when it has one or two components and
/// its last component incremented when it has three or more
/// (`1.209.1` → `1.209.2`), so repeated rebuilds keep sorting newer.
pub fn add_patches(spec: &str, patches: &[SpecPatch]) -> Result<SpecEdit, Error> {
    for patch in patches {
        let name = &patch.file_name;
        if name.is_empty() || name.contains('/') || name.chars().any(char::is_whitespace) {
            return Err(Error::BadPatchName { name: name.clone() });
        }
    }
    let trailing_newline = spec.ends_with('\n');
    let mut lines: Vec<String> = spec.lines().map(str::to_owned).collect();

    // Check the shape before changing anything, so each refusal is one error.
    let prep = prep_range(&lines)?;
    check_prep(&lines, &prep)?;
    let release = find_release(&lines)?;

    let mut patch_numbers = Vec::with_capacity(patches.len());
    for patch in patches {
        patch_numbers.push(add_one(&mut lines, patch)?);
    }

    // Line numbers of the release site are those of the original text; the
    // edit of the value is done by content on the shifted lines.
    let mut new_release = String::new();
    for (_, original) in &release.lines {
        let index = lines
            .iter()
            .position(|l| l == original)
            .ok_or(Error::SpecNoRelease)?;
        let start = release.value_start;
        let value = lines[index][start..].to_owned();
        new_release = bump_value(&value).ok_or_else(|| Error::SpecReleaseNotBumpable {
            line: release.lines[0].0,
            value: value.clone(),
        })?;
        lines[index] = format!("{}{}", &lines[index][..start], new_release);
    }

    let mut text = lines.join("\n");
    if trailing_newline {
        text.push('\n');
    }
    Ok(SpecEdit {
        text,
        patch_numbers,
        old_release: release.value,
        new_release,
        release_site: release.site,
    })
}

/// Section keywords that end a section (and the main preamble).
const SECTIONS: &[&str] = &[
    "package",
    "description",
    "prep",
    "conf",
    "build",
    "install",
    "check",
    "clean",
    "files",
    "changelog",
    "pre",
    "post",
    "preun",
    "postun",
    "pretrans",
    "posttrans",
    "preuntrans",
    "postuntrans",
    "verifyscript",
    "triggerprein",
    "triggerin",
    "triggerun",
    "triggerpostun",
    "filetriggerin",
    "filetriggerun",
    "filetriggerpostun",
    "transfiletriggerin",
    "transfiletriggerun",
    "transfiletriggerpostun",
    "generate_buildrequires",
    "sourcelist",
    "patchlist",
];

/// The `%word` a line starts with (after blanks), if any: `%patch243 -p1` → `patch243`.
fn macro_word(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix('%')?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|w| !w.is_empty())
}

fn section_of(line: &str) -> Option<&str> {
    macro_word(line).filter(|w| SECTIONS.contains(w))
}

fn first_section(lines: &[String]) -> usize {
    lines
        .iter()
        .position(|l| section_of(l).is_some())
        .unwrap_or(lines.len())
}

/// `[start, end)` of the `%prep` body (the lines after `%prep`).
fn prep_range(lines: &[String]) -> Result<std::ops::Range<usize>, Error> {
    let preps: Vec<usize> = (0..lines.len())
        .filter(|&i| section_of(&lines[i]) == Some("prep"))
        .collect();
    match preps.as_slice() {
        [] => Err(Error::SpecNoPrep),
        [one] => {
            let end = (one + 1..lines.len())
                .find(|&i| section_of(&lines[i]).is_some())
                .unwrap_or(lines.len());
            Ok(one + 1..end)
        }
        [first, second, ..] => Err(Error::SpecTwoPreps {
            first: first + 1,
            second: second + 1,
        }),
    }
}

fn check_prep(lines: &[String], prep: &std::ops::Range<usize>) -> Result<(), Error> {
    let mut has_anchor = false;
    for i in prep.clone() {
        match macro_word(&lines[i]) {
            Some(w @ ("autosetup" | "autopatch")) => {
                return Err(Error::SpecUnsupportedPrep {
                    line: i + 1,
                    macro_name: format!("%{w}"),
                });
            }
            Some("setup") => has_anchor = true,
            Some(_) if patch_line(&lines[i]).is_some() => has_anchor = true,
            _ => {}
        }
    }
    if has_anchor {
        Ok(())
    } else {
        Err(Error::SpecNoSetupOrPatch { line: prep.start })
    }
}

/// How a `%patch` line names its patch, so new lines can follow suit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatchStyle {
    /// `%patch243 -p1` (rpm ≤ 4.18, the only form rpm 4.8 knows besides `-P`).
    Suffix,
    /// `%patch -P 243 -p1`.
    DashP,
    /// `%patch 243 -p1` (rpm ≥ 4.18).
    Positional,
}

/// Parse a `%patch` line: its number and style.
fn patch_line(line: &str) -> Option<(u32, PatchStyle)> {
    let word = macro_word(line)?;
    let digits = word.strip_prefix("patch")?;
    if !digits.is_empty() {
        return digits.parse().ok().map(|n| (n, PatchStyle::Suffix));
    }
    let rest = line.trim_start()["%patch".len()..].trim();
    let args: Vec<&str> = rest.split_whitespace().collect();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        if arg == "-P" {
            return args
                .get(i + 1)?
                .parse()
                .ok()
                .map(|n| (n, PatchStyle::DashP));
        }
        if let Some(n) = arg.strip_prefix("-P") {
            return n.parse().ok().map(|n| (n, PatchStyle::DashP));
        }
        if let Ok(n) = arg.parse() {
            return Some((n, PatchStyle::Positional));
        }
        // Options that take a separate value: skip it.
        if matches!(arg, "-b" | "-z" | "-d" | "-o" | "-F") {
            i += 1;
        }
        i += 1;
    }
    // Plain `%patch -p1`: patch 0 in the rpm of RHEL 6.
    Some((0, PatchStyle::Suffix))
}

/// `PatchN:` tag of a preamble line: its number (`Patch:` is 0).
fn patch_tag(line: &str) -> Option<u32> {
    tag_number(line, "patch")
}

fn source_tag(line: &str) -> Option<u32> {
    tag_number(line, "source")
}

fn tag_number(line: &str, tag: &str) -> Option<u32> {
    let t = line.trim_start();
    if t.len() < tag.len() || !t[..tag.len()].eq_ignore_ascii_case(tag) {
        return None;
    }
    let rest = &t[tag.len()..];
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let after = rest[digits_end..].trim_start();
    if !after.starts_with(':') {
        return None;
    }
    if digits_end == 0 {
        Some(0)
    } else {
        rest[..digits_end].parse().ok()
    }
}

/// Conditional nesting change of a line: +1 opens, -1 closes.
fn conditional_delta(line: &str) -> i32 {
    match macro_word(line) {
        Some("if" | "ifarch" | "ifnarch" | "ifos" | "ifnos") => 1,
        Some("endif") => -1,
        _ => 0,
    }
}

/// The line after which to insert, given that the anchor is line `anchor` of
/// a region starting at `start`: if the anchor sits inside `%if … %endif`,
/// insert after the `%endif` that closes the outermost block, so the new line
/// is unconditional.
fn after_conditionals(lines: &[String], start: usize, anchor: usize) -> usize {
    let mut depth: i32 = lines[start..=anchor]
        .iter()
        .map(|l| conditional_delta(l))
        .sum();
    let mut at = anchor;
    while depth > 0 && at + 1 < lines.len() {
        at += 1;
        depth += conditional_delta(&lines[at]);
    }
    at
}

fn add_one(lines: &mut Vec<String>, patch: &SpecPatch) -> Result<u32, Error> {
    let preamble_end = first_section(lines);
    let tags: Vec<(usize, u32)> = (0..preamble_end)
        .filter_map(|i| patch_tag(&lines[i]).map(|n| (i, n)))
        .collect();
    let prep = prep_range(lines)?;
    let applied: Vec<(usize, u32, PatchStyle)> = prep
        .clone()
        .filter_map(|i| patch_line(&lines[i]).map(|(n, s)| (i, n, s)))
        .collect();

    let highest = tags
        .iter()
        .map(|t| t.1)
        .chain(applied.iter().map(|a| a.1))
        .max();
    let number = highest.map_or(0, |n| n + 1);

    // `%patch` line first (it is below the tags, so the tag insert does not
    // shift it).
    let (anchor, style) = match applied.last() {
        Some(&(i, _, style)) => (i, style),
        None => {
            let setup = prep
                .clone()
                .rev()
                .find(|&i| macro_word(&lines[i]) == Some("setup"))
                .ok_or(Error::SpecNoSetupOrPatch { line: prep.start })?;
            (setup, PatchStyle::Suffix)
        }
    };
    let flags = patch.flags.trim();
    let sep = if flags.is_empty() { "" } else { " " };
    let patch_text = match style {
        PatchStyle::Suffix => format!("%patch{number}{sep}{flags}"),
        PatchStyle::DashP => format!("%patch -P {number}{sep}{flags}"),
        PatchStyle::Positional => format!("%patch {number}{sep}{flags}"),
    };
    let at = after_conditionals(lines, prep.start, anchor);
    lines.insert(at + 1, patch_text);

    // Then the tag: after the highest `PatchN:`, else after the last
    // `SourceN:`, else after `Release:`.
    let tag_anchor = tags
        .iter()
        .max_by_key(|t| (t.1, t.0))
        .map(|t| t.0)
        .or_else(|| {
            (0..preamble_end)
                .rev()
                .find(|&i| source_tag(&lines[i]).is_some())
        })
        .or_else(|| {
            (0..preamble_end)
                .rev()
                .find(|&i| tag_value(&lines[i], "release").is_some())
        })
        .ok_or(Error::SpecNoRelease)?;
    let at = after_conditionals(lines, 0, tag_anchor);
    lines.insert(at + 1, format!("Patch{number}: {}", patch.file_name));
    Ok(number)
}

/// Byte offset of the value of `Tag: value` when the line is that tag.
fn tag_value(line: &str, tag: &str) -> Option<usize> {
    let lead = line.len() - line.trim_start().len();
    let t = &line[lead..];
    if t.len() < tag.len() || !t[..tag.len()].eq_ignore_ascii_case(tag) {
        return None;
    }
    let after = &t[tag.len()..];
    let colon = after.trim_start();
    let rest = colon.strip_prefix(':')?;
    let value = rest.trim_start();
    Some(line.len() - value.len())
}

/// `%define NAME value` / `%global NAME value`: (name, byte offset of value).
fn macro_definition(line: &str) -> Option<(&str, usize)> {
    let word = macro_word(line)?;
    if word != "define" && word != "global" {
        return None;
    }
    let t = line.trim_start();
    let rest = t[1 + word.len()..].trim_start();
    let name_end = rest.find(char::is_whitespace)?;
    let name = &rest[..name_end];
    // `%define name(opts) body` is a parametric macro, not a release.
    if name.contains('(') {
        return None;
    }
    let value = rest[name_end..].trim_start();
    Some((name, line.len() - value.len()))
}

/// The release definition to bump, found in the original lines.
struct Release {
    /// The lines holding the definition (more than one only when they agree),
    /// as (1-based line number, line text).
    lines: Vec<(usize, String)>,
    /// Byte offset of the value in those lines.
    value_start: usize,
    /// The value before the bump.
    value: String,
    site: ReleaseSite,
}

fn find_release(lines: &[String]) -> Result<Release, Error> {
    let preamble_end = first_section(lines);
    let tags: Vec<(usize, usize)> = (0..preamble_end)
        .filter_map(|i| tag_value(&lines[i], "release").map(|v| (i, v)))
        .collect();
    let Some(&(first, first_start)) = tags.first() else {
        return Err(Error::SpecNoRelease);
    };
    let defs = agreeing(lines, &tags)?;
    let value = lines[first][first_start..].trim_end().to_owned();
    if starts_with_number(&value) {
        return Ok(Release {
            lines: defs,
            value_start: first_start,
            value,
            site: ReleaseSite::Tag { line: first + 1 },
        });
    }
    // The tag uses a macro: follow the ones defined in this spec.
    let mut value = value;
    let mut line = first + 1;
    for _ in 0..4 {
        let current = value.clone();
        let refs = macro_refs(&current);
        let defined: Vec<&str> = refs
            .iter()
            .copied()
            .filter(|r| {
                lines
                    .iter()
                    .any(|l| macro_definition(l).is_some_and(|d| d.0 == *r))
            })
            .collect();
        let chosen = match defined.as_slice() {
            [one] => *one,
            many => {
                let named: Vec<&str> = many
                    .iter()
                    .copied()
                    .filter(|n| n.to_ascii_lowercase().contains("release"))
                    .collect();
                match named.as_slice() {
                    [one] => *one,
                    _ => return Err(Error::SpecReleaseNotBumpable { line, value }),
                }
            }
        };
        let sites: Vec<(usize, usize)> = (0..lines.len())
            .filter_map(|i| {
                macro_definition(&lines[i])
                    .filter(|d| d.0 == chosen)
                    .map(|d| (i, d.1))
            })
            .collect();
        let defs = agreeing(lines, &sites)?;
        let (i, start) = sites[0];
        value = lines[i][start..].trim_end().to_owned();
        line = i + 1;
        if starts_with_number(&value) {
            return Ok(Release {
                lines: defs,
                value_start: start,
                value,
                site: ReleaseSite::Macro {
                    name: chosen.to_owned(),
                    line,
                },
            });
        }
    }
    Err(Error::SpecReleaseNotBumpable { line, value })
}

/// The definition lines at `sites` (line index, value offset), refused when
/// their values differ.
fn agreeing(lines: &[String], sites: &[(usize, usize)]) -> Result<Vec<(usize, String)>, Error> {
    let (first, first_start) = sites[0];
    let first_value = lines[first][first_start..].trim_end();
    for &(i, start) in &sites[1..] {
        let v = lines[i][start..].trim_end();
        if v != first_value || start != first_start {
            return Err(Error::SpecConflictingRelease {
                first_line: first + 1,
                first: lines[first].trim().to_owned(),
                second_line: i + 1,
                second: lines[i].trim().to_owned(),
            });
        }
    }
    Ok(sites
        .iter()
        .map(|&(i, _)| (i + 1, lines[i].clone()))
        .collect())
}

fn starts_with_number(value: &str) -> bool {
    value.starts_with(|c: char| c.is_ascii_digit())
}

/// Names of the macros a value uses: `%{name}`, `%{?name}`, `%{!?name:…}`, `%name`.
fn macro_refs(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        if bytes.get(j) == Some(&b'%') {
            i += 2;
            continue;
        }
        if bytes.get(j) == Some(&b'{') {
            j += 1;
            while matches!(bytes.get(j), Some(b'?' | b'!')) {
                j += 1;
            }
        }
        let start = j;
        while bytes
            .get(j)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            j += 1;
        }
        if j > start {
            out.push(&value[start..j]);
        }
        i = j.max(i + 1);
    }
    out
}

/// Bump the leading number of a release value; `None` when it has none.
pub fn bump_value(value: &str) -> Option<String> {
    let value = value.trim_end();
    // The longest prefix of the form `N(.N)*`.
    let mut end = 0;
    let bytes = value.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            break;
        }
        end = i;
        if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
        } else {
            break;
        }
    }
    if end == 0 {
        return None;
    }
    let (number, suffix) = value.split_at(end);
    let parts: Vec<&str> = number.split('.').collect();
    let bumped = if parts.len() < 3 {
        format!("{number}.1")
    } else {
        let (last, init) = parts.split_last()?;
        let next = last.parse::<u64>().ok()?.checked_add(1)?;
        format!("{}.{next}", init.join("."))
    };
    Some(format!("{bumped}{suffix}"))
}
