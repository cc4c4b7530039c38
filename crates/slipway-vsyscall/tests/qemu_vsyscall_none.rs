//! Beyond the acceptance tests: boot a real Debian kernel under
//! `qemu-system-x86_64` with `vsyscall=none` and run the fixture package's
//! program from the original and from the rebuilt RPM. The original dies
//! with SIGSEGV (it calls 0xffffffffff600400, which is not mapped); the
//! rebuilt one prints the time. A second boot with `vsyscall=xonly` shows
//! the original itself is fine where the page is still emulated.
//!
//! The initramfs holds a tiny static `/init` (compiled here), the two
//! programs, and the host's `ld.so` and `libc.so.6` they link against.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{extract_rpm, fixture_dir, fixture_srpm, fresh_dir, original_build, run};
use slipway_test_support::require_tool;
use slipway_vsyscall::rebuild::{HostRunner, RebuildOptions, rebuild};
use slipway_vsyscall::srpm::{PatchFile, patch_srpm};

const INIT: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <unistd.h>
static void run(const char *label, const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(path, path, (char *)0);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        printf("SLIPWAY %s signal %d\n", label, WTERMSIG(status));
    else
        printf("SLIPWAY %s exit %d\n", label, WEXITSTATUS(status));
    fflush(stdout);
}
int main(void)
{
    mount("devtmpfs", "/dev", "devtmpfs", 0, 0);
    int fd = open("/dev/console", O_RDWR);
    if (fd >= 0) { dup2(fd, 0); dup2(fd, 1); dup2(fd, 2); }
    printf("SLIPWAY boot\n");
    fflush(stdout);
    run("original", "/original/vstime");
    run("rebuilt", "/rebuilt/vstime");
    printf("SLIPWAY done\n");
    fflush(stdout);
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}
"#;

fn kernel() -> Option<PathBuf> {
    let mut kernels: Vec<PathBuf> = fs_err::read_dir("/boot")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
        .collect();
    kernels.sort();
    let found = kernels.pop();
    if found.is_none() {
        slipway_test_support::unavailable("a Debian kernel in /boot (package linux-image-amd64)");
    }
    found
}

fn copy_lib(root: &Path, lib: &str) {
    let real = fs_err::canonicalize(lib).expect("library path");
    let dest = root.join(lib.trim_start_matches('/'));
    fs_err::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
    fs_err::copy(real, dest).expect("copy library");
}

fn boot(initrd: &Path, kernel: &Path, vsyscall: &str) -> String {
    // TCG, not KVM: nested KVM on these machines cannot start `-cpu host`
    // (MSR 0x10a) and hangs the kernel with other models; TCG boots in ~10 s.
    let mut cmd = Command::new("timeout");
    cmd.args(["300", "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max"])
        .args(["-m", "256", "-nographic", "-no-reboot", "-kernel"])
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        .arg(format!(
            "console=ttyS0 vsyscall={vsyscall} panic=-1 quiet rdinit=/init"
        ));
    run(&mut cmd)
}

fn verdicts(console: &str) -> Vec<String> {
    console
        .lines()
        .filter_map(|l| {
            // The line may start with the BIOS's terminal escapes.
            let at = l.find("SLIPWAY ")?;
            Some(l[at + "SLIPWAY ".len()..].trim_end_matches('\r'))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn original_segfaults_and_rebuilt_runs_with_vsyscall_none() {
    for tool in ["qemu-system-x86_64", "gcc", "cpio", "gzip", "timeout"] {
        if require_tool(tool).is_none() {
            return;
        }
    }
    let Some(kernel) = kernel() else { return };
    let Some((_, original_root)) = original_build("qemu-original") else {
        return;
    };
    let Some(srpm) = fixture_srpm("qemu-srpm") else {
        return;
    };
    let top = fresh_dir("qemu-patched");
    let patch = PatchFile::new(
        "remove-vsyscall.patch",
        fixture_dir().join("remove-vsyscall.patch"),
        "-E -p3",
    );
    let patched = patch_srpm(&srpm, &[patch], &top).expect("patch");
    let options = RebuildOptions {
        nodeps: true,
        ..RebuildOptions::default()
    };
    let rebuilt = rebuild(&HostRunner::default(), &patched, &options).expect("rebuild");
    let rebuilt_root = top.join("root");
    extract_rpm(&rebuilt.binary_rpms[0], &rebuilt_root);

    // The initramfs.
    let dir = fresh_dir("qemu-initramfs");
    let root = dir.join("root");
    for sub in ["dev", "original", "rebuilt"] {
        fs_err::create_dir_all(root.join(sub)).expect("mkdir");
    }
    fs_err::write(dir.join("init.c"), INIT).expect("write init");
    run(Command::new("gcc")
        .args(["-O2", "-static", "-o"])
        .arg(root.join("init"))
        .arg(dir.join("init.c")));
    fs_err::copy(
        original_root.join("usr/bin/vstime"),
        root.join("original/vstime"),
    )
    .expect("copy original");
    fs_err::copy(
        rebuilt_root.join("usr/bin/vstime"),
        root.join("rebuilt/vstime"),
    )
    .expect("copy rebuilt");
    copy_lib(&root, "/lib64/ld-linux-x86-64.so.2");
    copy_lib(&root, "/lib/x86_64-linux-gnu/libc.so.6");
    let initrd = dir.join("initrd.cpio.gz");
    run(Command::new("sh")
        .arg("-c")
        .arg(format!(
            "find . | sort | cpio -o -H newc --quiet | gzip -n > '{}'",
            initrd.display()
        ))
        .current_dir(&root));

    let none = boot(&initrd, &kernel, "none");
    let got = verdicts(&none);
    assert_eq!(
        got,
        vec!["boot", "original signal 11", "rebuilt exit 0", "done"],
        "console:\n{none}"
    );
    assert!(
        none.lines().any(|l| l.contains("time: ")),
        "the rebuilt program printed no time:\n{none}"
    );

    let xonly = boot(&initrd, &kernel, "xonly");
    assert_eq!(
        verdicts(&xonly),
        vec!["boot", "original exit 0", "rebuilt exit 0", "done"],
        "console:\n{xonly}"
    );
}
