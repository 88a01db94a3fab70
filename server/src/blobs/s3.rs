//! The S3-compatible blob store, for deployments that scale out (ADR 0033):
//! every server process sees every chunk, so an upload resumes on whichever
//! process the next request reaches. Any store that speaks the S3 API
//! (MinIO, Ceph RGW, Alibaba OSS, Tencent COS, Amazon S3), through the
//! `object_store` crate (SigV4 signed with ring, HTTPS with rustls on ring).
//!
//! ```text
//! <prefix>/files/<hash hex>                                  a whole file
//! <prefix>/uploads/<device hex>/<hash hex>/<offset, 20 digits>   one chunk
//! ```
//!
//! A chunk is acknowledged once its `PUT` has answered (S3 writes are
//! durable when acknowledged). A join lists the upload's chunks, checks that
//! they tile the file, reads them one at a time through the running hash,
//! and writes the file as it goes: with one `PUT` for a file smaller than
//! [`S3Blobs::part_bytes`], else a multipart upload in parts of that size,
//! aborted (so nothing is stored) when the hash is not the file's name.

use std::fmt;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use gridsync_proto::ContentHash;
use gridsync_server_core::blobs::{BlobError, BlobFuture, BlobStore, HEAD_BYTES, Joined, UploadKey};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart};

use super::fs::{chunk_name, parse_chunk_name, tiling};

/// The smallest part of a multipart upload S3 takes (but the last), and the
/// default [`S3Blobs::part_bytes`].
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;

/// Where the S3-compatible store is and how to sign in to it
/// (`[attachments.s3]` in the settings file). `Debug` hides the secret key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    /// The service's URL, e.g. `https://oss-cn-hangzhou.aliyuncs.com` or
    /// `http://127.0.0.1:9000`; `None` for Amazon S3 itself.
    pub endpoint: Option<String>,
    /// The bucket (it must exist).
    pub bucket: String,
    /// The region (`us-east-1` when the store does not care).
    pub region: String,
    /// Key prefix under which everything is kept (e.g. `gridsync/county-1`),
    /// so several deployments may share a bucket; empty for none.
    pub prefix: String,
    /// Whether a plain `http://` endpoint is allowed (for a store on this
    /// machine or the test's; refused otherwise).
    pub allow_http: bool,
    /// Whether buckets are addressed as `https://BUCKET.endpoint/` (Alibaba
    /// OSS, Tencent COS) rather than `https://endpoint/BUCKET/` (MinIO).
    pub virtual_hosted_style: bool,
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<String>,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field("access_key_id", &self.access_key_id.as_ref().map(|_| "***"))
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Attachment bytes in an S3-compatible bucket.
pub struct S3Blobs {
    store: AmazonS3,
    /// The key prefix, without slashes at either end (may be empty).
    prefix: String,
    bucket: String,
    part_bytes: usize,
}

impl fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Blobs").field("bucket", &self.bucket).field("prefix", &self.prefix).finish()
    }
}

/// Why an S3 store cannot be set up: the message names the setting and
/// what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct S3SettingsError(String);

impl S3Blobs {
    /// The store `settings` describe. Nothing is asked of the service yet
    /// (see `/health` for that). Fails when a setting is missing or unusable.
    pub fn new(settings: &S3Settings) -> Result<Self, S3SettingsError> {
        let refuse = |why: &str| S3SettingsError(why.to_owned());
        if settings.bucket.trim().is_empty() {
            return Err(refuse(
                "attachments.s3.bucket is not set: name the bucket (made beforehand) that keeps the attachments",
            ));
        }
        let (Some(key_id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) else {
            return Err(refuse(
                "the S3 credentials are not set: give GRIDSYNC_S3_ACCESS_KEY_ID and \
                 GRIDSYNC_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) \
                 in the server's environment",
            ));
        };
        let prefix = settings.prefix.trim_matches('/').to_owned();
        let word = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if !prefix.is_empty() && !prefix.split('/').all(word) {
            return Err(refuse(
                "attachments.s3.prefix must be words of letters, digits, '-', '_' and '.' joined by '/' \
                 (e.g. gridsync/county-1), or empty",
            ));
        }
        if let Some(endpoint) = &settings.endpoint {
            let http = endpoint.starts_with("http://");
            if !http && !endpoint.starts_with("https://") {
                return Err(refuse(
                    "attachments.s3.endpoint must be an http:// or https:// URL (e.g. https://oss-cn-hangzhou.aliyuncs.com)",
                ));
            }
            if http && !settings.allow_http {
                return Err(refuse(
                    "attachments.s3.endpoint is plain http://: use https://, or set attachments.s3.allow_http = true \
                     for a store on this machine or a private network",
                ));
            }
        }
        // reqwest is built without a TLS provider of its own (ring is the
        // project's): make ring the process's, unless one is already set.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let region = if settings.region.trim().is_empty() { "us-east-1" } else { settings.region.trim() };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(settings.bucket.trim())
            .with_region(region)
            .with_access_key_id(key_id)
            .with_secret_access_key(secret)
            .with_allow_http(settings.allow_http)
            .with_virtual_hosted_style_request(settings.virtual_hosted_style)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(settings.allow_http)
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(60)),
            )
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            });
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint.trim_end_matches('/'));
        }
        let store = builder.build().map_err(|e| {
            S3SettingsError(format!("the S3 settings are not usable ({e}): check [attachments.s3]"))
        })?;
        Ok(Self { store, prefix, bucket: settings.bucket.trim().to_owned(), part_bytes: MIN_PART_BYTES })
    }

    /// The same store writing joined files of `bytes` or more as multipart
    /// uploads in parts of `bytes` (at least [`MIN_PART_BYTES`], which S3
    /// requires of every part but the last).
    pub fn with_part_bytes(mut self, bytes: usize) -> Self {
        self.part_bytes = bytes.max(MIN_PART_BYTES);
        self
    }

    /// The size from which a joined file is written in parts, and the parts' size.
    pub fn part_bytes(&self) -> usize {
        self.part_bytes
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn key(&self, tail: String) -> Path {
        if self.prefix.is_empty() { Path::from(tail) } else { Path::from(format!("{}/{tail}", self.prefix)) }
    }

    /// `<prefix>/files/<hash hex>`.
    fn file_key(&self, hash: ContentHash) -> Path {
        self.key(format!("files/{}", hash.to_hex()))
    }

    /// `<prefix>/uploads/<device hex>/<hash hex>`.
    fn upload_key(&self, upload: UploadKey) -> Path {
        self.key(format!(
            "uploads/{}/{}",
            gridsync_proto::auth::hex(upload.device.as_bytes()),
            upload.hash.to_hex()
        ))
    }

    fn chunk_key(&self, upload: UploadKey, offset: u64) -> Path {
        self.upload_key(upload).join(chunk_name(offset))
    }

    async fn size_of(&self, hash: ContentHash) -> Result<Option<u64>, BlobError> {
        match self.store.head(&self.file_key(hash)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_error("cannot look at a file", &e)),
        }
    }

    async fn read_range(&self, hash: ContentHash, offset: u64, len: usize) -> Result<Vec<u8>, BlobError> {
        let size = self.size_of(hash).await?.ok_or(BlobError::NotFound)?;
        let end = offset.saturating_add(len as u64).min(size);
        if offset >= end {
            return Ok(Vec::new());
        }
        match self.store.get_range(&self.file_key(hash), offset..end).await {
            Ok(bytes) => Ok(bytes.to_vec()),
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound),
            Err(e) => Err(store_error("cannot read a file", &e)),
        }
    }

    /// The upload's chunks as (offset, length), in offset order.
    async fn chunks(&self, upload: UploadKey) -> Result<Vec<(u64, u64)>, BlobError> {
        let listed: Vec<_> = self
            .store
            .list(Some(&self.upload_key(upload)))
            .try_collect()
            .await
            .map_err(|e| store_error("cannot list an upload's chunks", &e))?;
        let mut chunks: Vec<(u64, u64)> = listed
            .iter()
            .filter_map(|meta| Some((parse_chunk_name(meta.location.filename()?)?, meta.size)))
            .collect();
        chunks.sort_unstable();
        Ok(chunks)
    }

    async fn join_chunks(&self, upload: UploadKey, size: u64) -> Result<Joined, BlobError> {
        let chunks = self.chunks(upload).await?;
        tiling(&chunks, size)?;
        let mut sink = if self.size_of(upload.hash).await?.is_some() {
            // Already whole: answer what the chunks hold, store nothing.
            Sink::Nowhere
        } else if size < self.part_bytes as u64 {
            Sink::Buffer(Vec::with_capacity(usize::try_from(size).unwrap_or(0)))
        } else {
            let parts = self
                .store
                .put_multipart(&self.file_key(upload.hash))
                .await
                .map_err(|e| store_error("cannot start writing a file", &e))?;
            Sink::Parts(WriteMultipart::new_with_chunk_size(parts, self.part_bytes))
        };
        let read = self.read_chunks(upload, &chunks, &mut sink).await;
        let joined = match read.and_then(|joining| joining.finish(size)) {
            Ok(joined) => joined,
            Err(e) => {
                sink.abort().await;
                return Err(e);
            }
        };
        if joined.hash != upload.hash {
            sink.abort().await;
            return Ok(joined);
        }
        match sink {
            Sink::Nowhere => {}
            Sink::Buffer(bytes) => {
                self.store
                    .put(&self.file_key(upload.hash), PutPayload::from(bytes))
                    .await
                    .map_err(|e| store_error("cannot keep a file", &e))?;
            }
            Sink::Parts(parts) => {
                parts.finish().await.map_err(|e| store_error("cannot keep a file", &e))?;
            }
        }
        Ok(joined)
    }

    /// Reads the chunks in order through the hash into `sink`.
    async fn read_chunks(
        &self,
        upload: UploadKey,
        chunks: &[(u64, u64)],
        sink: &mut Sink,
    ) -> Result<Joining, BlobError> {
        let mut joining = Joining { hasher: ContentHash::hasher(), read: 0, head: Vec::new() };
        for (offset, _) in chunks {
            let got = match self.store.get(&self.chunk_key(upload, *offset)).await {
                Ok(got) => got,
                // Discarded meanwhile.
                Err(object_store::Error::NotFound { .. }) => {
                    return Err(BlobError::Incomplete("a chunk went missing while joining"));
                }
                Err(e) => return Err(store_error("cannot read a chunk", &e)),
            };
            let mut pieces = got.into_stream();
            while let Some(piece) = pieces.next().await {
                let piece = piece.map_err(|e| store_error("cannot read a chunk", &e))?;
                joining.update(&piece);
                sink.write(&piece).await?;
            }
        }
        Ok(joining)
    }

    async fn discard_chunks(&self, upload: UploadKey) -> Result<(), BlobError> {
        let keys = self.store.list(Some(&self.upload_key(upload))).map_ok(|meta| meta.location).boxed();
        let mut deleted = self.store.delete_stream(keys);
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(store_error("cannot delete an upload's chunks", &e)),
            }
        }
        Ok(())
    }
}

impl BlobStore for S3Blobs {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn size(&self, hash: ContentHash) -> BlobFuture<'_, Option<u64>> {
        Box::pin(self.size_of(hash))
    }

    fn read(&self, hash: ContentHash, offset: u64, len: usize) -> BlobFuture<'_, Vec<u8>> {
        Box::pin(self.read_range(hash, offset, len))
    }

    fn put_chunk(&self, upload: UploadKey, offset: u64, bytes: Vec<u8>) -> BlobFuture<'_, ()> {
        Box::pin(async move {
            self.store
                .put(&self.chunk_key(upload, offset), PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(|e| store_error("cannot keep a chunk", &e))
        })
    }

    fn join(&self, upload: UploadKey, size: u64) -> BlobFuture<'_, Joined> {
        Box::pin(self.join_chunks(upload, size))
    }

    fn discard(&self, upload: UploadKey) -> BlobFuture<'_, ()> {
        Box::pin(self.discard_chunks(upload))
    }
}

/// Where the joined bytes go.
enum Sink {
    /// Nowhere: the file is already stored.
    Nowhere,
    /// Into memory, for one `PUT` (a file under the part size).
    Buffer(Vec<u8>),
    /// Into a multipart upload.
    Parts(WriteMultipart),
}

impl Sink {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        match self {
            Sink::Nowhere => {}
            Sink::Buffer(buffer) => buffer.extend_from_slice(bytes),
            Sink::Parts(parts) => {
                // At most two parts in flight: memory stays bounded.
                parts.wait_for_capacity(2).await.map_err(|e| store_error("cannot write a file", &e))?;
                parts.write(bytes);
            }
        }
        Ok(())
    }

    /// Drops what was written: a multipart upload is aborted, so S3 keeps
    /// none of its parts.
    async fn abort(self) {
        if let Sink::Parts(parts) = self
            && let Err(e) = parts.abort().await
        {
            tracing::warn!(error = %e, "a multipart upload could not be aborted (the bucket's lifecycle rule removes it)");
        }
    }
}

/// The running hash of a join.
struct Joining {
    hasher: gridsync_proto::attachment::Hasher,
    read: u64,
    head: Vec<u8>,
}

impl Joining {
    fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        let room = HEAD_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.read += bytes.len() as u64;
    }

    fn finish(self, size: u64) -> Result<Joined, BlobError> {
        if self.read != size {
            return Err(BlobError::Incomplete("not the declared size"));
        }
        Ok(Joined { hash: self.hasher.finish(), size: self.read, head: self.head })
    }
}

/// A [`BlobError::Store`] saying what could not be done and why (object
/// keys name only hashes and devices; credentials never appear).
fn store_error(what: &str, cause: &object_store::Error) -> BlobError {
    BlobError::Store(format!("{what}: {cause}"))
}
