//! Encryption at rest of the handset store.
//!
//! Every sensitive value in the store file (record states, outbox changes,
//! the device secret) is sealed with ChaCha20-Poly1305 from ring under a
//! 32-byte [`StoreKey`] that the app supplies: on Android the key rests in
//! the Keystore, on iOS in the Keychain; the `gridsync` command line reads
//! it from a key file or the environment. See
//! `docs/adr/0008-handset-store-encryption.md`.
//!
//! A sealed value is `version (1 byte) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag
//! (16 bytes)`. The nonce is random for every seal. The associated data binds
//! each value to its place in the store (a record's id, an outbox position),
//! so that values cannot be swapped between places without detection.

use std::fmt;

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};

/// The length of a store key in bytes.
pub const KEY_LEN: usize = 32;

/// The format byte in front of every sealed value: ChaCha20-Poly1305 with a
/// random 96-bit nonce.
const VERSION_1: u8 = 1;

/// Length of the Poly1305 tag.
const TAG_LEN: usize = 16;

/// The 32-byte key that encrypts one handset store.
///
/// It never appears in `Debug` output, and its bytes are overwritten when it
/// is dropped (best effort: copies made by the caller or by the platform's
/// keystore API are the caller's to clear).
pub struct StoreKey([u8; KEY_LEN]);

impl StoreKey {
    /// A key from its 32 bytes (as returned by the platform keystore).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A key from 64 hexadecimal digits (either case); surrounding
    /// whitespace, such as a key file's final newline, is ignored.
    pub fn from_hex(text: &str) -> Result<Self> {
        let digits = text.trim().as_bytes();
        if digits.len() != 2 * KEY_LEN {
            return Err(Error::KeyFormat);
        }
        let mut key = Self([0; KEY_LEN]);
        for (byte, pair) in key.0.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Ok(key)
    }

    /// A new random key from the system's secure random generator.
    pub fn generate() -> Result<Self> {
        let mut key = Self([0; KEY_LEN]);
        SystemRandom::new().fill(&mut key.0).map_err(|_| Error::Crypto("cannot generate a store key"))?;
        Ok(key)
    }

    /// The key as 64 lower-case hexadecimal digits, for a key file. This is
    /// the secret itself: write it only where the key belongs.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(2 * KEY_LEN);
        for byte in self.0 {
            out.push(char::from(DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        out
    }
}

fn hex_digit(c: u8) -> Result<u8> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(Error::KeyFormat),
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(<redacted>)")
    }
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        self.0 = [0; KEY_LEN];
        // Keeps the overwrite from being optimised away as a dead store.
        std::hint::black_box(&self.0);
    }
}

/// What the key that names attachment files is derived for.
const NAMES_PURPOSE: &[u8] = b"gridsync attachment file names v1";

/// The overhead of a sealed value over its plaintext: format byte, nonce, tag.
pub(crate) const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// Seals and opens the store's values with one key.
pub(crate) struct Cipher {
    key: LessSafeKey,
    /// Names attachment files: HMAC-SHA256 under a key derived from the store key.
    names: hmac::Key,
    random: SystemRandom,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(ChaCha20-Poly1305)")
    }
}

impl Cipher {
    /// A cipher with `key`.
    pub(crate) fn new(key: &StoreKey) -> Self {
        let unbound =
            UnboundKey::new(&CHACHA20_POLY1305, &key.0).expect("a 32-byte key fits ChaCha20-Poly1305");
        let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key.0), NAMES_PURPOSE);
        Self {
            key: LessSafeKey::new(unbound),
            names: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
            random: SystemRandom::new(),
        }
    }

    /// A keyed name for `data` (64 lowercase hex digits): the same for the
    /// same data and key, and telling nothing of the data without the key.
    pub(crate) fn keyed_name(&self, data: &[u8]) -> String {
        let tag = hmac::sign(&self.names, data);
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Encrypts and authenticates `plaintext`, bound to `aad`.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| Error::Crypto("cannot make a nonce"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(VERSION_1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(1 + NONCE_LEN);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                full_aad(VERSION_1, aad),
                &mut body,
            )
            .map_err(|_| Error::Crypto("cannot encrypt"))?;
        out.append(&mut body);
        Ok(out)
    }

    /// Decrypts what [`Cipher::seal`] made with the same key and `aad`. Any
    /// other key, associated data or changed byte fails with
    /// [`Error::Corrupt`]; callers say what was being read.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        let refused = Error::Corrupt("encrypted data fails authentication");
        let Some((&version, rest)) = sealed.split_first() else {
            return Err(refused);
        };
        if version != VERSION_1 || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(refused);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::Corrupt("nonce"))?;
        let mut body = body.to_vec();
        let len = match self.key.open_in_place(nonce, full_aad(version, aad), &mut body) {
            Ok(plain) => plain.len(),
            Err(_) => return Err(refused),
        };
        body.truncate(len);
        Ok(body)
    }
}

/// The associated data actually authenticated: the format byte, then the place.
fn full_aad(version: u8, place: &[u8]) -> Aad<Vec<u8>> {
    let mut aad = Vec::with_capacity(1 + place.len());
    aad.push(version);
    aad.extend_from_slice(place);
    Aad::from(aad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(byte: u8) -> Cipher {
        Cipher::new(&StoreKey::from_bytes([byte; KEY_LEN]))
    }

    #[test]
    fn round_trip() {
        let c = cipher(1);
        for plain in [&b""[..], b"x", "张三丰 530102199001011234".as_bytes()] {
            let sealed = c.seal(b"record:1", plain).expect("seal");
            assert_eq!(sealed.len(), 1 + NONCE_LEN + plain.len() + TAG_LEN);
            assert_eq!(sealed[0], VERSION_1);
            assert_eq!(c.open(b"record:1", &sealed).expect("open"), plain);
        }
        // A fresh nonce every time: the same plaintext never seals the same way.
        assert_ne!(c.seal(b"a", b"same").expect("seal"), c.seal(b"a", b"same").expect("seal"));
    }

    #[test]
    fn a_wrong_key_fails() {
        let sealed = cipher(1).seal(b"outbox", b"secret").expect("seal");
        assert!(matches!(cipher(2).open(b"outbox", &sealed), Err(Error::Corrupt(_))));
    }

    #[test]
    fn any_tampered_byte_fails() {
        let c = cipher(3);
        let sealed = c.seal(b"outbox", b"secret text").expect("seal");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(c.open(b"outbox", &bad).is_err(), "byte {i}");
        }
        assert!(c.open(b"outbox", &sealed[..sealed.len() - 1]).is_err());
        assert!(c.open(b"outbox", &[]).is_err());
        assert!(c.open(b"outbox", &sealed[..1 + NONCE_LEN + TAG_LEN - 1]).is_err());
    }

    #[test]
    fn a_wrong_place_fails() {
        let c = cipher(4);
        let sealed = c.seal(b"record:a", b"state").expect("seal");
        assert!(c.open(b"record:b", &sealed).is_err());
        assert!(c.open(b"", &sealed).is_err());
        assert_eq!(c.open(b"record:a", &sealed).expect("open"), b"state");
    }

    #[test]
    fn keys_parse_from_hex_and_never_print() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let key = StoreKey::from_hex(&format!("  {hex}\n")).expect("hex");
        assert_eq!(key.to_hex(), hex.to_lowercase());
        assert_eq!(key.0[..4], [0x00, 0x11, 0x22, 0x33]);
        let shown = format!("{key:?}");
        assert!(!shown.contains("00112233") && !shown.contains("aabb"), "{shown}");
        for bad in ["", "00", &hex[1..], &format!("{}g", &hex[1..]), &format!("{hex}00")] {
            assert!(matches!(StoreKey::from_hex(bad), Err(Error::KeyFormat)), "{bad:?}");
        }
        let a = StoreKey::generate().expect("random");
        let b = StoreKey::generate().expect("random");
        assert_ne!(a.0, b.0);
        assert_eq!(StoreKey::from_hex(&a.to_hex()).expect("hex").0, a.0);
    }
}
