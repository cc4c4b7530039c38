//! The ELF audit: find code and data that use the legacy vsyscall page.
//!
//! On x86_64 the kernel used to map a page of code at the fixed address
//! `0xffffffffff600000` (`gettimeofday` at `+0x000`, `time` at `+0x400`,
//! `getcpu` at `+0x800`). glibc 2.12 calls it directly
//! (`mov $0xffffffffff600400,%rax; call *%rax`), which segfaults on kernels
//! booted with `vsyscall=none`. This module decodes every executable section
//! of every ELF file it is given (64- and 32-bit x86, executables, shared
//! objects, relocatable objects and the members of static `.a` archives) with
//! iced-x86 and reports each instruction with an operand in that page — an
//! immediate it materialises (`mov rax, imm64`, `mov rax, imm32`
//! sign-extended, `push imm`; not a `cmp` against it),
//! an absolute or RIP-relative memory operand (`call [abs]`, `lea`, `mov
//! rax, [moffs64]`) or a branch target — and each aligned 8-byte value in a
//! data section that points into the page (gcc stores such a pointer in
//! `.data` for `static long (*f)(long *) = (void *)0xffffffffff600400`).
//!
//! RPM files are audited too: their payload is streamed and each ELF file or
//! archive in it is decoded in memory (findings name `PKG.rpm:/path`).
//!
//! Non-ELF files are skipped after reading their first 8 bytes, and
//! sections whose bytes cannot contain the page's address (no `60 ff` byte
//! pair, present in every little-endian encoding of it) are not decoded, so
//! a whole rootfs is quick. Files are audited on all cores.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use iced_x86::{
    Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter, Mnemonic, OpKind, Register,
};
use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};

use crate::Error;

/// First address of the vsyscall page.
pub const VSYSCALL_PAGE: u64 = 0xffff_ffff_ff60_0000;
/// One past the last address of the vsyscall page.
pub const VSYSCALL_PAGE_END: u64 = VSYSCALL_PAGE + 0x1000;

/// Whether `address` lies in the vsyscall page.
pub fn is_vsyscall(address: u64) -> bool {
    (VSYSCALL_PAGE..VSYSCALL_PAGE_END).contains(&address)
}

/// Whether a finding is an instruction or a stored pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    /// An instruction in an executable section.
    Code,
    /// An 8-byte pointer in a data section.
    Data,
}

/// One use of the vsyscall page.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Finding {
    /// The file, or `archive.a(member.o)` for a member of a static archive.
    pub file: String,
    /// The symbol containing the instruction or pointer, when the symbol
    /// table names one.
    pub symbol: Option<String>,
    /// Offset from the start of `symbol` (or of `section` when there is no symbol).
    pub symbol_offset: u64,
    /// The section, e.g. `.text`.
    pub section: String,
    /// Offset of the instruction or pointer in the file (in the member, for archives).
    pub offset: u64,
    /// Virtual address (section-relative in relocatable objects).
    pub address: u64,
    /// The instruction in Intel syntax, or `.quad 0x…` for a data pointer.
    pub instruction: String,
    /// The vsyscall address used.
    pub target: u64,
    /// Code or data.
    pub kind: FindingKind,
}

impl fmt::Display for Finding {
    /// `file: symbol+0xoff: instruction`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = self.symbol.as_deref().unwrap_or(&self.section);
        write!(
            f,
            "{}: {}+{:#x}: {}",
            self.file, place, self.symbol_offset, self.instruction
        )
    }
}

/// What an audit looked at and found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuditReport {
    /// Every use of the vsyscall page, sorted by file and address.
    pub findings: Vec<Finding>,
    /// How many ELF files (archive members included) were decoded.
    pub elf_files: usize,
    /// Files that looked like ELF or archives but could not be parsed or
    /// read, with the reason; sorted.
    pub skipped: Vec<(String, String)>,
}

/// Audit a file or a directory tree; the findings only.
///
/// Fails when `path` does not exist or cannot be read; files inside a tree
/// that cannot be parsed are skipped (see [`audit_report`]).
pub fn audit(path: &Path) -> Result<Vec<Finding>, Error> {
    audit_report(path).map(|r| r.findings)
}

/// Audit a file or a directory tree (symlinks are not followed).
pub fn audit_report(path: &Path) -> Result<AuditReport, Error> {
    let meta = fs_err::symlink_metadata(path)?;
    let candidates = if meta.is_dir() {
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(path)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|source| Error::Walk {
                path: path.to_owned(),
                source,
            })?;
            if entry.file_type().is_file() {
                out.push(entry.into_path());
            }
        }
        out
    } else {
        // One file named by the caller: follow it if it is a link.
        vec![path.to_owned()]
    };
    let single = !meta.is_dir();

    let next = AtomicUsize::new(0);
    let report = Mutex::new(AuditReport::default());
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(candidates.len().max(1));
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut local = AuditReport::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = candidates.get(i) else { break };
                    if let Err(err) = audit_file(file, &mut local) {
                        if single {
                            lock(&failure).get_or_insert(err);
                        } else {
                            local
                                .skipped
                                .push((file.display().to_string(), err.to_string()));
                        }
                    }
                }
                let mut all = lock(&report);
                all.findings.append(&mut local.findings);
                all.elf_files += local.elf_files;
                all.skipped.append(&mut local.skipped);
            });
        }
    });
    if let Some(err) = failure
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        return Err(err);
    }
    let mut report = report
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    report.findings.sort();
    report.skipped.sort();
    Ok(report)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

const ELF_MAGIC: &[u8] = b"\x7fELF";
const AR_MAGIC: &[u8] = b"!<arch>\n";
/// The lead of an RPM file.
const RPM_MAGIC: &[u8] = b"\xed\xab\xee\xdb";

/// Audit the files in an RPM's payload, streamed (named `PKG.rpm:/path`).
fn audit_rpm(path: &Path, report: &mut AuditReport) -> Result<(), Error> {
    let rpm_err = |source| Error::Rpm {
        path: path.to_owned(),
        source: Box::new(source),
    };
    let pkg = slipway_rpm::Package::open(path).map_err(rpm_err)?;
    let mut payload = pkg.payload().map_err(rpm_err)?;
    while let Some(entry) = payload.next_entry().map_err(rpm_err)? {
        if entry.mode & 0o170_000 != 0o100_000 || entry.size < 4 {
            continue;
        }
        let member = entry.name.trim_start_matches('.');
        let name = format!("{}:{}", path.display(), member);
        let mut head = Vec::with_capacity(8);
        (&mut payload).take(8).read_to_end(&mut head)?;
        if !head.starts_with(ELF_MAGIC) && head != AR_MAGIC {
            continue;
        }
        let mut data = head;
        payload.read_to_end(&mut data)?;
        if let Err(err) = audit_bytes(&name, &data, report) {
            report.skipped.push((name, err.to_string()));
        }
    }
    Ok(())
}

/// Audit one file: ELF, archive, or (silently) anything else.
fn audit_file(path: &Path, report: &mut AuditReport) -> Result<(), Error> {
    let mut file = fs_err::File::open(path)?;
    let mut magic = [0u8; 8];
    let mut got = 0;
    while got < magic.len() {
        match file.read(&mut magic[got..])? {
            0 => break,
            n => got += n,
        }
    }
    let magic = &magic[..got];
    if magic.starts_with(RPM_MAGIC) {
        drop(file);
        return audit_rpm(path, report);
    }
    if !magic.starts_with(ELF_MAGIC) && magic != AR_MAGIC {
        return Ok(());
    }
    let data = fs_err::read(path)?;
    let name = path.display().to_string();
    audit_bytes(&name, &data, report)
}

/// Audit the bytes of an ELF file or a static archive; `name` names it in findings.
pub fn audit_bytes(name: &str, data: &[u8], report: &mut AuditReport) -> Result<(), Error> {
    if data.starts_with(AR_MAGIC) {
        let archive =
            object::read::archive::ArchiveFile::parse(data).map_err(|e| elf_error(name, &e))?;
        for member in archive.members() {
            let member = member.map_err(|e| elf_error(name, &e))?;
            let member_name = format!("{name}({})", String::from_utf8_lossy(member.name()));
            let bytes = member.data(data).map_err(|e| elf_error(&member_name, &e))?;
            if !bytes.starts_with(ELF_MAGIC) {
                continue;
            }
            if let Err(err) = audit_elf(&member_name, bytes, report) {
                report.skipped.push((member_name, err.to_string()));
            }
        }
        return Ok(());
    }
    audit_elf(name, data, report)
}

fn elf_error(name: &str, err: &object::Error) -> Error {
    Error::Elf {
        path: name.to_owned(),
        message: err.to_string(),
    }
}

/// Symbols by section index, sorted by address: (address, size, name).
type SymbolMap = BTreeMap<usize, Vec<(u64, u64, String)>>;

fn symbol_map(file: &object::File<'_>) -> SymbolMap {
    let mut map = SymbolMap::new();
    let mut add = |sym: object::Symbol<'_, '_>| {
        if !matches!(
            sym.kind(),
            SymbolKind::Text | SymbolKind::Data | SymbolKind::Unknown
        ) {
            return;
        }
        let (Some(index), Ok(name)) = (sym.section_index(), sym.name()) else {
            return;
        };
        if name.is_empty() {
            return;
        }
        map.entry(index.0)
            .or_default()
            .push((sym.address(), sym.size(), name.to_owned()));
    };
    if file.symbols().next().is_some() {
        file.symbols().for_each(&mut add);
    } else {
        file.dynamic_symbols().for_each(&mut add);
    }
    for syms in map.values_mut() {
        // Prefer sized symbols, then names in order, at equal addresses.
        syms.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        syms.dedup_by_key(|s| s.0);
    }
    map
}

/// The symbol containing `address` in a section and the offset into it.
fn symbol_at(syms: Option<&Vec<(u64, u64, String)>>, address: u64) -> Option<(String, u64)> {
    let syms = syms?;
    let i = syms.partition_point(|s| s.0 <= address).checked_sub(1)?;
    let (start, size, name) = &syms[i];
    (*size == 0 || address < start.saturating_add(*size)).then(|| (name.clone(), address - start))
}

fn audit_elf(name: &str, data: &[u8], report: &mut AuditReport) -> Result<(), Error> {
    let file = object::File::parse(data).map_err(|e| elf_error(name, &e))?;
    let bitness = match file.architecture() {
        object::Architecture::X86_64 => 64,
        object::Architecture::X86_64_X32 | object::Architecture::I386 => 32,
        // Not x86: no vsyscall page to call.
        _ => return Ok(()),
    };
    report.elf_files += 1;
    let symbols = symbol_map(&file);
    for section in file.sections() {
        let kind = section.kind();
        let scan_code = kind == SectionKind::Text;
        let scan_data = bitness == 64
            && matches!(
                kind,
                SectionKind::Data
                    | SectionKind::ReadOnlyData
                    | SectionKind::ReadOnlyDataWithRel
                    | SectionKind::Tls
            );
        if !scan_code && !scan_data {
            continue;
        }
        let Ok(bytes) = section.data() else { continue };
        if !bytes.windows(2).any(|w| w == [0x60, 0xff]) {
            continue;
        }
        let section_name = section.name().unwrap_or("?").to_owned();
        let file_offset = section.file_range().map_or(0, |r| r.0);
        let syms = symbols.get(&section.index().0);
        let mut push = |address: u64, target: u64, instruction: String, kind: FindingKind| {
            let (symbol, symbol_offset) = match symbol_at(syms, address) {
                Some((s, off)) => (Some(s), off),
                // A hostile file may put addresses below its section's:
                // report what it says, without overflowing.
                None => (None, address.wrapping_sub(section.address())),
            };
            report.findings.push(Finding {
                file: name.to_owned(),
                symbol,
                symbol_offset,
                section: section_name.clone(),
                offset: file_offset.wrapping_add(address.wrapping_sub(section.address())),
                address,
                instruction,
                target,
                kind,
            });
        };
        if scan_code {
            scan_instructions(bitness, bytes, section.address(), &mut push);
        } else {
            for (i, chunk) in bytes.chunks_exact(8).enumerate() {
                let value = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
                if is_vsyscall(value) {
                    let address = section.address() + 8 * i as u64;
                    push(
                        address,
                        value,
                        format!(".quad {value:#x}"),
                        FindingKind::Data,
                    );
                }
            }
        }
    }
    Ok(())
}

/// Decode `bytes` (loaded at `ip`) and call `found(address, target, text, kind)`
/// for each instruction with an operand in the vsyscall page.
fn scan_instructions(
    bitness: u32,
    bytes: &[u8],
    ip: u64,
    found: &mut impl FnMut(u64, u64, String, FindingKind),
) {
    let mut decoder = Decoder::with_ip(bitness, bytes, ip, DecoderOptions::NONE);
    let mut formatter = IntelFormatter::new();
    let options = formatter.options_mut();
    options.set_hex_prefix("0x");
    options.set_hex_suffix("");
    options.set_uppercase_hex(false);
    options.set_space_after_operand_separator(true);
    let mut instr = Instruction::default();
    while decoder.can_decode() {
        decoder.decode_out(&mut instr);
        if instr.is_invalid() {
            continue;
        }
        if let Some(target) = vsyscall_operand(&instr) {
            let mut text = String::new();
            formatter.format(&instr, &mut text);
            found(instr.ip(), target, text, FindingKind::Code);
        }
    }
}

/// The vsyscall address an instruction materialises or uses, if any.
///
/// Immediates count only when the instruction puts them somewhere they can
/// be called from later (`mov reg/mem, imm`, `push imm`): `cmp rax,
/// 0xffffffffff600000` (gprofng skipping the page in `/proc/self/maps`) or
/// an `and` mask does not use the page. Memory operands in the page (a call
/// through or a read of the page, which `vsyscall=xonly` forbids too) and
/// branch targets always count.
pub fn vsyscall_operand(instr: &Instruction) -> Option<u64> {
    let materialises = matches!(instr.mnemonic(), Mnemonic::Mov | Mnemonic::Push);
    for i in 0..instr.op_count() {
        let value = match instr.op_kind(i) {
            OpKind::Immediate64
            | OpKind::Immediate32to64
            | OpKind::Immediate8to64
            | OpKind::Immediate32
            | OpKind::Immediate8to32 => {
                if !materialises {
                    continue;
                }
                instr.try_immediate(i).ok()?
            }
            OpKind::NearBranch64 | OpKind::NearBranch32 => instr.near_branch_target(),
            OpKind::Memory
                if instr.memory_base() == Register::None
                    || instr.memory_base() == Register::RIP =>
            {
                // `[disp]`, `[index*scale + disp]` and `[rip + x]` (whose
                // displacement iced reports as the absolute target).
                instr.memory_displacement64()
            }
            _ => continue,
        };
        if is_vsyscall(value) {
            return Some(value);
        }
    }
    None
}
