//! Ownership through the organisation: what a group owns with its subgroups,
//! what a user owns through their groups, a group's members with those of its
//! subgroups, and a group's chain of parents.
//!
//! Each is one statement for any number of roots: recursive CTEs over
//! `relations`, whose `UNION` drops rows already produced, so a cycle in the
//! group tree ends the recursion instead of looping.

use super::entities::{columns, EntityRecord};
use super::{Catalog, CatalogError};
use crate::stored_relation::literal;
use almanac_domain::RelationType;
pub use almanac_readmodel::OwnedScope;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Rooted {
    pub root: String,
    #[sqlx(flatten)]
    pub entity: EntityRecord,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Ancestor {
    pub root: String,
    /// 1 for the parent, 2 for the grandparent, ...
    pub depth: i32,
    #[sqlx(flatten)]
    pub entity: EntityRecord,
}

/// The groups below each root (and the root itself), as `tree(root, ref)`.
/// `$1` holds the roots; `$2` turns the descent on.
fn group_tree() -> String {
    format!(
        "WITH RECURSIVE tree(root, ref) AS ( \
           SELECT r, r FROM unnest($1::text[]) AS r \
         UNION \
           SELECT t.root, e.target_ref FROM tree t \
           JOIN relations e ON e.source_ref = t.ref AND e.type = {} \
           WHERE $2::bool)",
        literal(RelationType::ParentOf)
    )
}

/// The roots and the groups each root is a direct member of.
fn memberships() -> String {
    format!(
        "WITH tree(root, ref) AS ( \
           SELECT r, r FROM unnest($1::text[]) AS r \
         UNION \
           SELECT source_ref, target_ref FROM relations \
           WHERE source_ref = ANY($1) AND type = {} AND $2::bool)",
        literal(RelationType::MemberOf)
    )
}

/// Deepest parent chain followed; deeper trees are cut (and cycles end here).
const MAX_ANCESTRY: i32 = 64;

impl Catalog {
    /// Entities owned within `scope` of each root, by kind then name.
    pub async fn owned_entities(
        &self,
        roots: &[String],
        scope: OwnedScope,
    ) -> Result<Vec<Rooted>, CatalogError> {
        let (tree, descend) = match scope {
            OwnedScope::Direct => (group_tree(), false),
            OwnedScope::Subgroups => (group_tree(), true),
            OwnedScope::Memberships => (memberships(), true),
        };
        let sql = format!(
            "{tree} SELECT DISTINCT ON (t.root, e.ref) t.root, {} FROM tree t \
             JOIN entities e ON e.owner_ref = t.ref \
             ORDER BY t.root, e.ref",
            columns("e")
        );
        Ok(sqlx::query_as(&sql)
            .bind(roots)
            .bind(descend)
            .fetch_all(&mut *self.reader().await?)
            .await?)
    }

    /// The users who are members of each root group, or (`transitive`) of it
    /// or any group below it. Members that do not exist are left out.
    pub async fn members(
        &self,
        roots: &[String],
        transitive: bool,
    ) -> Result<Vec<Rooted>, CatalogError> {
        let sql = format!(
            "{} SELECT DISTINCT ON (t.root, u.ref) t.root, {} FROM tree t \
             JOIN relations m ON m.source_ref = t.ref AND m.type = {} \
             JOIN entities u ON u.ref = m.target_ref \
             ORDER BY t.root, u.ref",
            group_tree(),
            columns("u"),
            literal(RelationType::HasMember)
        );
        Ok(sqlx::query_as(&sql)
            .bind(roots)
            .bind(transitive)
            .fetch_all(&mut *self.reader().await?)
            .await?)
    }

    /// Each root's parent, grandparent and so on (those that exist), nearest first.
    pub async fn ancestors(&self, roots: &[String]) -> Result<Vec<Ancestor>, CatalogError> {
        let sql = format!(
            "WITH RECURSIVE up(root, ref, depth) AS ( \
                 SELECT r, r, 0 FROM unnest($1::text[]) AS r \
               UNION \
                 SELECT up.root, e.target_ref, up.depth + 1 FROM up \
                 JOIN relations e ON e.source_ref = up.ref AND e.type = {child_of} \
                 WHERE up.depth < $2) \
             SELECT root, depth, {cols} FROM ( \
               SELECT DISTINCT ON (up.root, g.ref) up.root, up.depth, {gcols} FROM up \
               JOIN entities g ON g.ref = up.ref \
               WHERE up.depth > 0 AND g.ref <> up.root \
               ORDER BY up.root, g.ref, up.depth) a \
             ORDER BY root, depth, ref",
            cols = super::entities::bare_columns(),
            gcols = columns("g"),
            child_of = literal(RelationType::ChildOf),
        );
        Ok(sqlx::query_as(&sql)
            .bind(roots)
            .bind(MAX_ANCESTRY)
            .fetch_all(&mut *self.reader().await?)
            .await?)
    }
}
