//! The global head and the checkpoint a key signs: pure functions, no SQL.
//!
//! `head(n) = sha256(head(n-1) || position || version || len(stream) || stream
//! || event_hash)` over every event in position order, starting from 32 zero
//! bytes. A chain (not a Merkle tree) because the log is only ever read whole or
//! from a checkpoint on, so inclusion proofs for single events would buy
//! nothing, and a chain is computed in one pass as the server appends. The
//! position is hashed so that events cannot be renumbered, the stream and version
//! so that a checkpoint's list of events is authenticated by its head.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The head before the first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// One sealed event, as a checkpoint lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub position: i64,
    pub stream: String,
    pub version: i64,
    pub hash: Vec<u8>,
}

/// The head after `entry`, given the head before it.
pub fn next_head(previous: &[u8; 32], entry: &Entry) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(entry.position.to_be_bytes());
    hasher.update(entry.version.to_be_bytes());
    hasher.update((entry.stream.len() as u64).to_be_bytes());
    hasher.update(entry.stream.as_bytes());
    hasher.update(&entry.hash);
    hasher.finalize().into()
}

/// Folds `entries` onto `previous`.
pub fn fold_head<'a>(
    previous: &[u8; 32],
    entries: impl IntoIterator<Item = &'a Entry>,
) -> [u8; 32] {
    entries
        .into_iter()
        .fold(*previous, |head, entry| next_head(&head, entry))
}

/// How the checkpoint's events were sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// By the append that wrote them, from what it wrote.
    Append,
    /// Read back from the table afterwards: a log from before checkpoints, or
    /// an import. Trust on first use, so `verify` mentions it.
    Backlog,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Append => "append",
            Origin::Backlog => "backlog",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "append" => Some(Origin::Append),
            "backlog" => Some(Origin::Backlog),
            _ => None,
        }
    }
}

/// A signed statement: "up to `position` the log holds `event_count` events and
/// its head is `head`", chained onto the checkpoint at `previous_position`.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub position: i64,
    pub previous_position: i64,
    pub previous_head: Vec<u8>,
    pub head: Vec<u8>,
    pub event_count: i64,
    pub origin: Origin,
    pub signed_at: DateTime<Utc>,
    pub key_id: String,
    pub signature: Vec<u8>,
}

impl Checkpoint {
    /// The bytes the key signs: every field but the signature, fixed-width and
    /// domain-separated so a signature cannot be reused for anything else.
    pub fn message(&self) -> Vec<u8> {
        let mut message = b"almanac checkpoint v1\n".to_vec();
        message.extend(self.position.to_be_bytes());
        message.extend(self.previous_position.to_be_bytes());
        message.extend(self.event_count.to_be_bytes());
        message.extend((self.previous_head.len() as u64).to_be_bytes());
        message.extend(&self.previous_head);
        message.extend((self.head.len() as u64).to_be_bytes());
        message.extend(&self.head);
        message.extend(self.origin.as_str().as_bytes());
        message.push(b'\n');
        message.extend(self.signed_at.timestamp_micros().to_be_bytes());
        message.extend(self.key_id.as_bytes());
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(position: i64, stream: &str) -> Entry {
        Entry {
            position,
            stream: stream.into(),
            version: 1,
            hash: vec![position as u8; 32],
        }
    }

    #[test]
    fn the_head_covers_position_stream_and_order() {
        let a = entry(1, "a");
        let b = entry(2, "b");
        let head = fold_head(&GENESIS, [&a, &b]);
        assert_ne!(head, fold_head(&GENESIS, [&b, &a]));
        let renumbered = Entry {
            position: 3,
            ..b.clone()
        };
        assert_ne!(head, fold_head(&GENESIS, [&a, &renumbered]));
        // "a" + "bc" must not collide with "ab" + "c": the stream is length-prefixed.
        let split = Entry {
            stream: "ab".into(),
            ..a.clone()
        };
        assert_ne!(next_head(&GENESIS, &a), next_head(&GENESIS, &split));
    }
}
