//! The device's identity: its Ed25519 key, enrollment, and request signing.
//!
//! The key pair is made on the device with ring and never leaves it; the
//! server learns only the public key, at enrollment, against a one-time
//! code. Every sync request is then signed over its method, path, body as
//! sent, time and a random nonce (see `gridsync_proto::auth`). The store
//! keeps the private key sealed with the store key.

use std::sync::atomic::{AtomicI64, Ordering};

use gridsync_proto::ActorId;
use gridsync_proto::auth::{self, HEADER_DEVICE, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIME};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::error::{Error, Result};
use crate::store::now_ms;

/// A device's signing key.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        write!(f, "SigningKey(public {})", auth::b64(self.public_key()))
    }
}

impl SigningKey {
    /// Makes a new key pair with the system's secure random generator.
    pub fn generate() -> Result<Self> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| Error::Crypto("cannot generate a device key"))?;
        Self::from_pkcs8(pkcs8.as_ref().to_vec())
    }

    /// Restores a key from its PKCS#8 document.
    pub fn from_pkcs8(pkcs8: Vec<u8>) -> Result<Self> {
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| Error::Corrupt("device key"))?;
        Ok(Self { pair, pkcs8 })
    }

    /// The PKCS#8 document, for sealed storage.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key the server verifies with.
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }
}

/// Signs requests for one device, keeping the offset between the device's
/// clock and the server's (learned from `stale_timestamp` answers).
#[derive(Debug)]
pub struct Signer {
    device: ActorId,
    key: SigningKey,
    offset_ms: AtomicI64,
}

impl Signer {
    /// A signer for `device` with `key`.
    pub fn new(device: ActorId, key: SigningKey) -> Self {
        Self { device, key, offset_ms: AtomicI64::new(0) }
    }

    /// Adopts the server's clock: later requests are stamped with the
    /// device time corrected by the observed difference.
    pub fn correct_clock(&self, server_time_ms: u64) {
        let offset = server_time_ms as i64 - now_ms() as i64;
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    /// The headers that authenticate `method path` with `body` (as sent).
    pub fn headers(&self, method: &str, path: &str, body: &[u8]) -> Result<Vec<(&'static str, String)>> {
        let mut nonce = [0u8; 16];
        SystemRandom::new().fill(&mut nonce).map_err(|_| Error::Crypto("cannot make a nonce"))?;
        let time = now_ms().saturating_add_signed(self.offset_ms.load(Ordering::Relaxed));
        let input = auth::signing_input(method, path, body, time, &nonce, self.device);
        let signature = self.key.pair.sign(&input);
        Ok(vec![
            (HEADER_DEVICE, self.device.to_string()),
            (HEADER_TIME, time.to_string()),
            (HEADER_NONCE, auth::hex(&nonce)),
            (HEADER_SIGNATURE, auth::b64(signature.as_ref())),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ED25519, UnparsedPublicKey};

    #[test]
    fn signatures_verify_with_the_public_key_only() {
        let key = SigningKey::generate().expect("key");
        let public = key.public_key().to_vec();
        let restored = SigningKey::from_pkcs8(key.pkcs8().to_vec()).expect("restore");
        assert_eq!(restored.public_key(), &public[..]);
        let device = ActorId::random();
        let signer = Signer::new(device, restored);
        let headers = signer.headers("POST", "/v1/sync/push", b"body").expect("sign");
        let get =
            |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).expect("header");
        let nonce = auth::parse_nonce(&get(HEADER_NONCE)).expect("nonce");
        let time: u64 = get(HEADER_TIME).parse().expect("time");
        let input = auth::signing_input("POST", "/v1/sync/push", b"body", time, &nonce, device);
        let signature = auth::unb64(&get(HEADER_SIGNATURE)).expect("b64");
        assert!(UnparsedPublicKey::new(&ED25519, &public).verify(&input, &signature).is_ok());
        let tampered = auth::signing_input("POST", "/v1/sync/push", b"bodY", time, &nonce, device);
        assert!(UnparsedPublicKey::new(&ED25519, &public).verify(&tampered, &signature).is_err());
        assert!(!format!("{signer:?}").contains(&auth::b64(key.pkcs8())));
    }

    #[test]
    fn clock_correction_moves_the_stamp() {
        let signer = Signer::new(ActorId::random(), SigningKey::generate().expect("key"));
        signer.correct_clock(now_ms() + 3_600_000);
        let headers = signer.headers("POST", "/p", b"").expect("sign");
        let time: u64 = headers[1].1.parse().expect("time");
        assert!(time >= now_ms() + 3_500_000);
    }
}
