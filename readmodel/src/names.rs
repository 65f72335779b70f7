//! The name order's index key: an entity's ref, ordered by `(lower(name), ref)`, the API's
//! default page order, without a second copy of the name.
//!
//! A canonical ref is `kind:namespace/name` lower-cased, so it ends with the lower-cased
//! name whenever lower-casing the name char by char (the ref's way) equals
//! `str::to_lowercase` (the name key's way): always for the ASCII names validation allows.
//! Only an entity whose name key is not the ref's tail (a name with a final sigma, say)
//! holds it apart. This module does not decide what a name key is (`Entity::key_name`
//! does) and does not page (`list` does).

use std::cmp::Ordering;
use std::sync::Arc;

/// One live entity in the name order: `(name key, ref)`, 32 bytes, usually with no
/// allocation of its own (the ref is the entity's shared one).
#[derive(Clone, Debug)]
pub(crate) struct NameKey {
    entity_ref: Arc<str>,
    /// The name key when it is not the ref's tail after its last `/`.
    apart: Option<Arc<str>>,
}

impl NameKey {
    /// The key of the entity `entity_ref` whose name key is `name`.
    pub(crate) fn new(entity_ref: Arc<str>, name: &str) -> NameKey {
        let apart = (tail(&entity_ref) != name).then(|| Arc::from(name));
        NameKey { entity_ref, apart }
    }

    /// A key ordered right after `(name, entity_ref)`'s place: a page's cursor. It need
    /// not be a live entity's.
    pub(crate) fn at(name: &str, entity_ref: &str) -> NameKey {
        NameKey {
            entity_ref: Arc::from(entity_ref),
            apart: Some(Arc::from(name)),
        }
    }

    /// The lower-cased name.
    pub(crate) fn name(&self) -> &str {
        self.apart
            .as_deref()
            .unwrap_or_else(|| tail(&self.entity_ref))
    }

    pub(crate) fn entity_ref(&self) -> &Arc<str> {
        &self.entity_ref
    }
}

/// What follows a ref's last `/` (the whole text when there is none).
fn tail(entity_ref: &str) -> &str {
    entity_ref.rsplit('/').next().unwrap_or(entity_ref)
}

impl PartialEq for NameKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for NameKey {}

impl Ord for NameKey {
    /// By name key, then ref: the order the old `(lower(name), ref)` pairs had.
    fn cmp(&self, other: &Self) -> Ordering {
        self.name()
            .cmp(other.name())
            .then_with(|| self.entity_ref.cmp(&other.entity_ref))
    }
}

impl PartialOrd for NameKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key orders as the `(name key, ref)` pair it stands for, whether the name is
    /// the ref's tail or held apart (non-ASCII names, a final sigma, names the ref
    /// spells otherwise), and cursors fall where the pair would.
    #[test]
    fn keys_order_as_the_name_and_ref_pairs_they_stand_for() {
        let entities = [
            ("component:default/payments", "Payments"),
            ("component:default/payments-api", "payments-API"),
            ("api:default/payments", "PAYMENTS"),
            ("group:default/zeta", "zeta"),
            ("component:other/ωσ", "ΩΣ"),
            ("component:default/ωσ", "ωσ"),
            ("component:default/straße", "STRASSE"),
            ("component:default/straße", "Straße"),
            ("user:default/émile", "Émile"),
            ("user:default/a", "a"),
            ("resource:default/b", "b"),
            ("resource:default/a.b_c", "A.B_C"),
        ];
        let mut pairs: Vec<(String, String)> = entities
            .iter()
            .map(|(r, name)| (name.to_lowercase(), r.to_string()))
            .collect();
        let mut keys: Vec<NameKey> = pairs
            .iter()
            .map(|(name, r)| NameKey::new(Arc::from(r.as_str()), name))
            .collect();
        pairs.sort();
        keys.sort();
        let read: Vec<(String, String)> = keys
            .iter()
            .map(|k| (k.name().to_string(), k.entity_ref().to_string()))
            .collect();
        assert_eq!(read, pairs);
        // The usual key holds nothing apart; a name the ref spells otherwise does.
        assert!(keys.iter().any(|k| k.apart.is_none()));
        assert!(keys
            .iter()
            .filter(|k| k.entity_ref.ends_with("/ωσ"))
            .any(|k| k.apart.as_deref() == Some("ως")));
        for (name, r) in &pairs {
            let cursor = NameKey::at(name, r);
            let after: Vec<&(String, String)> =
                pairs.iter().filter(|p| (&p.0, &p.1) > (name, r)).collect();
            let found: Vec<(String, String)> = keys
                .iter()
                .filter(|k| **k > cursor)
                .map(|k| (k.name().to_string(), k.entity_ref().to_string()))
                .collect();
            assert_eq!(found.iter().collect::<Vec<_>>(), after, "after {name} {r}");
        }
    }
}
