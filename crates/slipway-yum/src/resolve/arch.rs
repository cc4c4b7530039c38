//! Architecture policy: which package arches a machine accepts and which
//! it prefers (`multilib_policy=best`).

/// The arches a machine of `arch` installs, best first. `None` for an arch
/// not in the table (treated as accepting only itself and noarch).
pub fn compatible_arches(arch: &str) -> Vec<&str> {
    match arch {
        "x86_64" | "amd64" => vec!["x86_64", "noarch", "i686", "i586", "i486", "i386"],
        "i686" => vec!["i686", "noarch", "i586", "i486", "i386"],
        "i586" => vec!["i586", "noarch", "i486", "i386"],
        "i486" => vec!["i486", "noarch", "i386"],
        // An i386 base (CentOS 6 i386 media, `$basearch` = i386) runs on
        // i686 hardware and takes every x86-32 package.
        "i386" => vec!["i686", "noarch", "i586", "i486", "i386"],
        other => vec![other, "noarch"],
    }
}

/// Rank of a package arch on this machine: lower is better; `None` when
/// the machine cannot install it.
pub fn arch_rank(machine: &str, pkg_arch: &str) -> Option<u32> {
    compatible_arches(machine)
        .iter()
        .position(|a| *a == pkg_arch)
        .map(|p| p as u32)
}
