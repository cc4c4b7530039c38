//! `slipway resolve`: resolve a yum transaction and print it like yum.

use std::path::PathBuf;

use anyhow::Context;
use slipway_yum::Repo;
use slipway_yum::repofile::{Vars, read_repo_file};
use slipway_yum::resolve::{Action, Job, Request, Transaction, parse_installed_file, resolve};
use slipway_yum::source::{Format, LoadOptions, load_repos};
use slipway_yum::store::{Store, Transport};

/// Repository flags shared by `resolve` and `fetch`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RepoArgs {
    /// A `.repo` file (repeatable).
    #[arg(long = "repo-file", value_name = "FILE", required = true)]
    pub(crate) repo_files: Vec<PathBuf>,
    /// Machine architecture (`$arch`; `$basearch` is derived).
    #[arg(long, default_value = "x86_64")]
    pub(crate) arch: String,
    /// `$releasever`.
    #[arg(long, default_value = "6")]
    pub(crate) releasever: String,
    /// Content store (default: `$XDG_CACHE_HOME/slipway`, else `~/.cache/slipway`).
    #[arg(long, value_name = "DIR", env = "SLIPWAY_STORE")]
    pub(crate) store: Option<PathBuf>,
    /// Read `primary_db`/`filelists_db` (sqlite) instead of the XML when a repo has both.
    #[arg(long)]
    pub(crate) sqlite: bool,
}

impl RepoArgs {
    pub(crate) fn store(&self) -> Store {
        Store::new(super::store_root(self.store.as_ref()))
    }

    pub(crate) fn configs(&self) -> anyhow::Result<Vec<slipway_yum::repofile::RepoConfig>> {
        let vars = Vars::new(&self.arch, &self.releasever);
        let mut configs = Vec::new();
        for f in &self.repo_files {
            configs.extend(read_repo_file(f, &vars)?);
        }
        Ok(configs)
    }

    pub(crate) fn load(&self, transport: &Transport) -> anyhow::Result<Vec<Repo>> {
        let vars = Vars::new(&self.arch, &self.releasever);
        let format = if self.sqlite {
            Format::Sqlite
        } else {
            Format::Xml
        };
        let repos = load_repos(
            &self.configs()?,
            &self.store(),
            transport,
            &LoadOptions { vars, format },
        )
        .context("cannot load the repositories")?;
        Ok(repos)
    }
}

/// Arguments of `slipway resolve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ResolveArgs {
    #[command(flatten)]
    pub(crate) repos: RepoArgs,
    /// Installed packages, one NEVRA per line as `rpm -qa` prints them.
    #[arg(long, value_name = "FILE")]
    pub(crate) installed: Option<PathBuf>,
    /// Print the transaction as JSON (an array of objects) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Also write the transaction as a lock file (`slipway.lock` format: NEVRA,
    /// repo, URL, size and checksum of every package, and each repo's
    /// repomd revision), for `slipway fetch --lock FILE --locked`.
    #[arg(long, value_name = "FILE")]
    pub(crate) write_lock: Option<PathBuf>,
    /// `[install|update|erase] PKG…` (the job defaults to install).
    #[arg(value_name = "JOB|PKG", trailing_var_arg = true)]
    pub(crate) words: Vec<String>,
}

/// The job word and package specs of `[install|update|erase] PKG…`.
pub(crate) fn job_and_specs(words: &[String]) -> (Job, Vec<String>) {
    match words.first().map(String::as_str) {
        Some("install") => (Job::Install, words[1..].to_vec()),
        Some("update" | "upgrade") => (Job::Update, words[1..].to_vec()),
        Some("erase" | "remove") => (Job::Erase, words[1..].to_vec()),
        _ => (Job::Install, words.to_vec()),
    }
}

/// Load repositories and the installed set, then resolve.
pub(crate) fn resolve_words(
    repos_args: &RepoArgs,
    installed: Option<&PathBuf>,
    words: &[String],
    transport: &Transport,
) -> anyhow::Result<(Vec<Repo>, Transaction)> {
    let (job, specs) = job_and_specs(words);
    if specs.is_empty() && job != Job::Update {
        anyhow::bail!("nothing to do: name at least one package");
    }
    let repos = repos_args.load(transport)?;
    let installed = match installed {
        Some(path) => parse_installed_file(path, &repos)?,
        None => Vec::new(),
    };
    let tx = resolve(
        &repos,
        &installed,
        &Request { job, specs },
        &repos_args.arch,
    )?;
    for name in &tx.skipped {
        eprintln!("warning: no package matches `{name}`: skipped, as yum 3 does");
    }
    Ok((repos, tx))
}

pub(crate) fn run(args: ResolveArgs) -> anyhow::Result<()> {
    let transport = Transport::new()?;
    let (repos, tx) = resolve_words(
        &args.repos,
        args.installed.as_ref(),
        &args.words,
        &transport,
    )?;
    if let Some(path) = &args.write_lock {
        slipway_yum::Lock::from_transaction(&tx, &repos).write(path)?;
    }
    let out = if args.json { json(&tx) } else { table(&tx) };
    print!("{out}");
    Ok(())
}

fn json(tx: &Transaction) -> String {
    let items: Vec<serde_json::Value> = tx
        .items
        .iter()
        .map(|i| {
            let p = &i.package;
            // serde_json's default map is sorted: canonical key order.
            serde_json::json!({
                "action": i.action.as_str(),
                "name": p.name,
                "epoch": p.evr.epoch,
                "version": p.evr.version,
                "release": p.evr.release,
                "arch": p.arch,
                "repo": i.repo,
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&items).unwrap_or_default();
    text.push('\n');
    text
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} M", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1} k", b as f64 / 1024.0),
        b => b.to_string(),
    }
}

/// A transaction table in yum's layout.
fn table(tx: &Transaction) -> String {
    let rule = "=".repeat(80);
    let mut out = String::new();
    if tx.items.is_empty() {
        out.push_str("Nothing to do\n");
        return out;
    }
    out.push_str(&format!(
        "{rule}\n {:<24} {:<8} {:<20} {:<12} {:>8}\n{rule}\n",
        "Package", "Arch", "Version", "Repository", "Size"
    ));
    let sections = [
        (Action::Install, "Installing:"),
        (Action::Upgrade, "Updating:"),
        (Action::Downgrade, "Downgrading:"),
        (Action::Erase, "Removing:"),
    ];
    for (action, title) in sections {
        let items: Vec<_> = tx.items.iter().filter(|i| i.action == action).collect();
        if items.is_empty() {
            continue;
        }
        out.push_str(title);
        out.push('\n');
        for i in items {
            let p = &i.package;
            let version = if p.evr.epoch == 0 {
                format!("{}-{}", p.evr.version, p.evr.release)
            } else {
                format!("{}:{}-{}", p.evr.epoch, p.evr.version, p.evr.release)
            };
            out.push_str(&format!(
                " {:<24} {:<8} {:<20} {:<12} {:>8}\n",
                p.name,
                p.arch,
                version,
                i.repo,
                human_size(p.size)
            ));
            for r in &i.replaces {
                out.push_str(&format!("     replacing  {r}\n"));
            }
        }
    }
    out.push_str("\nTransaction Summary\n");
    out.push_str(&format!("{rule}\n"));
    for (action, word) in [
        (Action::Install, "Install"),
        (Action::Upgrade, "Upgrade"),
        (Action::Downgrade, "Downgrade"),
        (Action::Erase, "Remove"),
    ] {
        let n = tx.items.iter().filter(|i| i.action == action).count();
        if n > 0 {
            out.push_str(&format!(
                "{word:<10} {n} Package{}\n",
                if n == 1 { "" } else { "(s)" }
            ));
        }
    }
    out
}
