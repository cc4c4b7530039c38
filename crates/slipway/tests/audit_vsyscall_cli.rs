//! `slipway audit-vsyscall`: output format and exit status (0 none, 1 found,
//! 2 unreadable input), on binaries compiled here with the real gcc.

use std::path::Path;
use std::process::{Command, Output};

use slipway_test_support::{generated_dir, require_tool};

fn slipway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .output()
        .expect("run slipway")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const CALLS_TIME: &str = r#"
#include <stdio.h>
__attribute__((noinline)) long old_time(long *t)
{
    long r;
    __asm__ volatile("lea -128(%%rsp), %%rsp\n\tmov $0xffffffffff600400, %%rax\n\t"
                     "call *%%rax\n\tlea 128(%%rsp), %%rsp"
                     : "=a"(r), "+D"(t) : : "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "memory");
    return r;
}
int main(int argc, char **argv) { if (argc > 5) printf("%ld\n", old_time(0)); return 0; }
"#;

fn compile(dir: &Path) -> Option<std::path::PathBuf> {
    let gcc = require_tool("gcc")?;
    let src = dir.join("old_time.c");
    fs_err::write(&src, CALLS_TIME).expect("write");
    let out = dir.join("old_time");
    let status = Command::new(gcc)
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("gcc");
    assert!(status.success());
    Some(out)
}

#[test]
fn a_binary_calling_the_page_exits_1_with_one_line_per_use() {
    let dir = generated_dir("audit-vsyscall-cli");
    let Some(binary) = compile(&dir) else { return };
    let path = binary.to_str().expect("utf-8");
    let out = slipway(&["audit-vsyscall", path]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let prefix = format!("{path}: old_time+0x");
    assert!(lines[0].starts_with(&prefix), "{stdout}");
    assert!(
        lines[0].ends_with(": mov rax, 0xffffffffff600400"),
        "{stdout}"
    );
    assert_eq!(
        text(&out.stderr),
        "1 use of the vsyscall page in 1 of 1 ELF files\n"
    );

    let out = slipway(&["audit-vsyscall", "--json", path]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["elf_files"], 1);
    let finding = &report["findings"][0];
    assert_eq!(finding["symbol"], "old_time");
    assert_eq!(finding["kind"], "code");
    assert_eq!(finding["target"].as_u64(), Some(0xffff_ffff_ff60_0400));
}

#[test]
fn host_libc_exits_0() {
    let Some(gcc) = require_tool("gcc") else {
        return;
    };
    let libc = Command::new(gcc)
        .arg("-print-file-name=libc.so.6")
        .output()
        .expect("gcc");
    let libc = text(&libc.stdout);
    let out = slipway(&["audit-vsyscall", libc.trim()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        "no use of the vsyscall page in 1 ELF files\n"
    );
}

#[test]
fn unreadable_input_exits_2_with_a_clear_error() {
    let out = slipway(&["audit-vsyscall", "/nonexistent/rootfs"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot audit `/nonexistent/rootfs`: "),
        "{stderr}"
    );
    let out = slipway(&["audit-vsyscall", "oci:/nonexistent/layout:latest"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: cannot audit image `/nonexistent/layout`"),
        "{}",
        text(&out.stderr)
    );
}
