//! Inputs the `elf_audit` fuzz target found (fuzz/), kept as plain tests:
//! each once made the audit panic.

use slipway_vsyscall::audit::{AuditReport, audit_bytes};

/// A hostile ELF whose instruction addresses lie below its section's
/// address: the finding's offset was computed with a `-` that overflowed.
#[test]
fn an_instruction_address_below_its_section_does_not_overflow() {
    let data = include_bytes!("regressions/elf-audit-sub-overflow.bin");
    let mut report = AuditReport::default();
    // An error or a report: either is fine, a panic is not.
    let _ = audit_bytes("crash.o", data, &mut report);
}
