//! The checkpoint file an auditor keeps: the latest signed checkpoint and the
//! public key that signed it, as a few lines of JSON. With it, `verify` proves
//! that the log up to that position is exactly what was signed, even if the
//! database was rolled back or its newest events and checkpoints were removed.
//!
//! It does not carry the checkpoint's event list: the head commits to it.

use super::head::{Checkpoint, Origin};
use super::key::{KeyError, TrustedKey};
use crate::log::EventLog;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const CHECKPOINT_FORMAT: &str = "almanac-checkpoint-v1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointFile {
    pub format: String,
    pub position: i64,
    pub previous_position: i64,
    pub event_count: i64,
    pub previous_head: String,
    pub head: String,
    pub origin: String,
    pub signed_at: DateTime<Utc>,
    pub key_id: String,
    pub public_key: String,
    pub signature: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointFileError {
    #[error("checkpoint file is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("checkpoint file: format {0:?} is not {CHECKPOINT_FORMAT:?}")]
    Format(String),
    #[error("checkpoint file: field {field} is not valid hex")]
    Hex { field: &'static str },
    #[error("checkpoint file: origin {0:?} is neither \"append\" nor \"backlog\"")]
    Origin(String),
    #[error("checkpoint file: {0}")]
    Key(#[from] KeyError),
    #[error(
        "checkpoint file: key_id {stated} does not belong to its public key (which is {actual})"
    )]
    KeyId { stated: String, actual: String },
    #[error("checkpoint file: the signature does not verify with its public key")]
    Signature,
    #[error("no checkpoint to export: the log has no signed checkpoint yet")]
    NoneYet,
    #[error("the checkpoint at position {position} is signed by key {key_id}, not by {expected}")]
    ForeignKey {
        position: i64,
        key_id: String,
        expected: String,
    },
    #[error("database error: {0}")]
    Database(#[from] crate::StoreError),
}

impl CheckpointFile {
    pub fn from_checkpoint(checkpoint: &Checkpoint, key: &TrustedKey) -> Self {
        Self {
            format: CHECKPOINT_FORMAT.into(),
            position: checkpoint.position,
            previous_position: checkpoint.previous_position,
            event_count: checkpoint.event_count,
            previous_head: hex::encode(&checkpoint.previous_head),
            head: hex::encode(&checkpoint.head),
            origin: checkpoint.origin.as_str().into(),
            signed_at: checkpoint.signed_at,
            key_id: checkpoint.key_id.clone(),
            public_key: key.to_hex(),
            signature: hex::encode(&checkpoint.signature),
        }
    }

    /// Parses and checks the file on its own: its key id and its signature.
    pub fn parse(text: &str) -> Result<(Checkpoint, TrustedKey), CheckpointFileError> {
        let file: CheckpointFile = serde_json::from_str(text)?;
        file.open()
    }

    /// The checkpoint and its key, once the signature is checked.
    pub fn open(&self) -> Result<(Checkpoint, TrustedKey), CheckpointFileError> {
        if self.format != CHECKPOINT_FORMAT {
            return Err(CheckpointFileError::Format(self.format.clone()));
        }
        let hex = |field: &'static str, text: &str| {
            hex::decode(text).map_err(|_| CheckpointFileError::Hex { field })
        };
        let key = TrustedKey::from_hex(&self.public_key)?;
        if key.key_id != self.key_id {
            return Err(CheckpointFileError::KeyId {
                stated: self.key_id.clone(),
                actual: key.key_id,
            });
        }
        let checkpoint = Checkpoint {
            position: self.position,
            previous_position: self.previous_position,
            previous_head: hex("previous_head", &self.previous_head)?,
            head: hex("head", &self.head)?,
            event_count: self.event_count,
            origin: Origin::parse(&self.origin)
                .ok_or_else(|| CheckpointFileError::Origin(self.origin.clone()))?,
            signed_at: self.signed_at,
            key_id: self.key_id.clone(),
            signature: hex("signature", &self.signature)?,
        };
        if !key.verifies(&checkpoint.message(), &checkpoint.signature) {
            return Err(CheckpointFileError::Signature);
        }
        Ok((checkpoint, key))
    }
}

impl EventLog {
    /// The latest checkpoint as a file for an auditor, checked against `key`
    /// first so that nobody exports a checkpoint the key did not sign.
    pub async fn export_checkpoint(
        &self,
        key: &TrustedKey,
    ) -> Result<CheckpointFile, CheckpointFileError> {
        let checkpoint = self
            .latest_checkpoint()
            .await?
            .ok_or(CheckpointFileError::NoneYet)?;
        if checkpoint.key_id != key.key_id {
            return Err(CheckpointFileError::ForeignKey {
                position: checkpoint.position,
                key_id: checkpoint.key_id,
                expected: key.key_id.clone(),
            });
        }
        let file = CheckpointFile::from_checkpoint(&checkpoint, key);
        file.open()?;
        Ok(file)
    }
}
