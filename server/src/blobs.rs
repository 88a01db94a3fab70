//! Where the server keeps attachment bytes (ADR 0033): the two real
//! [`BlobStore`]s behind `gridsync_server_core::blobs`, and the
//! `[attachments]` settings that choose one and bound uploads.
//!
//! * [`FsBlobs`] ([`fs`]): `<data>/blobs`, the embedded default; every
//!   chunk and file fsynced before it is acknowledged;
//! * [`S3Blobs`] ([`s3`]): an S3-compatible bucket, for several server
//!   processes sharing one deployment.
//!
//! [`open`] builds the configured one; `serve` hands it to the service
//! (`Service::with_blobs`), `/health` names it and checks that it answers.

pub mod fs;
pub mod s3;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use gridsync_proto::attachment::MAX_BYTES;
use gridsync_server_core::blobs::BlobStore;
use gridsync_server_core::service::AttachmentLimits;
use serde::Deserialize;

pub use fs::FsBlobs;
pub use s3::{S3Blobs, S3Settings};

/// The blob store's directory in the data directory (with the `fs` store).
pub const BLOBS_DIR: &str = "blobs";

/// One mebibyte: what the settings' `_mb` values count.
const MB: u64 = 1024 * 1024;

/// Which blob store keeps attachment bytes (`store` in `[attachments]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// The data directory (`<data>/blobs`): one server process.
    #[default]
    Fs,
    /// An S3-compatible bucket: any number of server processes.
    S3,
}

/// The `[attachments]` settings, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentSettings {
    /// Where the bytes live.
    pub store: StoreKind,
    /// The bucket and credentials, with [`StoreKind::S3`].
    pub s3: S3Settings,
    /// Largest attachment taken, in MiB (1 to 20, the protocol's limit).
    pub max_file_mb: u64,
    /// Most MiB of new uploads one device may start in one day.
    pub max_device_mb_per_day: u64,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        Self { store: StoreKind::Fs, s3: S3Settings::default(), max_file_mb: 20, max_device_mb_per_day: 200 }
    }
}

impl AttachmentSettings {
    /// The limits the service applies; fails, naming the setting and what
    /// to give instead, when one is out of bounds.
    pub fn limits(&self) -> anyhow::Result<AttachmentLimits> {
        let most_mb = MAX_BYTES / MB;
        if !(1..=most_mb).contains(&self.max_file_mb) {
            anyhow::bail!(
                "attachments.max_file_mb is {}: give 1 to {most_mb} (MiB; the protocol takes no larger file)",
                self.max_file_mb
            );
        }
        let per_day = self.max_device_mb_per_day.checked_mul(MB).filter(|_| self.max_device_mb_per_day > 0);
        let Some(max_device_bytes_per_day) =
            per_day.filter(|_| self.max_device_mb_per_day >= self.max_file_mb)
        else {
            anyhow::bail!(
                "attachments.max_device_mb_per_day is {}: give at least max_file_mb ({}) and at most \
                 1000000 MiB, or a device could not upload one largest file a day",
                self.max_device_mb_per_day,
                self.max_file_mb
            );
        };
        if self.max_device_mb_per_day > 1_000_000 {
            anyhow::bail!(
                "attachments.max_device_mb_per_day is {}: give at most 1000000 (MiB)",
                self.max_device_mb_per_day
            );
        }
        Ok(AttachmentLimits { max_file_bytes: self.max_file_mb * MB, max_device_bytes_per_day })
    }

    /// Where the `fs` store keeps its files for the data directory `data_dir`.
    pub fn fs_root(data_dir: &Path) -> PathBuf {
        data_dir.join(BLOBS_DIR)
    }
}

/// The configured blob store: [`FsBlobs`] in `<data_dir>/blobs` (created,
/// mode 0700), or [`S3Blobs`]. Fails, saying what to set, when the
/// settings do not describe a usable store.
pub fn open(settings: &AttachmentSettings, data_dir: &Path) -> anyhow::Result<Arc<dyn BlobStore>> {
    Ok(match settings.store {
        StoreKind::Fs => {
            let root = AttachmentSettings::fs_root(data_dir);
            let store = FsBlobs::open(&root).with_context(|| {
                format!(
                    "cannot open the attachments directory {}: check its owner and permissions",
                    root.display()
                )
            })?;
            Arc::new(store)
        }
        StoreKind::S3 => Arc::new(S3Blobs::new(&settings.s3)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_and_named() {
        let d = AttachmentSettings::default().limits().expect("the defaults are valid");
        assert_eq!(d, AttachmentLimits { max_file_bytes: MAX_BYTES, max_device_bytes_per_day: 200 * MB });
        let with = |file, day| AttachmentSettings {
            max_file_mb: file,
            max_device_mb_per_day: day,
            ..AttachmentSettings::default()
        };
        assert_eq!(with(5, 5).limits().expect("valid").max_file_bytes, 5 * MB);
        for (file, day, named) in [
            (0, 200, "attachments.max_file_mb is 0: give 1 to 20"),
            (21, 200, "attachments.max_file_mb is 21: give 1 to 20"),
            (20, 0, "attachments.max_device_mb_per_day is 0: give at least max_file_mb (20)"),
            (20, 19, "attachments.max_device_mb_per_day is 19"),
            (20, u64::MAX, "attachments.max_device_mb_per_day is 18446744073709551615"),
            (20, 1_000_001, "give at most 1000000"),
        ] {
            let err = with(file, day).limits().expect_err(named).to_string();
            assert!(err.contains(named), "{err}");
        }
    }

    #[test]
    fn an_s3_store_needs_a_bucket_credentials_and_https_or_leave() {
        let good = S3Settings {
            endpoint: Some("https://oss.example.cn".into()),
            bucket: "grid".into(),
            access_key_id: Some("AKIDEXAMPLE".into()),
            secret_access_key: Some("wJalrXUtnFEMI-secret".into()),
            ..S3Settings::default()
        };
        assert!(S3Blobs::new(&good).is_ok());
        let refused = |s: S3Settings, says: &str| {
            let err = S3Blobs::new(&s).expect_err(says).to_string();
            assert!(err.contains(says) && !err.contains("wJalr"), "{err}");
        };
        refused(S3Settings { bucket: " ".into(), ..good.clone() }, "attachments.s3.bucket is not set");
        refused(S3Settings { secret_access_key: None, ..good.clone() }, "GRIDSYNC_S3_SECRET_ACCESS_KEY");
        refused(S3Settings { endpoint: Some("http://10.0.0.9:9000".into()), ..good.clone() }, "allow_http");
        refused(S3Settings { endpoint: Some("oss.example.cn".into()), ..good.clone() }, "https://");
        refused(S3Settings { prefix: "a/../b".into(), ..good.clone() }, "attachments.s3.prefix");
        let http =
            S3Settings { endpoint: Some("http://127.0.0.1:9000".into()), allow_http: true, ..good.clone() };
        assert!(S3Blobs::new(&http).is_ok());
        let debug = format!("{good:?}");
        assert!(!debug.contains("wJalr") && !debug.contains("AKIDEXAMPLE"), "{debug}");
    }
}
