//! `slipway completions` and `slipway man`: bash sources the completion
//! script and registers it; the man page is roff naming the subcommands.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_slipway");

fn stdout_of(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "slipway {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bash_sources_the_completion_script() {
    let script = format!("source <('{BIN}' completions bash) && complete -p slipway");
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &script])
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("complete") && stdout.trim_end().ends_with("slipway"),
        "{stdout}"
    );
}

#[test]
fn zsh_and_fish_scripts_complete_the_subcommands() {
    let zsh = stdout_of(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef slipway"), "{zsh}");
    let fish = stdout_of(&["completions", "fish"]);
    assert!(fish.contains("complete -c slipway"), "{fish}");
    for sub in ["build", "pull", "audit-vsyscall"] {
        assert!(zsh.contains(sub) && fish.contains(sub), "{sub} missing");
    }
}

#[test]
fn unknown_shell_is_refused_naming_the_choices() {
    let out = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tcsh") && stderr.contains("bash"),
        "{stderr}"
    );
}

#[test]
fn man_page_is_roff_with_the_subcommands() {
    let page = stdout_of(&["man"]);
    // clap_mangen defines the apostrophe string `Aq` (`.ie`/`.el`) before the title.
    let title = page
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
        .unwrap_or_default();
    assert!(
        title.starts_with(".TH slipway 1 "),
        "{}",
        &page[..page.len().min(200)]
    );
    assert!(page.contains("slipway"), "{page}");
    for sub in ["build", "copy", "completions"] {
        assert!(page.contains(sub), "{sub} missing from the man page");
    }
}
