//! The benchmark's own view of the database: a superuser connection to the
//! embedded cluster that `almanac serve` started (adopted, not started again),
//! or a fresh database created through `DATABASE_URL` for each run.
//!
//! Only reads the catalog (log head, checkpoint, counts) and runs the floor
//! measurements; it never writes to Almanac's tables.

use almanac_store::embedded::{EmbeddedOptions, EmbeddedPostgres, SUPERUSER};
use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use std::path::Path;
use std::str::FromStr;

pub struct BenchDb {
    /// Almanac's database, as a role that may read everything.
    pub pool: PgPool,
    /// Where a scratch database (or table) for the COPY floor can be made.
    pub admin: PgConnectOptions,
    /// True when `admin` may create a scratch database (embedded superuser).
    pub may_create_database: bool,
    embedded: Option<EmbeddedPostgres>,
    /// The database created for this run through `DATABASE_URL`, dropped at the end.
    created: Option<(PgConnectOptions, String)>,
}

/// `postgres://...host/dbname?x` with the database name replaced.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let host = path_start.map_or(base, |i| &base[..i]);
    match query {
        Some(query) => format!("{host}/{database}?{query}"),
        None => format!("{host}/{database}"),
    }
}

impl BenchDb {
    /// Creates an empty database for one run through `DATABASE_URL` and returns
    /// its URL (the almanac processes use it as server and owner).
    pub async fn create_run_database(url: &str, name: &str) -> anyhow::Result<String> {
        let mut conn = PgConnectOptions::from_str(url)?.connect().await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("cannot create database {name} through DATABASE_URL"))?;
        conn.close().await?;
        Ok(with_database(url, name))
    }

    /// Adopts the embedded cluster in `data_dir` (already started by serve).
    pub async fn embedded(data_dir: &Path) -> anyhow::Result<BenchDb> {
        let pg = EmbeddedPostgres::start(EmbeddedOptions::new(data_dir)).await?;
        let pool = pool(pg.connect_options(SUPERUSER, "almanac")).await?;
        Ok(BenchDb {
            pool,
            admin: pg.connect_options(SUPERUSER, "postgres"),
            may_create_database: true,
            embedded: Some(pg),
            created: None,
        })
    }

    /// The run database made by [`create_run_database`](Self::create_run_database).
    pub async fn url(base_url: &str, run_url: &str, name: &str) -> anyhow::Result<BenchDb> {
        let options = PgConnectOptions::from_str(run_url)?;
        Ok(BenchDb {
            pool: pool(options.clone()).await?,
            admin: options,
            may_create_database: false,
            embedded: None,
            created: Some((PgConnectOptions::from_str(base_url)?, name.to_string())),
        })
    }

    pub async fn server_version(&self) -> anyhow::Result<String> {
        let (version,): (String,) = sqlx::query_as("SELECT version()")
            .fetch_one(&self.pool)
            .await?;
        Ok(version)
    }

    /// The log's head position (0 when empty).
    pub async fn head(&self) -> anyhow::Result<i64> {
        let (head,): (i64,) = sqlx::query_as("SELECT coalesce(max(position), 0) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(head)
    }

    /// (entities, relation rows) in the projection. No table holds relations since
    /// migration 0008 (the in-memory catalog answers every hop): 0 relation rows.
    pub async fn counts(&self) -> anyhow::Result<(i64, i64)> {
        Ok(
            sqlx::query_as("SELECT (SELECT count(*) FROM entities), 0::int8")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// How many of `refs` show `mark` in their projected description (read from the
    /// descriptor: `entities` stores no copy of it since migration 0017).
    pub async fn visible_with(&self, refs: &[String], mark: &str) -> anyhow::Result<i64> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM entities WHERE ref = ANY($1) \
             AND strpos(descriptor->'metadata'->>'description', $2) > 0",
        )
        .bind(refs)
        .bind(mark)
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }

    /// Lets go of the cluster (stopping it if no almanac process uses it any
    /// more) or drops the run database.
    pub async fn close(self) -> anyhow::Result<()> {
        self.pool.close().await;
        if let Some(pg) = self.embedded {
            pg.stop().await?;
        }
        if let Some((base, name)) = self.created {
            let mut conn = base.connect().await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await?;
            conn.close().await?;
        }
        Ok(())
    }
}

async fn pool(options: PgConnectOptions) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(64)
        .connect_with(options)
        .await?)
}
