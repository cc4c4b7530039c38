//! Reading a recipe directory: parse each image file and its includes, merge
//! fragments, check everything, and order the images.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use toml::Spanned;

use crate::error::{Error, Loc, Result};
use crate::model::{
    Action, Base, DEFAULT_SOURCE_DATE_EPOCH, FromImage, Image, ImageConfig, PackageOp, Personality,
    Platform, Recipe, Repo, RepoKind, Source, SrpmPatch, Step,
};
use crate::raw::{RawBase, RawFile, RawPackageOp, RawRepo, RawSource, RawStep};
use crate::suggest::suggest;

/// Includes deeper than this are reported as a cycle.
const MAX_INCLUDE_DEPTH: usize = 16;

impl Recipe {
    /// Read and check every image of `root` (each `root/*.toml` is one image;
    /// fragments they `include` live in subdirectories).
    pub fn load(root: &Path) -> Result<Recipe> {
        let mut files = Vec::new();
        for entry in fs_err::read_dir(root).map_err(|e| Error::io(root, e))? {
            let entry = entry.map_err(|e| Error::io(root, e))?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                files.push(PathBuf::from(entry.file_name()));
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(Error::NoImages(root.to_path_buf()));
        }
        let mut images = Vec::new();
        let mut seen: BTreeMap<String, Loc> = BTreeMap::new();
        for rel in &files {
            let image = load_image(root, rel)?;
            if let Some(first) = seen.get(&image.name) {
                return Err(Error::Duplicate {
                    loc: image.loc.clone(),
                    kind: "image",
                    name: image.name.clone(),
                    first: first.clone(),
                });
            }
            seen.insert(image.name.clone(), image.loc.clone());
            images.push(image);
        }
        let images = order_images(images)?;
        Ok(Recipe {
            root: root.to_path_buf(),
            images,
        })
    }

    /// The image called `name`.
    pub fn image(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.name == name)
    }

    /// The images `names` and everything they are built from, bases first
    /// (all images when `names` is empty).
    pub fn select(&self, names: &[String]) -> Result<Vec<&Image>> {
        if names.is_empty() {
            return Ok(self.images.iter().collect());
        }
        let mut wanted = BTreeSet::new();
        let mut stack: Vec<&str> = Vec::new();
        for name in names {
            if self.image(name).is_none() {
                return Err(Error::NoSuchImage {
                    name: name.clone(),
                    dir: self.root.clone(),
                    suggestion: suggest(name, self.images.iter().map(|i| i.name.as_str())),
                });
            }
            stack.push(name);
        }
        while let Some(name) = stack.pop() {
            if !wanted.insert(name.to_owned()) {
                continue;
            }
            if let Some(image) = self.image(name) {
                stack.extend(image_deps(image).into_iter().map(|(n, _)| n));
            }
        }
        Ok(self
            .images
            .iter()
            .filter(|i| wanted.contains(&i.name))
            .collect())
    }
}

/// The images `image` is built from, with where each is named.
fn image_deps(image: &Image) -> Vec<(&str, &Loc)> {
    let mut deps = Vec::new();
    if let Base::Image(name) = &image.base {
        deps.push((name.as_str(), &image.base_loc));
    }
    for step in &image.steps {
        if let Some(from) = &step.from_image {
            deps.push((from.image.as_str(), &step.loc));
        }
    }
    deps
}

/// Check image references, find cycles, and sort bases first (otherwise in
/// file order).
fn order_images(images: Vec<Image>) -> Result<Vec<Image>> {
    let names: Vec<&str> = images.iter().map(|i| i.name.as_str()).collect();
    for image in &images {
        for (dep, loc) in image_deps(image) {
            if !names.contains(&dep) {
                let key = if matches!(&image.base, Base::Image(b) if b == dep) {
                    "base.image"
                } else {
                    "from-image.image"
                };
                return Err(Error::UnknownName {
                    loc: loc.clone(),
                    key: key.into(),
                    kind: "image",
                    name: dep.into(),
                    suggestion: suggest(dep, names.iter().copied()),
                });
            }
        }
    }
    // Depth-first search with an explicit path, so the cycle can be printed.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        i: usize,
        images: &[Image],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<()> {
        marks[i] = Mark::Active;
        path.push(i);
        for (dep, loc) in image_deps(&images[i]) {
            let Some(j) = images.iter().position(|im| im.name == dep) else {
                continue;
            };
            match marks[j] {
                Mark::Done => {}
                Mark::Active => {
                    let start = path.iter().position(|&p| p == j).unwrap_or(0);
                    let mut chain: Vec<&str> = path[start..]
                        .iter()
                        .map(|&p| images[p].name.as_str())
                        .collect();
                    chain.push(&images[j].name);
                    return Err(Error::Cycle {
                        loc: loc.clone(),
                        chain: chain.join(" -> "),
                    });
                }
                Mark::New => visit(j, images, marks, path, out)?,
            }
        }
        path.pop();
        marks[i] = Mark::Done;
        out.push(i);
        Ok(())
    }
    let mut marks = vec![Mark::New; images.len()];
    let mut order = Vec::new();
    for i in 0..images.len() {
        if marks[i] == Mark::New {
            visit(i, &images, &mut marks, &mut Vec::new(), &mut order)?;
        }
    }
    // Platforms of image bases are inherited.
    let mut slots: Vec<Option<Image>> = images.into_iter().map(Some).collect();
    let mut out: Vec<Image> = Vec::new();
    for i in order {
        let Some(mut image) = slots[i].take() else {
            continue;
        };
        if let Base::Image(base) = &image.base
            && let Some(b) = out.iter().find(|o| &o.name == base)
            && image.platform != b.platform
        {
            return Err(Error::Invalid {
                loc: image.loc.clone(),
                key: "platform".into(),
                message: format!(
                    "the image is `{}` but its base `{}` is `{}`",
                    image.platform.as_str(),
                    b.name,
                    b.platform.as_str()
                ),
            });
        }
        image.steps.shrink_to_fit();
        out.push(image);
    }
    Ok(out)
}

/// A file's text, for turning byte offsets into lines.
struct Text {
    rel: PathBuf,
    text: String,
}

impl Text {
    fn loc(&self, offset: usize) -> Loc {
        let end = offset.min(self.text.len());
        Loc {
            file: self.rel.clone(),
            line: self.text.as_bytes()[..end]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1,
        }
    }
    fn at<T>(&self, s: &Spanned<T>) -> Loc {
        self.loc(s.span().start)
    }
}

/// A name reference checked once the whole image is merged.
struct Ref {
    loc: Loc,
    key: &'static str,
    name: String,
}

/// A step before image-wide defaults and `depends-on` are resolved.
struct PendingStep {
    step: Step,
    personality: Option<Personality>,
    depends_on: Option<Vec<(String, Loc)>>,
}

/// One file's contribution to an image (fragments merge into the image file).
#[derive(Default)]
struct Partial {
    name: Option<(String, Loc)>,
    description: Option<String>,
    publish: Option<bool>,
    base: Option<(Base, Option<Platform>, Loc)>,
    platform: Option<Platform>,
    personality: Option<Personality>,
    source_date_epoch: Option<i64>,
    releasever: Option<String>,
    repos: Vec<Repo>,
    sources: Vec<Source>,
    steps: Vec<PendingStep>,
    config: ImageConfig,
    source_refs: Vec<Ref>,
}

impl Partial {
    /// Merge `later` over `self`: lists concatenate, scalars and map keys of
    /// `later` win.
    fn merge(&mut self, later: Partial) {
        if later.name.is_some() {
            self.name = later.name;
        }
        if later.description.is_some() {
            self.description = later.description;
        }
        if later.publish.is_some() {
            self.publish = later.publish;
        }
        if later.base.is_some() {
            self.base = later.base;
        }
        if later.platform.is_some() {
            self.platform = later.platform;
        }
        if later.personality.is_some() {
            self.personality = later.personality;
        }
        if later.source_date_epoch.is_some() {
            self.source_date_epoch = later.source_date_epoch;
        }
        if later.releasever.is_some() {
            self.releasever = later.releasever;
        }
        self.repos.extend(later.repos);
        self.sources.extend(later.sources);
        self.steps.extend(later.steps);
        self.source_refs.extend(later.source_refs);
        let c = later.config;
        self.config.env.extend(c.env);
        self.config.labels.extend(c.labels);
        if c.entrypoint.is_some() {
            self.config.entrypoint = c.entrypoint;
        }
        if c.cmd.is_some() {
            self.config.cmd = c.cmd;
        }
        if c.workdir.is_some() {
            self.config.workdir = c.workdir;
        }
        if c.user.is_some() {
            self.config.user = c.user;
        }
    }
}

fn read_text(root: &Path, rel: &Path) -> Result<Text> {
    let path = root.join(rel);
    let text = fs_err::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    Ok(Text {
        rel: rel.to_path_buf(),
        text,
    })
}

/// Parse one file, turning serde errors into located ones.
fn parse(text: &Text) -> Result<RawFile> {
    toml::from_str::<RawFile>(&text.text).map_err(|err| {
        let loc = text.loc(err.span().map_or(0, |s| s.start));
        let message = err.message().to_owned();
        if let Some(rest) = message.strip_prefix("unknown field ") {
            let quoted: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
            if let Some((key, expected)) = quoted.split_first() {
                return Error::UnknownKey {
                    loc,
                    key: (*key).to_owned(),
                    suggestion: suggest(key, expected.iter().copied()),
                };
            }
        }
        Error::Syntax {
            loc,
            message: message.trim_end().replace('\n', " "),
        }
    })
}

fn load_image(root: &Path, rel: &Path) -> Result<Image> {
    let text = read_text(root, rel)?;
    let image_loc = text.loc(0);
    let mut stack = vec![rel.to_path_buf()];
    let partial = load_partial(root, &text, &mut stack)?;
    let stem = rel
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (name, loc) = partial.name.clone().unwrap_or((stem, image_loc.clone()));
    finish_image(name, loc, partial)
}

fn load_partial(root: &Path, text: &Text, stack: &mut Vec<PathBuf>) -> Result<Partial> {
    let raw = parse(text)?;
    let mut merged = Partial::default();
    for inc in &raw.include {
        let rel = PathBuf::from(inc.get_ref());
        let loc = text.at(inc);
        if !root.join(&rel).is_file() {
            return Err(Error::MissingFile {
                loc,
                key: "include".into(),
                path: inc.get_ref().clone(),
            });
        }
        if stack.contains(&rel) || stack.len() > MAX_INCLUDE_DEPTH {
            return Err(Error::Invalid {
                loc,
                key: "include".into(),
                message: format!("`{}` includes itself", rel.display()),
            });
        }
        stack.push(rel.clone());
        let inner = read_text(root, &rel)?;
        let part = load_partial(root, &inner, stack)?;
        stack.pop();
        merged.merge(part);
    }
    merged.merge(convert(root, text, raw)?);
    Ok(merged)
}

fn check_sha256(text: &Text, key: &str, value: &Spanned<String>) -> Result<String> {
    let v = value.get_ref();
    if v.len() == 64 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(v.clone())
    } else {
        Err(Error::BadSha256 {
            loc: text.at(value),
            key: key.into(),
            value: v.clone(),
        })
    }
}

fn check_file(root: &Path, text: &Text, key: &str, value: &Spanned<String>) -> Result<PathBuf> {
    let rel = PathBuf::from(value.get_ref());
    let escapes = rel
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)));
    if escapes {
        return Err(Error::Invalid {
            loc: text.at(value),
            key: key.into(),
            message: format!(
                "`{}` must be a relative path inside the recipe directory",
                value.get_ref()
            ),
        });
    }
    if !root.join(&rel).is_file() {
        return Err(Error::MissingFile {
            loc: text.at(value),
            key: key.into(),
            path: value.get_ref().clone(),
        });
    }
    Ok(rel)
}

fn platform(text: &Text, key: &str, value: &Spanned<String>) -> Result<Platform> {
    Platform::parse(value.get_ref()).ok_or_else(|| Error::Invalid {
        loc: text.at(value),
        key: key.into(),
        message: format!(
            "unknown platform `{}`{} (expected `linux/amd64` or `linux/386`)",
            value.get_ref(),
            suggest(value.get_ref(), ["linux/amd64", "linux/386"])
        ),
    })
}

fn personality(text: &Text, key: &str, value: &Spanned<String>) -> Result<Personality> {
    Personality::parse(value.get_ref()).ok_or_else(|| Error::Invalid {
        loc: text.at(value),
        key: key.into(),
        message: format!(
            "unknown personality `{}` (expected `linux64` or `linux32`)",
            value.get_ref()
        ),
    })
}

fn convert(root: &Path, text: &Text, raw: RawFile) -> Result<Partial> {
    let mut p = Partial {
        name: raw.name.as_ref().map(|n| (n.get_ref().clone(), text.at(n))),
        description: raw.description,
        publish: raw.publish,
        ..Partial::default()
    };
    if let Some(base) = &raw.base {
        p.base = Some(convert_base(text, base)?);
    }
    if let Some(v) = &raw.platform {
        p.platform = Some(platform(text, "platform", v)?);
    }
    if let Some(v) = &raw.personality {
        p.personality = Some(personality(text, "personality", v)?);
    }
    if let Some(v) = &raw.source_date_epoch {
        if *v.get_ref() < 0 {
            return Err(Error::Invalid {
                loc: text.at(v),
                key: "source-date-epoch".into(),
                message: "must be seconds since 1970 (not negative)".into(),
            });
        }
        p.source_date_epoch = Some(*v.get_ref());
    }
    if let Some(v) = &raw.releasever {
        let value = v.get_ref();
        if value.is_empty() || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
            return Err(Error::Invalid {
                loc: text.at(v),
                key: "releasever".into(),
                message: format!(
                    "`{value}` is not a release version (expected letters, digits and dots, \
                     like \"6\")"
                ),
            });
        }
        p.releasever = Some(value.clone());
    }
    for repo in &raw.repos {
        p.repos
            .push(convert_repo(root, text, repo, &mut p.source_refs)?);
    }
    for source in &raw.sources {
        p.sources
            .push(convert_source(text, source, &mut p.source_refs)?);
    }
    for step in raw.steps {
        p.steps
            .push(convert_step(root, text, step, &mut p.source_refs)?);
    }
    if let Some(c) = raw.config {
        p.config = ImageConfig {
            env: c.env,
            entrypoint: c.entrypoint,
            cmd: c.cmd,
            labels: c.labels,
            workdir: c.workdir,
            user: c.user,
        };
    }
    Ok(p)
}

fn convert_base(text: &Text, base: &Spanned<RawBase>) -> Result<(Base, Option<Platform>, Loc)> {
    let loc = text.at(base);
    let b = base.get_ref();
    let plat = b
        .platform
        .as_ref()
        .map(|v| platform(text, "base.platform", v))
        .transpose()?;
    let mut loc = loc;
    let kind = match (&b.image, &b.reference) {
        (Some(image), None) => {
            loc = text.at(image);
            if let Some(v) = &b.platform {
                return Err(Error::Invalid {
                    loc: text.at(v),
                    key: "base.platform".into(),
                    message: "an image base inherits its platform; remove `platform`".into(),
                });
            }
            Base::Image(image.get_ref().clone())
        }
        (None, Some(reference)) => {
            let r = reference.get_ref();
            if let Some((_, digest)) = r.split_once('@') {
                let hex = digest.strip_prefix("sha256:").unwrap_or("");
                let spanned = Spanned::new(reference.span(), hex.to_owned());
                check_sha256(text, "base.ref", &spanned)?;
            }
            Base::Registry {
                reference: r.clone(),
                platform: plat.unwrap_or(Platform::LinuxAmd64),
            }
        }
        _ => {
            return Err(Error::Invalid {
                loc,
                key: "base".into(),
                message: "give exactly one of `ref` (a registry image) or `image` (an image of this recipe)".into(),
            });
        }
    };
    Ok((kind, plat, loc))
}

fn convert_repo(
    root: &Path,
    text: &Text,
    repo: &Spanned<RawRepo>,
    refs: &mut Vec<Ref>,
) -> Result<Repo> {
    let r = repo.get_ref();
    let loc = text.at(repo);
    let kind = match (&r.file, &r.source, &r.rpm) {
        (Some(f), None, None) => RepoKind::File(check_file(root, text, "repos.file", f)?),
        (None, Some(s), None) => {
            refs.push(Ref {
                loc: text.at(s),
                key: "repos.source",
                name: s.get_ref().clone(),
            });
            RepoKind::Source(s.get_ref().clone())
        }
        (None, None, Some(s)) => {
            refs.push(Ref {
                loc: text.at(s),
                key: "repos.rpm",
                name: s.get_ref().clone(),
            });
            RepoKind::Rpm(s.get_ref().clone())
        }
        _ => {
            return Err(Error::Invalid {
                loc,
                key: "repos".into(),
                message: format!(
                    "repo `{}`: give exactly one of `file`, `source` or `rpm`",
                    r.name.get_ref()
                ),
            });
        }
    };
    Ok(Repo {
        name: r.name.get_ref().clone(),
        kind,
        loc,
    })
}

fn convert_source(text: &Text, source: &Spanned<RawSource>, refs: &mut Vec<Ref>) -> Result<Source> {
    let s = source.get_ref();
    let loc = text.at(source);
    let sha256 = s
        .sha256
        .as_ref()
        .map(|v| check_sha256(text, "sources.sha256", v))
        .transpose()?;
    let url = s.url.get_ref();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Error::Invalid {
            loc: text.at(&s.url),
            key: "sources.url".into(),
            message: format!("`{url}` is not an http(s) URL"),
        });
    }
    let file_name = match &s.file {
        Some(f) => f.get_ref().clone(),
        None => url
            .split(['?', '#'])
            .next()
            .and_then(|u| u.rsplit('/').next())
            .unwrap_or_default()
            .to_owned(),
    };
    if file_name.is_empty() || file_name.contains('/') || file_name.starts_with('.') {
        return Err(Error::Invalid {
            loc,
            key: "sources.file".into(),
            message: format!(
                "source `{}` needs a plain file name (set `file`)",
                s.name.get_ref()
            ),
        });
    }
    if s.asc.is_some() != s.keyring.is_some() {
        return Err(Error::Invalid {
            loc,
            key: "sources.asc".into(),
            message: format!(
                "source `{}`: `asc` and `keyring` go together",
                s.name.get_ref()
            ),
        });
    }
    if let Some(k) = &s.keyring {
        refs.push(Ref {
            loc: text.at(k),
            key: "sources.keyring",
            name: k.get_ref().clone(),
        });
    }
    Ok(Source {
        name: s.name.get_ref().clone(),
        url: url.clone(),
        sha256,
        file_name,
        asc: s.asc.as_ref().map(|a| a.get_ref().clone()),
        keyring: s.keyring.as_ref().map(|k| k.get_ref().clone()),
        loc,
    })
}

fn convert_ops(
    text: &Text,
    ops: &Spanned<Vec<Spanned<RawPackageOp>>>,
    refs: &mut Vec<Ref>,
) -> Result<Vec<PackageOp>> {
    let mut out = Vec::new();
    for op in ops.get_ref() {
        let RawPackageOp {
            install,
            install_local,
            update,
            erase,
            builddep,
            clean,
        } = op.get_ref();
        let mut found = Vec::new();
        if let Some(v) = install {
            found.push(PackageOp::Install(v.clone()));
        }
        if let Some(v) = install_local {
            found.push(PackageOp::InstallLocal(v.clone()));
        }
        if let Some(v) = update {
            found.push(PackageOp::Update(v.clone()));
        }
        if let Some(v) = erase {
            found.push(PackageOp::Erase(v.clone()));
        }
        if let Some(v) = builddep {
            refs.push(Ref {
                loc: text.at(v),
                key: "packages.builddep",
                name: v.get_ref().clone(),
            });
            found.push(PackageOp::BuildDep(v.get_ref().clone()));
        }
        if *clean == Some(true) {
            found.push(PackageOp::Clean);
        }
        if found.len() != 1 {
            return Err(Error::Invalid {
                loc: text.at(op),
                key: "packages".into(),
                message: "each operation has exactly one of `install`, `install-local`, `update`, `erase`, `builddep`, `clean = true`".into(),
            });
        }
        out.extend(found);
    }
    Ok(out)
}

fn convert_step(
    root: &Path,
    text: &Text,
    step: Spanned<RawStep>,
    refs: &mut Vec<Ref>,
) -> Result<PendingStep> {
    let loc = text.at(&step);
    let s = step.into_inner();
    let name = s.name.get_ref().clone();
    let mut actions = Vec::new();
    if let Some(script) = &s.script {
        actions.push(Action::Script(check_file(
            root,
            text,
            "steps.script",
            script,
        )?));
    }
    if let Some(ops) = &s.packages {
        actions.push(Action::Packages(convert_ops(text, ops, refs)?));
    }
    if let Some(p) = &s.srpm_patch {
        let r = p.get_ref();
        for (key, v) in [
            ("steps.srpm-patch.srpm", &r.srpm),
            ("steps.srpm-patch.patch", &r.patch),
        ] {
            refs.push(Ref {
                loc: text.at(v),
                key,
                name: v.get_ref().clone(),
            });
        }
        actions.push(Action::SrpmPatch(SrpmPatch {
            srpm: r.srpm.get_ref().clone(),
            patch: r.patch.get_ref().clone(),
            strip: r.strip,
            remove_empty_files: r.remove_empty_files,
            release_suffix: r.release_suffix.clone().unwrap_or_else(|| ".1".into()),
            topdir: r.topdir.clone().unwrap_or_else(|| "/root/rpmbuild".into()),
        }));
    }
    if actions.len() != 1 {
        return Err(Error::Invalid {
            loc,
            key: "steps".into(),
            message: format!(
                "step `{name}` needs exactly one of `script`, `packages` or `srpm-patch`"
            ),
        });
    }
    for input in &s.inputs {
        refs.push(Ref {
            loc: text.at(input),
            key: "steps.inputs",
            name: input.get_ref().clone(),
        });
    }
    let from_image = s.from_image.as_ref().map(|f| FromImage {
        image: f.get_ref().image.get_ref().clone(),
        path: f.get_ref().path.clone(),
    });
    if let Some(f) = &s.from_image
        && !f.get_ref().path.starts_with('/')
    {
        return Err(Error::Invalid {
            loc: text.at(f),
            key: "steps.from-image.path".into(),
            message: format!("`{}` must be an absolute path", f.get_ref().path),
        });
    }
    let personality = s
        .personality
        .as_ref()
        .map(|p| personality(text, "steps.personality", p))
        .transpose()?;
    let depends_on = s.depends_on.as_ref().map(|deps| {
        deps.iter()
            .map(|d| (d.get_ref().clone(), text.at(d)))
            .collect()
    });
    let action = actions.remove(0);
    Ok(PendingStep {
        step: Step {
            name,
            loc,
            description: s.description,
            action,
            inputs: s.inputs.iter().map(|i| i.get_ref().clone()).collect(),
            from_image,
            env: s.env,
            network: s.network,
            personality: Personality::Linux64,
            depends_on: Vec::new(),
            transient: s.transient,
        },
        personality,
        depends_on,
    })
}

/// First definition of each name, or the duplicate error.
fn unique<'a>(
    kind: &'static str,
    items: impl IntoIterator<Item = (&'a str, &'a Loc)>,
) -> Result<BTreeMap<&'a str, &'a Loc>> {
    let mut seen: BTreeMap<&str, &Loc> = BTreeMap::new();
    for (name, loc) in items {
        if let Some(first) = seen.get(name) {
            return Err(Error::Duplicate {
                loc: loc.clone(),
                kind,
                name: name.into(),
                first: (*first).clone(),
            });
        }
        seen.insert(name, loc);
    }
    Ok(seen)
}

fn finish_image(name: String, loc: Loc, p: Partial) -> Result<Image> {
    let Some((base, base_platform, base_loc)) = p.base else {
        return Err(Error::Invalid {
            loc,
            key: "base".into(),
            message: format!("image `{name}` has no `[base]`"),
        });
    };
    let platform = p.platform.or(base_platform).unwrap_or(Platform::LinuxAmd64);
    let image_personality = p.personality.unwrap_or(match platform {
        Platform::LinuxAmd64 => Personality::Linux64,
        Platform::Linux386 => Personality::Linux32,
    });
    unique("repo", p.repos.iter().map(|r| (r.name.as_str(), &r.loc)))?;
    let sources = unique(
        "source",
        p.sources.iter().map(|s| (s.name.as_str(), &s.loc)),
    )?;
    unique(
        "step",
        p.steps.iter().map(|s| (s.step.name.as_str(), &s.step.loc)),
    )?;
    for r in &p.source_refs {
        if !sources.contains_key(r.name.as_str()) {
            return Err(Error::UnknownName {
                loc: r.loc.clone(),
                key: r.key.into(),
                kind: "source",
                name: r.name.clone(),
                suggestion: suggest(&r.name, sources.keys().copied()),
            });
        }
    }
    let all_steps: Vec<String> = p.steps.iter().map(|s| s.step.name.clone()).collect();
    let mut steps: Vec<Step> = Vec::with_capacity(p.steps.len());
    for pending in p.steps {
        let mut step = pending.step;
        step.personality = pending.personality.unwrap_or(image_personality);
        if matches!(step.action, Action::Packages(ref ops) if ops.iter().any(|o| matches!(o, PackageOp::InstallLocal(_))))
            && step.from_image.is_none()
        {
            return Err(Error::Invalid {
                loc: step.loc.clone(),
                key: "packages.install-local".into(),
                message: format!(
                    "step `{}` installs local RPMs but has no `from-image`",
                    step.name
                ),
            });
        }
        // Direct dependencies: as written, or every earlier step.
        let direct: Vec<String> = match pending.depends_on {
            None => steps.iter().map(|s| s.name.clone()).collect(),
            Some(deps) => {
                let mut direct = Vec::new();
                for (dep, dep_loc) in deps {
                    if steps.iter().any(|s| s.name == dep) {
                        direct.push(dep);
                    } else if all_steps.contains(&dep) {
                        return Err(Error::Invalid {
                            loc: dep_loc,
                            key: "steps.depends-on".into(),
                            message: format!(
                                "step `{}` may only depend on steps written before it, not `{dep}`",
                                step.name
                            ),
                        });
                    } else {
                        return Err(Error::UnknownName {
                            loc: dep_loc,
                            key: "steps.depends-on".into(),
                            kind: "step",
                            name: dep.clone(),
                            suggestion: suggest(&dep, steps.iter().map(|s| s.name.as_str())),
                        });
                    }
                }
                direct
            }
        };
        // Transitive closure, in recipe order.
        let mut closure: BTreeSet<&str> = BTreeSet::new();
        for d in &direct {
            closure.insert(d);
            if let Some(ds) = steps.iter().find(|s| &s.name == d) {
                closure.extend(ds.depends_on.iter().map(String::as_str));
            }
        }
        step.depends_on = steps
            .iter()
            .filter(|s| closure.contains(s.name.as_str()))
            .map(|s| s.name.clone())
            .collect();
        steps.push(step);
    }
    Ok(Image {
        name,
        loc,
        description: p.description,
        publish: p.publish.unwrap_or(true),
        base,
        base_loc,
        platform,
        personality: image_personality,
        source_date_epoch: p.source_date_epoch.unwrap_or(DEFAULT_SOURCE_DATE_EPOCH),
        releasever: p.releasever,
        repos: p.repos,
        sources: p.sources,
        steps,
        config: p.config,
    })
}
