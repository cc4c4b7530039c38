//! `slipway audit-vsyscall`: find ELF code that uses the vsyscall page.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use slipway_vsyscall::audit::{AuditReport, audit_report};
use slipway_vsyscall::image::audit_image;

/// Arguments of `slipway audit-vsyscall`.
///
/// Exit status: 0 when nothing uses the vsyscall page, 1 when something
/// does, 2 when the input cannot be read.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditVsyscallArgs {
    /// What to audit: an image (`oci:DIR[:TAG]`, or an OCI layout directory),
    /// a directory tree, or one file (ELF, static archive `.a`, or `.rpm`).
    #[arg(value_name = "IMAGE|DIR|FILE")]
    pub(crate) target: String,
    /// Print the report as JSON on stdout (`findings`, `elf_files`, `skipped`).
    #[arg(long)]
    pub(crate) json: bool,
}

/// What the argument names.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Image {
        layout: PathBuf,
        reference: Option<String>,
    },
    Path(PathBuf),
}

fn parse_target(text: &str) -> Target {
    if let Some(rest) = text.strip_prefix("oci:") {
        // `oci:DIR:TAG`: a tag never contains `/`.
        return match rest.rsplit_once(':') {
            Some((dir, tag)) if !tag.contains('/') && !dir.is_empty() => Target::Image {
                layout: dir.into(),
                reference: Some(tag.to_owned()),
            },
            _ => Target::Image {
                layout: rest.into(),
                reference: None,
            },
        };
    }
    let path = PathBuf::from(text);
    if path.join("oci-layout").is_file() {
        return Target::Image {
            layout: path,
            reference: None,
        };
    }
    Target::Path(path)
}

fn audit(target: &Target) -> anyhow::Result<AuditReport> {
    match target {
        Target::Image { layout, reference } => audit_image(layout, reference.as_deref())
            .with_context(|| format!("cannot audit image `{}`", layout.display())),
        Target::Path(path) => {
            audit_report(path).with_context(|| format!("cannot audit `{}`", path.display()))
        }
    }
}

pub(crate) fn run(args: AuditVsyscallArgs) -> anyhow::Result<()> {
    let report = match audit(&parse_target(&args.target)) {
        Ok(report) => report,
        Err(err) => {
            crate::diagnostics::report(&err);
            std::process::exit(2);
        }
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        for finding in &report.findings {
            writeln!(stdout, "{finding}")?;
        }
    }
    stdout.flush()?;
    let mut stderr = std::io::stderr().lock();
    for (file, reason) in &report.skipped {
        writeln!(stderr, "warning: skipped `{file}`: {reason}")?;
    }
    if report.findings.is_empty() {
        writeln!(
            stderr,
            "no use of the vsyscall page in {} ELF files",
            report.elf_files
        )?;
        Ok(())
    } else {
        let mut files: Vec<&str> = report.findings.iter().map(|f| f.file.as_str()).collect();
        files.dedup();
        let n = report.findings.len();
        writeln!(
            stderr,
            "{n} {} of the vsyscall page in {} of {} ELF files",
            if n == 1 { "use" } else { "uses" },
            files.len(),
            report.elf_files
        )?;
        stderr.flush()?;
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            parse_target("oci:out/img:latest"),
            Target::Image {
                layout: "out/img".into(),
                reference: Some("latest".into())
            }
        );
        assert_eq!(
            parse_target("oci:/abs/img"),
            Target::Image {
                layout: "/abs/img".into(),
                reference: None
            }
        );
        assert_eq!(
            parse_target("/usr/lib/x86_64-linux-gnu/libc.so.6"),
            Target::Path("/usr/lib/x86_64-linux-gnu/libc.so.6".into())
        );
    }
}
