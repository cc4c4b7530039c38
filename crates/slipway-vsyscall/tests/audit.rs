//! The ELF audit against real binaries: the host's libc, a static binary
//! compiled here with an explicit vsyscall call (cross-checked with
//! `objdump`), a static archive, a 32-bit object, and inputs it must reject.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fresh_dir, run};
use slipway_test_support::require_tool;
use slipway_vsyscall::audit::{self, FindingKind};

const GETCPU_ENTRY: u64 = 0xffff_ffff_ff60_0800;

/// C with one explicit call into the vsyscall page (getcpu, at +0x800).
const CALLS_GETCPU: &str = r#"
#include <stdio.h>
__attribute__((noinline)) long call_getcpu(unsigned *cpu)
{
    long ret;
    __asm__ volatile("lea -128(%%rsp), %%rsp\n\t"
                     "mov $0xffffffffff600800, %%rax\n\t"
                     "call *%%rax\n\t"
                     "lea 128(%%rsp), %%rsp"
                     : "=a"(ret), "+D"(cpu)
                     : "S"(0), "d"(0)
                     : "rcx", "r8", "r9", "r10", "r11", "memory", "cc");
    return ret;
}
int main(int argc, char **argv)
{
    unsigned cpu = 0;
    if (argc > 5) call_getcpu(&cpu);
    printf("%u\n", cpu);
    return 0;
}
"#;

fn compile(dir: &Path, name: &str, source: &str, args: &[&str]) -> Option<PathBuf> {
    let gcc = require_tool("gcc")?;
    let src = dir.join(format!("{name}.c"));
    fs_err::write(&src, source).expect("write source");
    let out = dir.join(name);
    run(Command::new(gcc).args(args).arg("-o").arg(&out).arg(&src));
    Some(out)
}

#[test]
fn host_libc_uses_no_vsyscall() {
    let Some(gcc) = require_tool("gcc") else {
        return;
    };
    let libc = run(Command::new(gcc).arg("-print-file-name=libc.so.6"));
    let libc = std::fs::canonicalize(libc.trim()).expect("libc.so.6 path");
    let report = audit::audit_report(&libc).expect("audit libc");
    assert_eq!(report.elf_files, 1);
    assert_eq!(report.findings, Vec::new());
    assert_eq!(report.skipped, Vec::<(String, String)>::new());
}

#[test]
fn static_binary_with_an_explicit_call_reports_exactly_that_call() {
    let dir = fresh_dir("audit-static");
    let Some(binary) = compile(&dir, "getcpu", CALLS_GETCPU, &["-O2", "-static"]) else {
        return;
    };
    let Some(objdump) = require_tool("objdump") else {
        return;
    };
    let findings = audit::audit(&binary).expect("audit");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f.kind, FindingKind::Code);
    assert_eq!(f.target, GETCPU_ENTRY);
    assert_eq!(f.symbol.as_deref(), Some("call_getcpu"));
    assert_eq!(f.section, ".text");
    assert_eq!(f.instruction, "mov rax, 0xffffffffff600800");
    assert_eq!(
        f.to_string(),
        format!(
            "{}: call_getcpu+{:#x}: mov rax, 0xffffffffff600800",
            binary.display(),
            f.symbol_offset
        )
    );
    // objdump, the real disassembler, puts that instruction at that address
    // and finds no other use of the page's addresses in the whole binary.
    let disassembly = run(Command::new(objdump).arg("-d").arg(&binary));
    let uses: Vec<&str> = disassembly
        .lines()
        .filter(|l| l.contains("ffffffffff600"))
        .collect();
    assert_eq!(uses.len(), 1, "{uses:#?}");
    let address = u64::from_str_radix(uses[0].trim().split(':').next().expect("address"), 16)
        .expect("hex address");
    assert_eq!(address, f.address);
    // The file offset points at the instruction's bytes (48 c7 c0 00 08 60 ff).
    let bytes = fs_err::read(&binary).expect("read");
    let at = usize::try_from(f.offset).expect("offset");
    assert_eq!(
        &bytes[at..at + 7],
        &[0x48, 0xc7, 0xc0, 0x00, 0x08, 0x60, 0xff]
    );
}

#[test]
fn static_archive_members_are_audited_by_name() {
    let Some(gcc) = require_tool("gcc") else {
        return;
    };
    let Some(ar) = require_tool("ar") else { return };
    let dir = fresh_dir("audit-archive");
    fs_err::write(dir.join("bad.c"), CALLS_GETCPU).expect("write");
    fs_err::write(dir.join("good.c"), "int good(int x) { return x + 1; }\n").expect("write");
    for name in ["bad", "good"] {
        run(Command::new(&gcc)
            .args(["-O2", "-fPIC", "-c", "-o"])
            .arg(dir.join(format!("{name}.o")))
            .arg(dir.join(format!("{name}.c"))));
    }
    let archive = dir.join("libmix.a");
    run(Command::new(ar)
        .arg("rcs")
        .arg(&archive)
        .arg(dir.join("good.o"))
        .arg(dir.join("bad.o")));
    let report = audit::audit_report(&archive).expect("audit archive");
    assert_eq!(report.elf_files, 2);
    let names: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{}|{}", f.file, f.symbol.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        names,
        vec![format!("{}(bad.o)|call_getcpu", archive.display())]
    );
}

#[test]
fn directory_walk_finds_elf_files_and_skips_the_rest() {
    let dir = fresh_dir("audit-walk");
    let Some(_) = compile(&dir, "getcpu", CALLS_GETCPU, &["-O2"]) else {
        return;
    };
    fs_err::write(dir.join("notes.txt"), "not an ELF file\n").expect("write");
    fs_err::write(dir.join("short"), "\x7fE").expect("write");
    std::os::unix::fs::symlink("getcpu", dir.join("link-to-getcpu")).expect("symlink");
    fs_err::create_dir_all(dir.join("sub")).expect("mkdir");
    fs_err::copy(dir.join("getcpu"), dir.join("sub/copy")).expect("copy");
    let report = audit::audit_report(&dir).expect("audit dir");
    // Two ELF files (symlinks are not followed), one finding each.
    assert_eq!(report.elf_files, 2);
    let files: Vec<&str> = report.findings.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(
        files,
        vec![
            dir.join("getcpu").to_str().expect("utf-8"),
            dir.join("sub/copy").to_str().expect("utf-8"),
        ]
    );
}

#[test]
fn i386_objects_are_decoded_as_32_bit_code() {
    let Some(gcc) = require_tool("gcc") else {
        return;
    };
    let dir = fresh_dir("audit-i386");
    let src = dir.join("t.c");
    // In 32-bit code there is no vsyscall page: the truncated constant is
    // just a number and must not be reported.
    fs_err::write(
        &src,
        "unsigned f(void) { unsigned r; __asm__(\"mov $0xff600400, %0\" : \"=r\"(r)); return r; }\n",
    )
    .expect("write");
    let obj = dir.join("t.o");
    run(Command::new(gcc)
        .args(["-m32", "-O2", "-c", "-o"])
        .arg(&obj)
        .arg(&src));
    let report = audit::audit_report(&obj).expect("audit");
    assert_eq!(report.elf_files, 1);
    assert_eq!(report.findings, Vec::new());
}

#[test]
fn unreadable_inputs_are_clear_errors() {
    let missing = Path::new("/nonexistent/slipway-vsyscall-input");
    let err = audit::audit(missing).unwrap_err();
    assert!(
        err.to_string()
            .contains("/nonexistent/slipway-vsyscall-input"),
        "{err}"
    );
    // A file named directly that claims to be ELF but is not is an error, not a skip.
    let dir = fresh_dir("audit-bad");
    let bad = dir.join("bad.so");
    fs_err::write(&bad, b"\x7fELF\x02\x01\x01garbage").expect("write");
    let err = audit::audit(&bad).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("cannot parse `{}` as ELF", bad.display())),
        "{err}"
    );
    // Inside a tree it is skipped and reported.
    let report = audit::audit_report(&dir).expect("tree");
    assert_eq!(report.skipped.len(), 1, "{report:?}");
}

#[test]
fn comparing_with_the_page_address_is_not_a_use() {
    let dir = fresh_dir("audit-cmp");
    // What gprofng's collector does: skip the [vsyscall] line of /proc/self/maps.
    let source = "int is_vsyscall(unsigned long a) { return a == 0xffffffffff600000UL; }\n\
                  unsigned long mask(unsigned long a) { return a & 0xffffffffff600000UL; }\n\
                  int main(int c, char **v) { return is_vsyscall((unsigned long)v) + (int)mask(c); }\n";
    let Some(binary) = compile(&dir, "cmp", source, &["-O2"]) else {
        return;
    };
    let Some(objdump) = require_tool("objdump") else {
        return;
    };
    // The constant is in the code (objdump sees it)…
    let disassembly = run(Command::new(objdump).arg("-d").arg(&binary));
    assert!(disassembly.contains("ffffffffff600000"), "{disassembly}");
    // …but nothing materialises or calls it.
    assert_eq!(audit::audit(&binary).expect("audit"), Vec::new());
}

#[test]
fn debootstrap_builder_rootfs_uses_no_vsyscall() {
    use slipway_test_support::builder::{BuilderArch, builder_rootfs};
    let Some(rootfs) = builder_rootfs(BuilderArch::Amd64) else {
        return;
    };
    let report = audit::audit_report(&rootfs).expect("audit rootfs");
    assert!(
        report.elf_files > 1000,
        "only {} ELF files",
        report.elf_files
    );
    assert_eq!(report.findings, Vec::new());
}
