//! The spec editor against glibc-shaped specs and the shapes it must refuse.
//! Pure text: hermetic.

use slipway_vsyscall::Error;
use slipway_vsyscall::spec::{ReleaseSite, SpecEdit, SpecPatch, add_patches, bump_value};

/// A spec shaped like CentOS 6.9's `glibc.spec` (2.12-1.209): release macro,
/// Patch0…Patch243 with gaps and an arch conditional, `%patchN -p1` lines,
/// subpackages, a `%prep` that goes on after the last `%patch`.
fn glibc_like_spec() -> String {
    let mut s = String::from(
        "%define glibcsrcdir glibc-2.12-2-gc4ccff1\n\
         %define glibcversion 2.12\n\
         %define glibcrelease 1.209%{?dist}\n\
         %define run_glibc_tests 1\n\
         %define auxarches athlon sparcv9v sparc64v alphaev6\n\
         %define xenarches i686 athlon\n\
         %ifarch %{xenarches}\n\
         %define buildxen 1\n\
         %else\n\
         %define buildxen 0\n\
         %endif\n\
         Summary: The GNU libc libraries\n\
         Name: glibc\n\
         Version: %{glibcversion}\n\
         Release: %{glibcrelease}\n\
         License: LGPLv2+ and LGPLv2+ with exceptions and GPLv2+\n\
         Group: System Environment/Libraries\n\
         URL: http://sources.redhat.com/glibc/\n\
         Source0: %{?glibc_release_url}%{glibcsrcdir}.tar.bz2\n\
         Source1: %{glibcsrcdir}-releng.tar.bz2\n\
         Patch0: %{name}-fedora.patch\n\
         Patch1: %{name}-ia64-lib64.patch\n",
    );
    for n in 2..=243 {
        if n % 17 == 0 {
            continue; // numbering gaps, as in the real spec
        }
        s.push_str(&format!("Patch{n}: glibc-rh{}.patch\n", 500_000 + n));
    }
    s.push_str(
        "Buildroot: %{_tmppath}/glibc-%{PACKAGE_VERSION}-root\n\
         Obsoletes: glibc-profile < 2.4\n\
         BuildRequires: gd-devel libpng-devel zlib-devel texinfo, libselinux-devel >= 1.33.4-3\n\
         BuildRequires: audit-libs-devel >= 1.1.3, sed >= 3.95, libcap-devel, gettext\n\
         \n\
         %description\n\
         The glibc package contains standard libraries which are used by\n\
         multiple programs on the system.\n\
         \n\
         %package devel\n\
         Summary: Object files for development using standard C libraries.\n\
         Group: Development/Libraries\n\
         Requires: %{name} = %{version}-%{release}\n\
         \n\
         %description devel\n\
         The glibc-devel package contains the object files necessary.\n\
         \n\
         %prep\n\
         %setup -q -n %{glibcsrcdir} -b1\n\
         %patch0 -E -p1\n\
         %ifarch ia64\n\
         %if \"%{_lib}\" == \"lib64\"\n\
         %patch1 -p1\n\
         %endif\n\
         %endif\n",
    );
    for n in 2..=243 {
        if n % 17 == 0 {
            continue;
        }
        s.push_str(&format!("%patch{n} -p1\n"));
    }
    s.push_str(
        "\n\
         # A lot of programs still misuse memcpy when they have to use\n\
         # memmove. The memcpy implementation below is not tolerant at\n\
         # all.\n\
         rm -f sysdeps/alpha/alphaev6/memcpy.S\n\
         \n\
         %build\n\
         GCC=gcc\n\
         \n\
         %install\n\
         rm -rf \"$RPM_BUILD_ROOT\"\n\
         \n\
         %files -f rpm.filelist\n\
         %defattr(-,root,root)\n\
         \n\
         %changelog\n\
         * Tue Mar 21 2017 Carlos O'Donell <carlos@redhat.com> - 2.12-1.209\n\
         - Fix something (#1234)\n",
    );
    s
}

/// Lines of `after` that are not in `before`, and the reverse, as a multiset diff.
fn line_diff(before: &str, after: &str) -> (Vec<String>, Vec<String>) {
    let mut added: Vec<String> = Vec::new();
    let mut removed: Vec<String> = before.lines().map(str::to_owned).collect();
    for line in after.lines() {
        if let Some(i) = removed.iter().position(|l| l == line) {
            removed.remove(i);
        } else {
            added.push(line.to_owned());
        }
    }
    (added, removed)
}

fn line_after<'a>(text: &'a str, line: &str) -> Option<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let i = lines.iter().position(|l| *l == line)?;
    lines.get(i + 1).copied()
}

fn edit(spec: &str, patches: &[(&str, &str)]) -> Result<SpecEdit, Error> {
    let patches: Vec<SpecPatch> = patches
        .iter()
        .map(|(f, fl)| SpecPatch::new(*f, *fl))
        .collect();
    add_patches(spec, &patches)
}

#[test]
fn glibc_like_spec_gets_patch244_and_release_1_209_1() {
    let spec = glibc_like_spec();
    let out = edit(&spec, &[("remove-vsyscall.patch", "-E -p3")]).expect("edit");
    assert_eq!(out.patch_numbers, vec![244]);
    assert_eq!(out.old_release, "1.209%{?dist}");
    assert_eq!(out.new_release, "1.209.1%{?dist}");
    assert_eq!(
        out.release_site,
        ReleaseSite::Macro {
            name: "glibcrelease".into(),
            line: 3
        }
    );
    assert_eq!(
        line_after(&out.text, "Patch243: glibc-rh500243.patch"),
        Some("Patch244: remove-vsyscall.patch")
    );
    assert_eq!(
        line_after(&out.text, "%patch243 -p1"),
        Some("%patch244 -E -p3")
    );
    let (added, removed) = line_diff(&spec, &out.text);
    assert_eq!(
        added,
        vec![
            "%define glibcrelease 1.209.1%{?dist}",
            "Patch244: remove-vsyscall.patch",
            "%patch244 -E -p3",
        ]
    );
    assert_eq!(removed, vec!["%define glibcrelease 1.209%{?dist}"]);
    // The Release: tag still uses the macro.
    assert!(out.text.contains("\nRelease: %{glibcrelease}\n"));
    assert!(out.text.ends_with("- Fix something (#1234)\n"));
}

#[test]
fn editing_twice_takes_the_next_number_and_bumps_again() {
    let once = edit(&glibc_like_spec(), &[("remove-vsyscall.patch", "-E -p3")]).expect("first");
    let twice = edit(&once.text, &[("more.patch", "-p1")]).expect("second");
    assert_eq!(twice.patch_numbers, vec![245]);
    assert_eq!(twice.old_release, "1.209.1%{?dist}");
    assert_eq!(twice.new_release, "1.209.2%{?dist}");
    assert_eq!(
        line_after(&twice.text, "%patch244 -E -p3"),
        Some("%patch245 -p1")
    );
    assert_eq!(
        line_after(&twice.text, "Patch244: remove-vsyscall.patch"),
        Some("Patch245: more.patch")
    );
}

#[test]
fn several_patches_in_one_edit_keep_their_order_and_bump_once() {
    let out = edit(
        &glibc_like_spec(),
        &[("a.patch", "-p1"), ("b.patch", "-E -p3")],
    )
    .expect("edit");
    assert_eq!(out.patch_numbers, vec![244, 245]);
    assert_eq!(out.new_release, "1.209.1%{?dist}");
    assert_eq!(
        line_after(&out.text, "%patch243 -p1"),
        Some("%patch244 -p1")
    );
    assert_eq!(
        line_after(&out.text, "%patch244 -p1"),
        Some("%patch245 -E -p3")
    );
    assert_eq!(
        line_after(&out.text, "Patch244: a.patch"),
        Some("Patch245: b.patch")
    );
}

const SIMPLE: &str = "Name: x\nVersion: 1\nRelease: 1%{?dist}\nSource0: x.tar.gz\nPatch0: a.patch\n\
                      %description\nd\n%prep\n%setup -q\n%patch0 -p1\n%build\nmake\n";

#[test]
fn release_tag_is_bumped_where_it_is_defined() {
    let out = edit(SIMPLE, &[("v.patch", "-p1")]).expect("edit");
    assert_eq!(out.release_site, ReleaseSite::Tag { line: 3 });
    assert_eq!(out.new_release, "1.1%{?dist}");
    assert!(out.text.contains("\nRelease: 1.1%{?dist}\n"));
    assert!(out.text.contains("Patch0: a.patch\nPatch1: v.patch\n"));
    assert!(out.text.contains("%patch0 -p1\n%patch1 -p1\n%build\n"));
}

#[test]
fn bump_rules() {
    fn check(input: &str, expect: Option<&str>) {
        assert_eq!(bump_value(input).as_deref(), expect, "bump of `{input}`");
    }
    check("1.209%{?dist}", Some("1.209.1%{?dist}"));
    check("1.209.1%{?dist}", Some("1.209.2%{?dist}"));
    check("1.209.9", Some("1.209.10"));
    check("1", Some("1.1"));
    check("3.fc12", Some("3.1.fc12"));
    check("1.212%{?dist}.3", Some("1.212.1%{?dist}.3"));
    check("%{?dist}", None);
    check("rc1", None);
}

#[test]
fn patch_lines_inside_conditionals_get_the_new_line_after_endif() {
    let spec = "Name: x\nRelease: 2\nPatch0: a.patch\n%ifarch x86_64\nPatch1: b.patch\n%endif\n\
                %description\nd\n%prep\n%setup -q\n%patch0 -p1\n%ifarch x86_64\n%if 1\n%patch1 -p1\n\
                %endif\n%endif\n\n%build\n";
    let out = edit(spec, &[("v.patch", "-E -p3")]).expect("edit");
    assert_eq!(
        out.text,
        "Name: x\nRelease: 2.1\nPatch0: a.patch\n%ifarch x86_64\nPatch1: b.patch\n%endif\n\
         Patch2: v.patch\n%description\nd\n%prep\n%setup -q\n%patch0 -p1\n%ifarch x86_64\n%if 1\n\
         %patch1 -p1\n%endif\n%endif\n%patch2 -E -p3\n\n%build\n"
    );
}

#[test]
fn patch_line_style_follows_the_spec() {
    let dash_p = SIMPLE.replace("%patch0 -p1", "%patch -P 0 -p1");
    let out = edit(&dash_p, &[("v.patch", "-p3")]).expect("-P style");
    assert!(
        out.text.contains("%patch -P 0 -p1\n%patch -P 1 -p3\n"),
        "{}",
        out.text
    );

    let positional = SIMPLE.replace("%patch0 -p1", "%patch 0 -p1");
    let out = edit(&positional, &[("v.patch", "-p3")]).expect("positional style");
    assert!(
        out.text.contains("%patch 0 -p1\n%patch 1 -p3\n"),
        "{}",
        out.text
    );
}

#[test]
fn setup_only_spec_gets_patch0_after_sources_and_setup() {
    let spec = "Name: x\nRelease: 7\nSource0: x.tar.gz\nSource1: y\n%description\nd\n\
                %prep\n%setup -q\n%setup -q -T -D -a 1\n%build\n";
    let out = edit(spec, &[("v.patch", "-p1")]).expect("edit");
    assert_eq!(out.patch_numbers, vec![0]);
    assert!(
        out.text
            .contains("Source1: y\nPatch0: v.patch\n%description")
    );
    assert!(
        out.text
            .contains("%setup -q -T -D -a 1\n%patch0 -p1\n%build")
    );
}

#[test]
fn identical_release_definitions_in_both_branches_are_both_bumped() {
    let spec = "%if 0%{?rhel}\n%define myrelease 5\n%else\n%define myrelease 5\n%endif\n\
                Name: x\nRelease: %{myrelease}%{?dist}\nPatch3: a\n%description\nd\n%prep\n%setup\n%patch3 -p1\n";
    let out = edit(spec, &[("v.patch", "-p1")]).expect("edit");
    assert_eq!(out.new_release, "5.1");
    assert_eq!(out.text.matches("%define myrelease 5.1\n").count(), 2);
}

fn refusal(spec: &str) -> String {
    match edit(spec, &[("v.patch", "-p1")]) {
        Ok(out) => panic!("expected a refusal, got:\n{}", out.text),
        Err(err) => err.to_string(),
    }
}

#[test]
fn refuses_a_spec_without_prep() {
    let spec = "Name: x\nRelease: 1\nPatch0: a\n%description\nd\n%build\nmake\n";
    assert_eq!(
        refusal(spec),
        "spec has no `%prep` section: cannot add a `%patch` line"
    );
}

#[test]
fn refuses_autosetup_and_autopatch() {
    let spec = "Name: x\nRelease: 1\nPatch0: a\n%description\nd\n%prep\n%autosetup -p1\n%build\n";
    assert_eq!(
        refusal(spec),
        "spec line 7: `%autosetup` in `%prep` is unsupported: the editor only adds `%patchN` \
         lines after `%setup`/`%patch` lines"
    );
    let spec = "Name: x\nRelease: 1\nPatch0: a\n%description\nd\n%prep\n%setup -q\n%autopatch -p1\n%build\n";
    assert_eq!(
        refusal(spec),
        "spec line 8: `%autopatch` in `%prep` is unsupported: the editor only adds `%patchN` \
         lines after `%setup`/`%patch` lines"
    );
}

#[test]
fn refuses_a_prep_without_setup_or_patch() {
    let spec = "Name: x\nRelease: 1\n%description\nd\n%prep\ntar xf %{SOURCE0}\n%build\n";
    assert_eq!(
        refusal(spec),
        "spec `%prep` (line 5) has no `%setup` or `%patch` line to add a patch after"
    );
}

#[test]
fn refuses_conflicting_release_macros() {
    let spec = glibc_like_spec().replace(
        "%define glibcrelease 1.209%{?dist}\n",
        "%define glibcrelease 1.209%{?dist}\n%global glibcrelease 1.210%{?dist}\n",
    );
    assert_eq!(
        refusal(&spec),
        "spec defines the release twice: line 3 `%define glibcrelease 1.209%{?dist}` and line 4 \
         `%global glibcrelease 1.210%{?dist}` conflict"
    );
}

#[test]
fn refuses_conflicting_release_tags() {
    let spec = "Name: x\n%if 0%{?rhel}\nRelease: 1\n%else\nRelease: 2\n%endif\n%description\nd\n\
                %prep\n%setup\n";
    assert_eq!(
        refusal(spec),
        "spec defines the release twice: line 3 `Release: 1` and line 5 `Release: 2` conflict"
    );
}

#[test]
fn refuses_missing_or_unbumpable_release() {
    let spec = "Name: x\n%description\nd\n%prep\n%setup\n";
    assert_eq!(
        refusal(spec),
        "spec has no `Release:` tag in its main preamble"
    );
    let spec = "Name: x\nRelease: %{rel}%{?dist}\n%description\nd\n%prep\n%setup\n";
    assert_eq!(
        refusal(spec),
        "spec line 2: release `%{rel}%{?dist}` has no literal number to bump"
    );
}

#[test]
fn refuses_two_preps_and_bad_patch_names() {
    let spec = "Name: x\nRelease: 1\n%description\nd\n%prep\n%setup\n%prep\n%setup\n";
    assert_eq!(
        refusal(spec),
        "spec has two `%prep` sections (lines 5 and 7)"
    );
    let err = add_patches(SIMPLE, &[SpecPatch::new("../evil.patch", "-p1")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "patch file name `../evil.patch` is not a plain file name"
    );
}

#[test]
fn refusal_leaves_no_partial_edit_and_one_error() {
    // %autosetup and conflicting releases together: the first shape problem
    // (in %prep) is the one reported.
    let spec = "Name: x\nRelease: 1\nRelease: 2\nPatch0: a\n%description\nd\n%prep\n%autosetup\n";
    let err = refusal(spec);
    assert!(err.starts_with("spec line 8: `%autosetup`"), "{err}");
}
