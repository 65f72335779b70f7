//! A log written the way ingest writes it (validated descriptors, `diff` for updates, one
//! version per stream event, increasing positions), for tests to fold.

use std::collections::BTreeMap;

use almanac_domain::{diff, CatalogEvent, Entity, RemovalReason};
use almanac_readmodel::LogEvent;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

#[derive(Default)]
pub struct Log {
    pub events: Vec<LogEvent>,
    /// stream -> (version, live descriptor)
    pub streams: BTreeMap<String, (i64, Option<Value>)>,
}

/// Position `p` happened at second `p` of 2026 (times are a function of the log).
pub fn time_of(position: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_225_600 + position, 0)
        .single()
        .unwrap_or_default()
}

impl Log {
    fn push(&mut self, stream: &str, event: CatalogEvent) {
        let position = self.events.len() as i64 + 1;
        let entry = self.streams.entry(stream.to_string()).or_insert((0, None));
        entry.0 += 1;
        self.events.push(LogEvent {
            position,
            stream: stream.to_string(),
            version: entry.0,
            recorded_at: time_of(position),
            event,
        });
    }

    /// Registers or updates the entity `descriptor` describes; returns its canonical ref.
    pub fn put(&mut self, descriptor: Value) -> String {
        let entity = Entity::from_value(descriptor).expect("a valid descriptor");
        let stream = entity.entity_ref().canonical();
        let descriptor = entity.into_descriptor();
        let current = self.streams.get(&stream).and_then(|(_, d)| d.clone());
        let event = match &current {
            Some(old) if *old == descriptor => return stream,
            Some(old) => CatalogEvent::EntityUpdated {
                changes: diff(old, &descriptor),
            },
            None => CatalogEvent::EntityRegistered {
                descriptor: descriptor.clone(),
            },
        };
        self.push(&stream, event);
        if let Some(entry) = self.streams.get_mut(&stream) {
            entry.1 = Some(descriptor);
        }
        stream
    }

    pub fn remove(&mut self, stream: &str) {
        self.push(
            stream,
            CatalogEvent::EntityRemoved {
                reason: RemovalReason::GoneFromSource,
            },
        );
        if let Some(entry) = self.streams.get_mut(stream) {
            entry.1 = None;
        }
    }

    pub fn orphan(&mut self, stream: &str) {
        self.push(
            stream,
            CatalogEvent::EntityOrphaned {
                location: "url:https://example.com/catalog-info.yaml".into(),
            },
        );
    }

    /// An event on a stream that does not fold (a stale patch): the projector records it
    /// and passes it; so must the fold.
    pub fn bad_update(&mut self, stream: &str) {
        let changes = diff(
            &serde_json::json!({"spec": {"type": "never-was"}}),
            &serde_json::json!({"spec": {"type": "x"}}),
        );
        self.push(stream, CatalogEvent::EntityUpdated { changes });
    }

    pub fn location(&mut self, id: &str) {
        self.push(
            &almanac_domain::location_stream(id),
            CatalogEvent::LocationAdded {
                id: id.into(),
                location_type: "url".into(),
                target: format!("https://example.com/{id}.yaml"),
            },
        );
    }

    pub fn live(&self, stream: &str) -> bool {
        self.streams.get(stream).is_some_and(|(_, d)| d.is_some())
    }
}
