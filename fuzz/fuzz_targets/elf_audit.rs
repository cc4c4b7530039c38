//! Arbitrary bytes as an ELF file or static archive for the vsyscall audit.
//! Invariants: the audit of the same bytes is the same twice (no state
//! leaks between files), and every finding's address is in the vsyscall page.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_vsyscall::audit::{AuditReport, audit_bytes};

fuzz_target!(|data: &[u8]| {
    let mut first = AuditReport::default();
    let first_result = audit_bytes("fuzz", data, &mut first).map_err(|e| e.to_string());
    let mut second = AuditReport::default();
    let second_result = audit_bytes("fuzz", data, &mut second).map_err(|e| e.to_string());
    assert_eq!(first_result, second_result);
    assert_eq!(first, second);
    for finding in &first.findings {
        assert!(
            slipway_vsyscall::audit::is_vsyscall(finding.target),
            "{finding}: target {:#x} is outside the vsyscall page",
            finding.target
        );
        let _ = finding.to_string();
    }
});
