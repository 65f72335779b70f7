//! The signing key: an Ed25519 seed in a file outside the database, created on
//! first use with mode 0600. It is no process-wide setting: an `EventLog` holds
//! the key its appends sign with (`EventLog::with_sealer`), set from the
//! configuration by the binary.
//!
//! It does not encrypt the file or rotate keys; keep the file where the
//! database's users cannot read it (the embedded PostgreSQL runs as another
//! user, and nothing in the database points to the file).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("signing key {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "signing key {path} may be read by other users (mode {mode:o}): run `chmod 600 {path}`"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("public key {text:?} is not valid: {reason}")]
    InvalidPublic { text: String, reason: String },
}

/// The private key that signs checkpoints. Its `Debug` never shows the secret.
pub struct Sealer {
    key: SigningKey,
    trusted: TrustedKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("key_id", &self.trusted.key_id)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&seed);
        let trusted = TrustedKey::new(key.verifying_key());
        Self { key, trusted }
    }

    /// Reads the key at `path`, or creates it there (mode 0600, parent
    /// directories included) when there is none.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::metadata(path) {
            Ok(_) => Self::load(path),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                let mut seed = [0u8; 32];
                getrandom::getrandom(&mut seed).map_err(|err| io(std::io::Error::other(err)))?;
                let mut file = create_private(path).map_err(io)?;
                file.write_all(format!("{}\n", hex::encode(seed)).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(io)?;
                Ok(Self::from_seed(seed))
            }
            Err(err) => Err(io(err)),
        }
    }

    /// Reads an existing key file (64 hex digits: the Ed25519 seed).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let invalid = |reason: &str| KeyError::Invalid {
            path: path.to_path_buf(),
            reason: reason.into(),
        };
        refuse_open_mode(path)?;
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bytes = hex::decode(text.trim()).map_err(|_| invalid("expected 64 hex digits"))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| invalid("expected 64 hex digits (a 32-byte Ed25519 seed)"))?;
        Ok(Self::from_seed(seed))
    }

    pub fn trusted(&self) -> &TrustedKey {
        &self.trusted
    }

    pub fn key_id(&self) -> &str {
        &self.trusted.key_id
    }

    pub(super) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn refuse_open_mode(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_open_mode(_path: &Path) -> Result<(), KeyError> {
    Ok(())
}

/// A public key a verifier trusts, with the id checkpoints name it by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedKey {
    /// The first 16 hex digits of sha-256 over the public key.
    pub key_id: String,
    key: VerifyingKey,
}

impl TrustedKey {
    pub fn new(key: VerifyingKey) -> Self {
        let key_id = hex::encode(&Sha256::digest(key.as_bytes())[..8]);
        Self { key_id, key }
    }

    /// From 64 hex digits, as in a checkpoint file.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let invalid = |reason: &str| KeyError::InvalidPublic {
            text: text.into(),
            reason: reason.into(),
        };
        let bytes: [u8; 32] = hex::decode(text)
            .map_err(|_| invalid("expected 64 hex digits"))?
            .try_into()
            .map_err(|_| invalid("expected 64 hex digits"))?;
        VerifyingKey::from_bytes(&bytes)
            .map(Self::new)
            .map_err(|_| invalid("not an Ed25519 public key"))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.key.as_bytes())
    }

    /// Strict verification: refuses the malleable and small-order forms.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        let signature = Signature::from_bytes(&bytes);
        self.key.verify_strict(message, &signature).is_ok()
    }
}
