//! Push: blobs (existence check, cross-repository mount, monolithic or
//! chunked upload), then manifests with their exact bytes and media type.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use url::Url;

use crate::client::{Session, join, status_error};
use crate::digest::sha256_digest;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::manifest::{Descriptor, ManifestDoc, ManifestKind, kind_of};
use crate::reference::Reference;
use crate::reporter::{NoReporter, Reporter};

/// How to push.
#[derive(Clone)]
pub struct PushOptions {
    /// Repositories of the same registry that may hold the blobs already;
    /// they are tried as `mount` sources before uploading.
    pub mount_from: Vec<String>,
    /// Progress receiver.
    pub reporter: Arc<dyn Reporter>,
}

impl Default for PushOptions {
    fn default() -> Self {
        Self {
            mount_from: Vec::new(),
            reporter: Arc::new(NoReporter),
        }
    }
}

impl std::fmt::Debug for PushOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushOptions")
            .field("mount_from", &self.mount_from)
            .finish_non_exhaustive()
    }
}

/// How a blob got into the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPush {
    /// It was there already.
    Exists,
    /// Mounted from another repository.
    Mounted,
    /// Uploaded with one `PUT`.
    Monolithic,
    /// Uploaded in `PATCH` chunks.
    Chunked,
}

impl Session {
    /// `HEAD` the blob: does the repository have it?
    pub async fn blob_exists(&self, digest: &str) -> Result<bool> {
        let url = self.repo_url(&format!("blobs/{digest}")).await?;
        let resp = self.send(Method::HEAD, &url, |rb| rb).await?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(status_error(resp, Method::HEAD, &url).await),
        }
    }

    /// Upload the blob `desc` from `layout` unless the registry has it.
    pub async fn push_blob(
        &self,
        desc: &Descriptor,
        layout: &Layout,
        mount_from: &[String],
        reporter: &dyn Reporter,
    ) -> Result<BlobPush> {
        if self.blob_exists(&desc.digest).await? {
            reporter.blob_done(&desc.digest, true);
            return Ok(BlobPush::Exists);
        }
        let mut location = None;
        // Only the first source is tried: a refused mount opens an upload anyway.
        if let Some(from) = mount_from.iter().find(|f| f.as_str() != self.repository) {
            let mut url = self.repo_url("blobs/uploads/").await?;
            url.query_pairs_mut()
                .append_pair("mount", &desc.digest)
                .append_pair("from", from);
            let resp = self
                .send(Method::POST, &url, |rb| rb.header(CONTENT_LENGTH, 0))
                .await?;
            match resp.status().as_u16() {
                201 => {
                    reporter.blob_done(&desc.digest, true);
                    return Ok(BlobPush::Mounted);
                }
                // Not mountable: the registry opened a normal upload instead.
                202 => {
                    location = Some(location_of(&resp, &url)?);
                }
                _ => return Err(status_error(resp, Method::POST, &url).await),
            }
        }
        let mut location = match location {
            Some(l) => l,
            None => self.start_upload().await?,
        };
        let path = layout.blob_path(&desc.digest);
        let mut file = fs_err::File::open(&path)?;
        let actual = file.metadata()?.len();
        if actual != desc.size {
            return Err(Error::SizeMismatch {
                url: path.display().to_string(),
                expected: desc.size,
                actual,
            });
        }
        reporter.blob_start(&desc.digest, desc.size);
        let chunk = self.client.options().chunk_size.max(1);
        let kind = if desc.size <= chunk {
            let mut body = Vec::with_capacity(desc.size as usize);
            file.read_to_end(&mut body)?;
            let body = Bytes::from(body);
            let url = with_digest(&location, &desc.digest);
            let resp = self
                .send(Method::PUT, &url, |rb| {
                    rb.header(CONTENT_TYPE, "application/octet-stream")
                        .header(CONTENT_LENGTH, body.len())
                        .body(body.clone())
                })
                .await?;
            if resp.status().as_u16() != 201 {
                return Err(status_error(resp, Method::PUT, &url).await);
            }
            reporter.blob_progress(&desc.digest, desc.size);
            BlobPush::Monolithic
        } else {
            let mut offset = 0u64;
            while offset < desc.size {
                let len = chunk.min(desc.size - offset);
                let mut body = vec![0u8; len as usize];
                file.seek(SeekFrom::Start(offset))?;
                file.read_exact(&mut body)?;
                let body = Bytes::from(body);
                let range = format!("{offset}-{}", offset + len - 1);
                let url = location.clone();
                let resp = self
                    .send(Method::PATCH, &url, |rb| {
                        rb.header(CONTENT_TYPE, "application/octet-stream")
                            .header(CONTENT_LENGTH, body.len())
                            .header("Content-Range", &range)
                            .body(body.clone())
                    })
                    .await?;
                if resp.status().as_u16() != 202 {
                    return Err(status_error(resp, Method::PATCH, &url).await);
                }
                location = location_of(&resp, &url)?;
                offset += len;
                reporter.blob_progress(&desc.digest, len);
            }
            let url = with_digest(&location, &desc.digest);
            let resp = self
                .send(Method::PUT, &url, |rb| rb.header(CONTENT_LENGTH, 0))
                .await?;
            if resp.status().as_u16() != 201 {
                return Err(status_error(resp, Method::PUT, &url).await);
            }
            BlobPush::Chunked
        };
        reporter.blob_done(&desc.digest, false);
        Ok(kind)
    }

    async fn start_upload(&self) -> Result<Url> {
        let url = self.repo_url("blobs/uploads/").await?;
        let resp = self
            .send(Method::POST, &url, |rb| rb.header(CONTENT_LENGTH, 0))
            .await?;
        if resp.status().as_u16() != 202 {
            return Err(status_error(resp, Method::POST, &url).await);
        }
        location_of(&resp, &url)
    }

    /// `PUT` a manifest's exact bytes under `reference` (tag or digest);
    /// returns the digest the registry reports (checked against ours).
    pub async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String> {
        let url = self.repo_url(&format!("manifests/{reference}")).await?;
        let body = Bytes::copy_from_slice(bytes);
        let resp = self
            .send(Method::PUT, &url, |rb| {
                rb.header(CONTENT_TYPE, media_type).body(body.clone())
            })
            .await?;
        if resp.status().as_u16() != 201 {
            return Err(status_error(resp, Method::PUT, &url).await);
        }
        let ours = sha256_digest(bytes);
        if let Some(theirs) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            && theirs != ours
        {
            return Err(Error::DigestMismatch {
                url: url.to_string(),
                expected: ours,
                actual: theirs.to_owned(),
            });
        }
        Ok(ours)
    }
}

fn location_of(resp: &reqwest::Response, base: &Url) -> Result<Url> {
    let location = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::Status {
            method: "POST".to_owned(),
            url: base.to_string(),
            status: resp.status().as_u16(),
            detail: "upload response without `Location`".to_owned(),
        })?;
    join(base, location)
}

fn with_digest(location: &Url, digest: &str) -> Url {
    let mut url = location.clone();
    url.query_pairs_mut().append_pair("digest", digest);
    url
}

/// Push the image `descriptor` (a manifest or an index, with everything it
/// references) from `layout` to `target`: blobs first, then child manifests
/// by digest, then the top manifest by `target`'s tag (or digest).
/// Returns the top manifest's digest.
pub async fn push(
    session: &Session,
    layout: &Layout,
    descriptor: &Descriptor,
    target: &Reference,
    options: &PushOptions,
) -> Result<String> {
    if let Some(want) = target.digest()
        && want != descriptor.digest
    {
        return Err(Error::DigestMismatch {
            url: target.to_string(),
            expected: want.to_owned(),
            actual: descriptor.digest.clone(),
        });
    }
    push_tree(session, layout, descriptor, options).await?;
    let bytes = layout.read_blob(&descriptor.digest)?;
    session
        .put_manifest(target.manifest_reference(), &descriptor.media_type, &bytes)
        .await
}

/// Push everything `descriptor` references (not the descriptor itself):
/// for an index, each child manifest's blobs and then the child by digest.
async fn push_tree(
    session: &Session,
    layout: &Layout,
    descriptor: &Descriptor,
    options: &PushOptions,
) -> Result<()> {
    let (doc, media_type, origin) = read_doc(layout, descriptor)?;
    match kind_of(&media_type) {
        Some(ManifestKind::Index) => {
            for child in &doc.manifests {
                let (child_doc, child_type, child_origin) = read_doc(layout, child)?;
                if kind_of(&child_type) != Some(ManifestKind::Image) {
                    return Err(Error::UnsupportedMediaType {
                        url: child_origin,
                        media_type: format!("{child_type} (nested indexes are not pushed)"),
                    });
                }
                push_image_blobs(session, layout, &child_doc, options).await?;
                let child_bytes = layout.read_blob(&child.digest)?;
                session
                    .put_manifest(&child.digest, &child_type, &child_bytes)
                    .await?;
            }
            Ok(())
        }
        Some(ManifestKind::Image) => push_image_blobs(session, layout, &doc, options).await,
        _ => Err(Error::UnsupportedMediaType {
            url: origin,
            media_type,
        }),
    }
}

fn read_doc(layout: &Layout, descriptor: &Descriptor) -> Result<(ManifestDoc, String, String)> {
    let bytes = layout.read_blob(&descriptor.digest)?;
    let origin = layout.blob_path(&descriptor.digest).display().to_string();
    let doc: ManifestDoc = serde_json::from_slice(&bytes).map_err(|source| Error::Json {
        what: "manifest",
        origin: origin.clone(),
        source,
    })?;
    let media_type = doc.effective_media_type(Some(&descriptor.media_type));
    Ok((doc, media_type, origin))
}

async fn push_image_blobs(
    session: &Session,
    layout: &Layout,
    doc: &ManifestDoc,
    options: &PushOptions,
) -> Result<()> {
    let blobs: Vec<&Descriptor> = doc.config.iter().chain(doc.layers.iter()).collect();
    let concurrency = session.client.options().concurrency.max(1);
    let reporter = options.reporter.as_ref();
    let mount_from = options.mount_from.as_slice();
    let futures: Vec<_> = blobs
        .into_iter()
        .map(|d| session.push_blob(d, layout, mount_from, reporter))
        .collect();
    futures::stream::iter(futures)
        .buffer_unordered(concurrency)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}
