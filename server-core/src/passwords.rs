//! Admin passwords: argon2id hashes with a random salt per password, and
//! generated one-time passwords. There is no default password anywhere.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use ring::rand::{SecureRandom, SystemRandom};

/// Shortest password accepted.
pub const MIN_LEN: usize = 12;
/// Letters of generated passwords: no 0/O, 1/l/I.
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

/// Why a password cannot be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`MIN_LEN`].
    #[error("a password has at least {MIN_LEN} characters")]
    TooShort,
    /// The system random generator or the hasher failed.
    #[error("cannot hash the password")]
    Hashing,
}

/// Hashes a password with argon2id (the crate's OWASP-recommended defaults).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LEN {
        return Err(PasswordError::TooShort);
    }
    let mut salt = [0u8; 16];
    SystemRandom::new().fill(&mut salt).map_err(|_| PasswordError::Hashing)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| PasswordError::Hashing)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Hashing)
}

/// Whether `password` matches `stored` (constant-time comparison inside argon2).
pub fn verify(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A random 20-character password, printed once by `admin create`.
pub fn generate() -> Result<String, PasswordError> {
    let mut bytes = [0u8; 20];
    SystemRandom::new().fill(&mut bytes).map_err(|_| PasswordError::Hashing)?;
    Ok(bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash("correct horse battery").expect("hash");
        let b = hash("correct horse battery").expect("hash");
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify(&a, "correct horse battery"));
        assert!(!verify(&a, "correct horse batterz"));
        assert!(!verify("not a hash", "x"));
        assert_eq!(hash("short"), Err(PasswordError::TooShort));
        let generated = generate().expect("generate");
        assert_eq!(generated.len(), 20);
        assert!(hash(&generated).is_ok());
    }
}
