//! The test harness: every test gets its own fresh, migrated database on a real
//! PostgreSQL. No mock database anywhere.
//!
//! With `DATABASE_URL` set (a role that may create roles and databases), tests use
//! that server. Otherwise one embedded cluster serves the whole test run: it lives
//! in `ALMANAC_TEST_PG_DIR` (default `$TMPDIR/almanac-test-pg`), is started by the
//! first test process that needs it and reused by the rest (nextest runs each test
//! in its own process). A migrated template database, named by the migrations'
//! checksums, is cloned per test, which costs milliseconds.
//! Databases left by test processes that have exited are dropped on the next run.
//! Appends must be signed, so the harness installs a fixed test signing key.

use crate::embedded::{
    self, Durability, EmbeddedOptions, EmbeddedPostgres, OWNER_ROLE, SERVER_ROLE,
};
use crate::log::seal::Sealer;
use crate::EventLog;
use crate::MIGRATOR;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;

/// Password given to the test roles when the server is external (TCP).
const EXTERNAL_PASSWORD: &str = "almanac-test";
const DB_PREFIX: &str = "almanac_t_";

/// A fresh database for one test, with connections as each role.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    /// The server's restricted role (SELECT and INSERT on the log).
    pub pool: PgPool,
    /// The schema owner (what migrations run as).
    pub owner: PgPool,
    /// A superuser on this database: only for tests that tamper on purpose.
    pub superuser: PgConnectOptions,
    server: PgConnectOptions,
}

impl TestDb {
    /// Options for the server role, to open more pools (a second server, say).
    pub fn server_options(&self) -> PgConnectOptions {
        self.server.clone()
    }

    pub fn owner_options(&self) -> PgConnectOptions {
        self.owner.connect_options().as_ref().clone()
    }
}

#[derive(Clone, Debug)]
struct Cluster {
    superuser: PgConnectOptions,
    /// Options for a role on the cluster, before the database is chosen.
    role_base: PgConnectOptions,
    password: Option<String>,
    template: String,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A new database cloned from the migrated template.
///
/// # Panics
/// When no PostgreSQL can be reached: a test without its database cannot run.
pub async fn test_db() -> TestDb {
    let cluster = cluster();
    let name = format!(
        "{DB_PREFIX}{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let mut admin = cluster
        .superuser
        .connect()
        .await
        .expect("connect to the test cluster as superuser");
    create_from_template(&mut admin, &name, &cluster.template).await;
    let _ = admin.close().await;

    let role = |user: &str| {
        let options = cluster.role_base.clone().username(user).database(&name);
        match &cluster.password {
            Some(password) => options.password(password),
            None => options,
        }
    };
    let server = role(SERVER_ROLE);
    let server_pool = open_pool(server.clone()).await;
    let owner = open_pool(role(OWNER_ROLE)).await;
    TestDb {
        superuser: cluster.superuser.clone().database(&name),
        name,
        pool: server_pool,
        owner,
        server,
    }
}

/// The key tests sign with (a fixed seed, so it is not a secret: tests only).
pub fn test_sealer() -> Arc<Sealer> {
    Arc::new(Sealer::from_seed([7; 32]))
}

impl TestDb {
    /// Makes this database refuse to store an entity whose `spec.type` is longer than a
    /// btree index row can hold (about 2,700 bytes), as a real database refusal for the
    /// projector's per-entity fallback to meet: an index on `spec_type`, which the
    /// catalog itself does not keep (migration 0015).
    pub async fn refuse_long_spec_types(&self) {
        sqlx::query("CREATE INDEX test_refuse_long_spec_types ON entities (spec_type)")
            .execute(&self.owner)
            .await
            .expect("create the refusing index");
    }

    /// The log on the server's pool, appending with [`test_sealer`]'s key.
    pub fn log(&self) -> EventLog {
        EventLog::new(self.pool.clone()).with_sealer(test_sealer())
    }
}

async fn open_pool(options: PgConnectOptions) -> PgPool {
    PgPoolOptions::new()
        .max_connections(12)
        .connect_with(options)
        .await
        .expect("connect to the test database")
}

async fn create_from_template(admin: &mut PgConnection, name: &str, template: &str) {
    let sql = format!("CREATE DATABASE {name} TEMPLATE {template} OWNER {OWNER_ROLE}");
    // A clone fails while another session is briefly connected to the template.
    for attempt in 0..50 {
        match sqlx::query(&sql).execute(&mut *admin).await {
            Ok(_) => return,
            Err(sqlx::Error::Database(db))
                if db.code().as_deref() == Some("55006") && attempt < 49 =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(err) => panic!("create test database {name}: {err}"),
        }
    }
}

fn cluster() -> Cluster {
    let result = CLUSTER.get_or_init(|| {
        // Set up on a runtime of its own: the pools of each test's runtime must
        // not outlive it, so nothing async is kept here, only options.
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| err.to_string())?
                .block_on(set_up())
        })
        .join()
        .unwrap_or_else(|_| Err("test cluster set-up panicked".into()))
    });
    match result {
        Ok(cluster) => cluster.clone(),
        Err(err) => panic!("no PostgreSQL for tests: {err}"),
    }
}

async fn set_up() -> Result<Cluster, String> {
    let (superuser, role_base, password) = match std::env::var("DATABASE_URL") {
        Ok(url) => {
            let superuser = PgConnectOptions::from_str(&url).map_err(|e| e.to_string())?;
            let base = superuser.clone();
            (superuser, base, Some(EXTERNAL_PASSWORD.to_string()))
        }
        Err(_) => {
            let dir = std::env::var_os("ALMANAC_TEST_PG_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("almanac-test-pg"));
            let mut options = EmbeddedOptions::new(dir);
            options.durability = Durability::Throwaway;
            options.max_connections = 400;
            // Kept running for the rest of the run and the next one; never stopped
            // here, since other test processes share it.
            let pg = EmbeddedPostgres::start(options)
                .await
                .map_err(|e| e.to_string())?;
            let superuser = pg.connect_options(embedded::SUPERUSER, "postgres");
            let base = pg.connect_options(embedded::SUPERUSER, "postgres");
            std::mem::forget(pg);
            (superuser, base, None)
        }
    };
    let mut admin = superuser.connect().await.map_err(|e| e.to_string())?;
    // One process at a time creates roles and the template.
    sqlx::query("SELECT pg_advisory_lock(7006099)")
        .execute(&mut admin)
        .await
        .map_err(|e| e.to_string())?;
    let result = prepare(&mut admin, &role_base, password.as_deref()).await;
    let _ = sqlx::query("SELECT pg_advisory_unlock(7006099)")
        .execute(&mut admin)
        .await;
    let template = result?;
    Ok(Cluster {
        superuser,
        role_base,
        password,
        template,
    })
}

async fn prepare(
    admin: &mut PgConnection,
    role_base: &PgConnectOptions,
    password: Option<&str>,
) -> Result<String, String> {
    let err = |e: sqlx::Error| e.to_string();
    embedded::ensure_roles_for_tests(admin, password)
        .await
        .map_err(err)?;
    drop_abandoned_databases(admin).await.map_err(err)?;

    let template = template_name();
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&template)
        .fetch_optional(&mut *admin)
        .await
        .map_err(err)?;
    if exists.is_some() {
        return Ok(template);
    }
    let building = format!("{template}_building");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {building}"))
        .execute(&mut *admin)
        .await
        .map_err(err)?;
    sqlx::query(&format!("CREATE DATABASE {building} OWNER {OWNER_ROLE}"))
        .execute(&mut *admin)
        .await
        .map_err(err)?;
    let owner = role_base.clone().username(OWNER_ROLE).database(&building);
    let owner = match password {
        Some(password) => owner.password(password),
        None => owner,
    };
    let mut conn = owner.connect().await.map_err(err)?;
    MIGRATOR.run(&mut conn).await.map_err(|e| e.to_string())?;
    conn.close().await.map_err(err)?;
    sqlx::query(&format!("ALTER DATABASE {building} RENAME TO {template}"))
        .execute(&mut *admin)
        .await
        .map_err(err)?;
    sqlx::query(&format!("ALTER DATABASE {template} IS_TEMPLATE true"))
        .execute(&mut *admin)
        .await
        .map_err(err)?;
    Ok(template)
}

/// Named by the migrations' checksums: a changed migration gets a new template.
fn template_name() -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for migration in MIGRATOR.iter() {
        hasher.update(migration.version.to_le_bytes());
        hasher.update(&migration.checksum);
    }
    let digest = hex::encode(hasher.finalize());
    format!("almanac_tpl_{}", &digest[..16])
}

/// Test databases are named `almanac_t_<pid>_<n>`; those whose process is gone
/// are dropped. Safe to run while other test processes are alive.
async fn drop_abandoned_databases(admin: &mut PgConnection) -> Result<(), sqlx::Error> {
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'almanac\\_t\\_%'",
    )
    .fetch_all(&mut *admin)
    .await?;
    for (name,) in names {
        let pid = name
            .trim_start_matches(DB_PREFIX)
            .split('_')
            .next()
            .and_then(|pid| pid.parse::<u32>().ok());
        let alive = pid.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut *admin)
                .await?;
        }
    }
    Ok(())
}

impl TestDb {
    /// A second, independent pool on the server role (a second server process).
    pub async fn second_pool(&self) -> PgPool {
        open_pool(self.server.clone()).await
    }
}
