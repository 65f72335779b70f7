//! Which PostgreSQL the process uses: `DATABASE_URL` when set, otherwise the
//! embedded cluster in the data directory, started (or adopted) here and
//! stopped when the last process using it leaves.

use crate::config::Settings;
use almanac_store::embedded::{EmbeddedOptions, EmbeddedPostgres, Supervision};
use almanac_store::{connect, connect_with, pool_options, Database};
use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;

pub struct Connected {
    pub database: Database,
    owner: PgConnectOptions,
    embedded: Option<EmbeddedPostgres>,
}

impl Connected {
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let (server, owner, embedded) = match &settings.database.url {
            Some(url) => {
                let server =
                    PgConnectOptions::from_str(url).context("DATABASE_URL is not valid")?;
                let owner = match &settings.database.owner_url {
                    Some(owner) => PgConnectOptions::from_str(owner)
                        .context("ALMANAC_OWNER_DATABASE_URL is not valid")?,
                    None => server.clone(),
                };
                (server, owner, None)
            }
            None => {
                if almanac_store::embedded::effective_uid() == Some(0) {
                    // PostgreSQL is handed to another account, but Almanac itself keeps
                    // root's rights for every file it reads and every request it serves.
                    tracing::warn!(
                        "almanac runs as root; run it as an unprivileged user that owns the \
                         data directory (README: Security)"
                    );
                }
                let dir = settings.data_dir();
                let pg = EmbeddedPostgres::start(EmbeddedOptions::new(&dir))
                    .await
                    .with_context(|| format!("embedded database in {}", dir.display()))?;
                tracing::info!(
                    data_dir = %pg.data_dir().display(),
                    started = pg.started_here,
                    "embedded database ready"
                );
                (pg.server_options(), pg.owner_options(), Some(pg))
            }
        };
        let database = match &embedded {
            Some(pg) => {
                let health = pg.health();
                let pool = connect_with(health.guard(pool_options(16)), server).await?;
                Database::new(pool).with_health(health)
            }
            None => Database::new(connect(server, 16).await?),
        };
        Ok(Self {
            database,
            owner,
            embedded,
        })
    }

    /// Watches the embedded database and restarts it when it dies (a no-op
    /// with `DATABASE_URL`: that server has its own supervisor). The
    /// database's health then follows what the supervisor sees.
    pub fn supervise(&mut self, settings: Supervision) {
        if let Some(pg) = self.embedded.as_mut() {
            pg.supervise(settings);
        }
    }

    /// A short-lived pool as the schema owner (migrations, imports).
    pub async fn owner_pool(&self) -> anyhow::Result<sqlx::PgPool> {
        Ok(connect(self.owner.clone(), 2).await?)
    }

    /// Applies migrations as the schema owner.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let owner = connect(self.owner.clone(), 2).await?;
        let result = Database::migrate(&owner).await;
        owner.close().await;
        result.context("migrations failed")
    }

    pub async fn close(self) -> anyhow::Result<()> {
        self.database.pool.close().await;
        if let Some(pg) = self.embedded {
            pg.stop().await.context("stopping the embedded database")?;
        }
        Ok(())
    }
}
