//! Device authentication: what a device signs, and the enrollment messages.
//!
//! Every sync request carries four headers: the device id, the device's time
//! (Unix ms), a random nonce, and an Ed25519 signature over
//! [`signing_input`]: the method, path, SHA-256 of the body exactly as sent
//! (after compression), the time, the nonce and the device id. There is no
//! bearer secret to leak from a proxy log: a captured request is only good
//! once (the nonce), only for minutes (the time), and only for its own body
//! (the digest).
//!
//! A device gets its identity by enrolling: an administrator issues a
//! one-time code (printed and as a QR code), the device makes a key pair and
//! sends the public key with the code ([`EnrollRequest`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use serde::{Deserialize, Serialize};

use crate::ids::ActorId;

/// Header: the device (actor) id.
pub const HEADER_DEVICE: &str = "x-gridsync-device";
/// Header: the device's time when signing, Unix milliseconds.
pub const HEADER_TIME: &str = "x-gridsync-time";
/// Header: a random nonce, 16 bytes as 32 hex digits.
pub const HEADER_NONCE: &str = "x-gridsync-nonce";
/// Header: the Ed25519 signature, URL-safe base64 without padding.
pub const HEADER_SIGNATURE: &str = "x-gridsync-signature";
/// How far a request's time may be from the server's, either way.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;

/// The bytes a device signs for one request.
pub fn signing_input(
    method: &str,
    path: &str,
    body: &[u8],
    time_ms: u64,
    nonce: &[u8; 16],
    device: ActorId,
) -> Vec<u8> {
    let body_digest = digest::digest(&digest::SHA256, body);
    format!(
        "GRIDSYNC-SIG-1\n{method}\n{path}\n{}\n{time_ms}\n{}\n{device}",
        hex(body_digest.as_ref()),
        hex(nonce)
    )
    .into_bytes()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a 16-byte nonce from 32 hex digits.
pub fn parse_nonce(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Encodes a key or signature for a header or JSON.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes [`b64`] text.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// What a user may do. Staff act through the admin API; workers through devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, everywhere.
    Administrator,
    /// Administers users and devices within a county's subtree.
    CountyAdmin,
    /// Administers users and devices within a township's subtree.
    TownshipAdmin,
    /// A department (police station, justice office...) user.
    Department,
    /// Reads everything, changes nothing.
    Auditor,
    /// A grid worker with a handset.
    Worker,
}

impl Role {
    /// Every role, for help texts.
    pub const ALL: [Role; 6] = [
        Role::Administrator,
        Role::CountyAdmin,
        Role::TownshipAdmin,
        Role::Department,
        Role::Auditor,
        Role::Worker,
    ];

    /// The name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::CountyAdmin => "county_admin",
            Role::TownshipAdmin => "township_admin",
            Role::Department => "department",
            Role::Auditor => "auditor",
            Role::Worker => "worker",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
            format!("unknown role; expected one of {}", names.join(", "))
        })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A device asks to be enrolled (JSON body of `POST /v1/enroll`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollRequest {
    /// The one-time enrollment code.
    pub code: String,
    /// The device's new actor id.
    pub device: ActorId,
    /// Its Ed25519 public key, [`b64`].
    pub public_key: String,
}

/// The server enrolled the device (JSON answer of `POST /v1/enroll`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    /// The user the device now acts for.
    pub user: String,
    /// Their role.
    pub role: Role,
    /// Their place in the hierarchy.
    pub scope: String,
    /// The server's clock, so the device can correct its own for signing.
    pub server_time_ms: u64,
    /// The user's profile: the device checks its edits against it.
    #[serde(default)]
    pub profile: Option<crate::profile::Profile>,
}

/// What an enrollment QR code holds (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollmentTicket {
    /// The server's base URL.
    pub server: String,
    /// The one-time code.
    pub code: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_input_binds_every_part() {
        let device = ActorId::from_bytes([1; 16]);
        let base = signing_input("POST", "/v1/sync/push", b"body", 42, &[7; 16], device);
        assert_eq!(String::from_utf8(base.clone()).expect("utf-8").lines().next(), Some("GRIDSYNC-SIG-1"));
        assert_ne!(base, signing_input("POST", "/v1/sync/pull", b"body", 42, &[7; 16], device));
        assert_ne!(base, signing_input("POST", "/v1/sync/push", b"bodY", 42, &[7; 16], device));
        assert_ne!(base, signing_input("POST", "/v1/sync/push", b"body", 43, &[7; 16], device));
        assert_ne!(base, signing_input("POST", "/v1/sync/push", b"body", 42, &[8; 16], device));
        let other = ActorId::from_bytes([2; 16]);
        assert_ne!(base, signing_input("POST", "/v1/sync/push", b"body", 42, &[7; 16], other));
    }

    #[test]
    fn nonces_and_base64_round_trip() {
        let nonce = [0xab; 16];
        assert_eq!(parse_nonce(&hex(&nonce)), Some(nonce));
        assert_eq!(parse_nonce("xyz"), None);
        assert_eq!(parse_nonce(&"zz".repeat(16)), None);
        assert_eq!(unb64(&b64(b"key")), Some(b"key".to_vec()));
        assert_eq!("township_admin".parse::<Role>(), Ok(Role::TownshipAdmin));
        assert!("mayor".parse::<Role>().is_err());
    }
}
