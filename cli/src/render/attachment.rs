//! A record's attachments, as `gridsync attachments` prints them.

use gridsync_client_core::AttachmentInfo;
use serde::Serialize;

use super::text::clean;

/// One attachment, as printed by `gridsync attachments --json` and
/// `gridsync attach --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AttachmentJson {
    /// The SHA-256 of its bytes (64 hex digits).
    pub(crate) hash: String,
    /// Its size in bytes.
    pub(crate) size: u64,
    /// Its media type.
    pub(crate) media: String,
    /// The name it was given, if any.
    pub(crate) name: Option<String>,
    /// The entry it belongs to (`device:counter`), if any.
    pub(crate) entry: Option<String>,
    /// On this device.
    pub(crate) local: bool,
    /// Known to be on the server whole.
    pub(crate) uploaded: bool,
}

impl From<&AttachmentInfo> for AttachmentJson {
    fn from(a: &AttachmentInfo) -> Self {
        let r = &a.reference;
        AttachmentJson {
            hash: r.hash.to_hex(),
            size: r.size,
            media: r.media.mime().to_owned(),
            name: r.name.clone(),
            entry: r.of_entry.map(gridsync_proto::attachment::format_dot),
            local: a.local,
            uploaded: a.uploaded,
        }
    }
}

/// One line per attachment: hash, media type, size, where it is, name.
pub(crate) fn attachments_text(list: &[AttachmentJson]) -> String {
    if list.is_empty() {
        return "no attachments\n".to_owned();
    }
    let mut out = String::new();
    for a in list {
        // Of a file attached elsewhere and not fetched, this device cannot
        // tell whether it is on the server yet: it says nothing of it.
        let place = match (a.local, a.uploaded) {
            (true, true) => "on this device, uploaded",
            (true, false) => "on this device, not uploaded yet",
            (false, true) => "not on this device (fetch-attachment), uploaded",
            (false, false) => "not on this device (fetch-attachment)",
        };
        out.push_str(&format!("{}  {}  {} bytes  {place}", a.hash, a.media, a.size));
        if let Some(name) = &a.name {
            out.push_str(&format!("  {}", clean(name)));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_read_as_lines() {
        let a = AttachmentJson {
            hash: "ab".repeat(32),
            size: 12,
            media: "image/jpeg".into(),
            name: Some("门牌\u{1b}[31m".into()),
            entry: None,
            local: false,
            uploaded: true,
        };
        let text = attachments_text(&[a]);
        assert!(text.starts_with(&"ab".repeat(32)), "{text}");
        assert!(
            text.contains("image/jpeg  12 bytes  not on this device (fetch-attachment), uploaded  门牌"),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'), "{text}");
        assert_eq!(attachments_text(&[]), "no attachments\n");
    }
}
