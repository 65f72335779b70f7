//! The request gate, an async-graphql extension that every operation (HTTP or
//! WebSocket) passes through. It gives parse and validation failures their
//! codes, enforces the depth and complexity limits and the time budget,
//! refuses mutations sent with GET, hands each request fresh loaders, and logs
//! internal errors once with their cause and GraphQL path. A query text it has
//! parsed before comes from the server's [`ParsedCache`] (limits still checked).
//!
//! When the server follows the log into memory, each query or mutation pins the
//! current [`Snapshot`] as it starts executing ([`Pinned`], request data: every
//! resolver of the operation reads the same one, however many snapshots are
//! published meanwhile), and the response says which log position it reflects
//! in `extensions.position`. Subscriptions pin none: one would hold an old
//! catalog in memory for as long as it lives; a field of theirs that reads
//! current state takes the newest snapshot then (`Loaders::snapshot`), and an
//! entity keeps the snapshot it came from for its own hops. A
//! mutation returns once the followed catalog has reached the log's head, so the
//! next operation sees what it wrote, and says that head in
//! `extensions.writtenPosition`: the token a client sends back as
//! `Almanac-Min-Position` ([`MinPosition`]) so that a read on any server is pinned
//! at or past it (waiting up to `graphql.min_position_wait_ms`, else
//! `POSITION_NOT_REACHED`).

use super::cost::{measure, DocumentCost};
use super::descriptors::DescriptorCache;
use super::loaders::Loaders;
use super::parsed::ParsedCache;
use super::size::{json_size, too_large, ResponseBudget};
use super::walks::RecentWalks;
use crate::error::{ApiError, ErrorCode, InternalError};
use crate::limits::GraphqlLimits;
use almanac_readmodel::Snapshot;
use almanac_store::catalog::{Catalog, ReadBudget};
use almanac_store::follow::Followed;
use almanac_store::EventLog;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextRequest, NextResolve, NextSubscribe, NextValidation, ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::registry::MetaType;
use async_graphql::{
    ErrorExtensionValues, Request, Response, ServerError, ServerResult, ValidationResult, Value,
    Variables,
};
use futures::stream::BoxStream;
use futures::StreamExt;
use std::sync::{Arc, Mutex, OnceLock};
use tracing::Instrument;

/// How far a request got, for the HTTP status: set by the gate, read by the
/// HTTP handler (which puts it in the request's data).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    #[default]
    Received,
    /// Did not parse or validate (HTTP 400).
    Rejected,
    /// A mutation over GET (HTTP 405).
    WrongMethod,
    Executed,
    /// A query ran, but an argument or variable could not be coerced to its
    /// type: a request error (HTTP 400), as the GraphQL-over-HTTP spec says.
    BadArgument,
    /// A subscription sent over HTTP (HTTP 400): they run over WebSocket.
    WrongTransport,
}

#[derive(Debug, Default)]
pub struct PhaseCell(Mutex<Phase>);

impl PhaseCell {
    pub fn get(&self) -> Phase {
        self.0.lock().map(|p| *p).unwrap_or_default()
    }

    fn set(&self, phase: Phase) {
        if let Ok(mut current) = self.0.lock() {
            *current = phase;
        }
    }
}

/// The snapshot of the in-memory catalog one operation reads, pinned when it
/// starts executing; empty for subscriptions and on a server that follows none.
#[derive(Debug, Default)]
pub struct Pinned(OnceLock<Snapshot>);

impl Pinned {
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.0.get()
    }
}

/// The position a request's snapshot must be at or past (the HTTP handler reads
/// it from `Almanac-Min-Position`): the gate waits for the follower to reach it
/// before pinning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinPosition(pub i64);

/// Marks a request that arrived with GET: it may only query.
#[derive(Clone, Copy, Debug)]
pub struct ViaGet;

/// Marks a request that arrived over HTTP (not a WebSocket): it may not subscribe.
#[derive(Clone, Copy, Debug)]
pub struct ViaHttp;

/// The gate's factory; it keeps the server's parsed documents across requests.
#[derive(Default)]
pub struct Gate {
    parsed: Arc<ParsedCache>,
}

impl ExtensionFactory for Gate {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GateExtension {
            parsed: self.parsed.clone(),
            ..GateExtension::default()
        })
    }
}

/// (name, type) of each operation of a parsed document.
type Operations = Mutex<Vec<(Option<String>, OperationType)>>;

#[derive(Default)]
struct GateExtension {
    /// The server's parsed documents (shared by every request).
    parsed: Arc<ParsedCache>,
    /// (name, type) of each operation in the parsed document.
    /// Shared with a subscription's stream, which names itself after parsing.
    operations: Arc<Operations>,
    /// The operation the request asked to run (`operationName`), for its figures.
    requested: Mutex<Option<String>>,
    /// What the document costs beyond async-graphql's complexity count.
    cost: Mutex<DocumentCost>,
    /// Bytes of response built so far (queries and mutations only); also in the
    /// request's data, for resolvers that build a list's values whole (`flat`).
    response: Arc<ResponseBudget>,
    /// Set by `execute`: a mutation's argument errors do not undo what its
    /// earlier fields did, so they stay field errors (HTTP 200).
    is_mutation: std::sync::atomic::AtomicBool,
}

/// Whether a field of type `return_type` (`[Foo!]!`) is a scalar or an enum,
/// whose value is charged whole; an object's fields charge their own.
fn is_leaf(ctx: &ExtensionContext<'_>, return_type: &str) -> bool {
    let named = return_type.trim_matches(|c| c == '[' || c == ']' || c == '!');
    matches!(
        ctx.schema_env.registry.types.get(named),
        Some(MetaType::Scalar { .. } | MetaType::Enum { .. }) | None
    )
}

fn with_code(mut error: ServerError, code: ErrorCode) -> ServerError {
    let extensions = error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code.as_str());
    }
    error
}

/// An enum literal outside its type (`facets(field: SYTEM)`) is a value outside a
/// closed set: `UNKNOWN_VALUE`, with the nearest values in `didYouMean` and the
/// message. Other validation errors pass unchanged.
fn unknown_enum_value(
    mut error: ServerError,
    registry: &async_graphql::registry::Registry,
) -> ServerError {
    const MARK: &str = "enumeration type \"";
    let Some(start) = error.message.find(MARK) else {
        return error;
    };
    let rest = &error.message[start + MARK.len()..];
    let mut quoted = rest.split('"');
    let (Some(type_name), _, Some(value)) = (quoted.next(), quoted.next(), quoted.next()) else {
        return error;
    };
    let Some(MetaType::Enum { enum_values, .. }) = registry.types.get(type_name) else {
        return error;
    };
    let suggestions = super::closed::nearest(value, enum_values.keys().map(|k| k.as_str()));
    if let Some(best) = suggestions.first() {
        error.message = format!("{}; did you mean {best}?", error.message);
    }
    let extensions = error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    extensions.set("code", ErrorCode::UnknownValue.as_str());
    extensions.set("didYouMean", suggestions);
    error
}

/// The first limit a document's [`DocumentCost`] breaks, as its refusal.
fn over_limits(cost: &DocumentCost, limits: &GraphqlLimits) -> Option<ServerError> {
    let (code, message) = if let Some(name) = &cost.nul_in {
        (
            ErrorCode::InvalidArgument,
            format!("{name} holds a NUL character, which cannot be stored or searched"),
        )
    } else if cost.aliases > limits.max_aliases {
        (
            ErrorCode::AliasLimitExceeded,
            format!(
                "the query has more than {} aliased fields, the limit",
                limits.max_aliases
            ),
        )
    } else if cost.fields.max(cost.introspection) > limits.max_complexity {
        (
            ErrorCode::ComplexityLimitExceeded,
            format!(
                "the query selects more than {} fields, the limit (introspection lists \
                 count once per item the schema holds)",
                limits.max_complexity
            ),
        )
    } else {
        return None;
    };
    Some(ApiError::new(code, message).into_server_error())
}

fn set_phase(ctx: &ExtensionContext<'_>, phase: Phase) {
    if let Some(cell) = ctx.data_opt::<Arc<PhaseCell>>() {
        cell.set(phase);
    }
}

fn refuse(code: ErrorCode, message: String) -> Vec<ServerError> {
    vec![ApiError::new(code, message).into_server_error()]
}

#[async_graphql::async_trait::async_trait]
impl Extension for GateExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let (Some(catalog), Some(limits)) =
            (ctx.data_opt::<Catalog>(), ctx.data_opt::<GraphqlLimits>())
        {
            let budget = Arc::new(ReadBudget::new(limits.max_request_statements));
            request.data.insert(Loaders::new(
                catalog.with_budget(budget.clone()),
                ctx.data_opt::<EventLog>().cloned(),
                ctx.data_opt::<Arc<DescriptorCache>>().cloned(),
                ctx.data_opt::<Arc<RecentWalks>>().cloned(),
                limits.clone(),
            ));
            request.data.insert(budget);
        }
        if ctx.data_opt::<Followed>().is_some() {
            request.data.insert(Pinned::default());
        }
        request.data.insert(self.response.clone());
        request.data.insert(super::closed::NotFound::default());
        if let Ok(mut requested) = self.requested.lock() {
            requested.clone_from(&request.operation_name);
        }
        next.run(ctx, request).await
    }

    /// Times and counts a query or mutation (`crate::metrics::operations`), in a
    /// span of its own.
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let span = tracing::info_span!(
            "graphql",
            operation = tracing::field::Empty,
            kind = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        let started = std::time::Instant::now();
        let response = next.run(ctx).instrument(span.clone()).await;
        let (name, ty) = self.named_operation();
        let code = first_code(&response.errors);
        span.record("operation", name.as_deref().unwrap_or(""));
        span.record("outcome", code.as_deref().unwrap_or("ok"));
        if let Some(ty) = ty {
            span.record("kind", format!("{ty}"));
        }
        crate::metrics::operations::record(
            name.as_deref(),
            ty,
            code.as_deref(),
            Some(started.elapsed()),
        );
        response
    }

    /// Counts a subscription once, by its first answer: an error when it was
    /// refused, else its first event.
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let requested = self.requested.lock().ok().and_then(|r| r.clone());
        let operations = self.operations.clone();
        let mut first = true;
        next.run(ctx, stream)
            .map(move |response| {
                if std::mem::take(&mut first) {
                    let name = name_of(requested.clone(), &operations);
                    crate::metrics::operations::record(
                        name.as_deref(),
                        Some(OperationType::Subscription),
                        first_code(&response.errors).as_deref(),
                        None,
                    );
                }
                response
            })
            .boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let max_bytes = ctx
            .data_opt::<GraphqlLimits>()
            .map_or(GraphqlLimits::default().max_query_bytes, |l| {
                l.max_query_bytes
            });
        if query.len() > max_bytes {
            set_phase(ctx, Phase::Rejected);
            return Err(ApiError::new(
                ErrorCode::QueryTooLarge,
                format!(
                    "the query text is {} bytes; the limit is {max_bytes} (send large values as variables)",
                    query.len()
                ),
            )
            .into_server_error());
        }
        let parsed = match self.parsed.get(query) {
            Some(document) => Ok(document),
            None => next
                .run(ctx, query, variables)
                .await
                .inspect(|document| self.parsed.insert(query, document)),
        };
        match parsed {
            Ok(document) => {
                let limits = ctx.data_opt::<GraphqlLimits>().cloned().unwrap_or_default();
                let cap = limits.max_complexity.max(limits.max_aliases);
                let cost = measure(&document, variables, &ctx.schema_env.registry, cap);
                // Refused here, before async-graphql's validation walks a bomb.
                if let Some(refusal) = over_limits(&cost, &limits) {
                    set_phase(ctx, Phase::Rejected);
                    return Err(refusal);
                }
                if let Ok(mut slot) = self.cost.lock() {
                    *slot = cost;
                }
                if let Ok(mut operations) = self.operations.lock() {
                    *operations = document
                        .operations
                        .iter()
                        .map(|(name, op)| (name.map(|n| n.to_string()), op.node.ty))
                        .collect();
                }
                Ok(document)
            }
            Err(error) => {
                set_phase(ctx, Phase::Rejected);
                Err(with_code(error, ErrorCode::GraphqlParseFailed))
            }
        }
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let limits = ctx.data_opt::<GraphqlLimits>().cloned().unwrap_or_default();
        let cost = self.cost.lock().map(|c| c.clone()).unwrap_or_default();
        let outcome = match next.run(ctx).await {
            Err(errors) => Err(errors
                .into_iter()
                .map(|e| unknown_enum_value(e, &ctx.schema_env.registry))
                .map(|e| with_code(e, ErrorCode::GraphqlValidationFailed))
                .collect()),
            Ok(result) if result.depth > limits.max_depth => Err(refuse(
                ErrorCode::DepthLimitExceeded,
                format!(
                    "the query is nested {} levels deep; the limit is {}",
                    result.depth, limits.max_depth
                ),
            )),
            Ok(result)
                if result.complexity.saturating_add(cost.introspection) > limits.max_complexity =>
            {
                Err(refuse(
                    ErrorCode::ComplexityLimitExceeded,
                    format!(
                        "the query costs {} (fields times page sizes, introspection lists \
                         times the schema's sizes); the limit is {}",
                        result.complexity.saturating_add(cost.introspection),
                        limits.max_complexity
                    ),
                ))
            }
            Ok(result) => Ok(result),
        };
        if outcome.is_err() {
            set_phase(ctx, Phase::Rejected);
        }
        outcome
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let operation = self.operation_type(operation_name);
        let is_mutation = operation == Some(OperationType::Mutation);
        if is_mutation && ctx.data_opt::<ViaGet>().is_some() {
            set_phase(ctx, Phase::WrongMethod);
            return Response::from_errors(refuse(
                ErrorCode::MethodNotAllowed,
                "mutations must be sent with POST".into(),
            ));
        }
        // A socket's subscription events pass here too: only HTTP is refused.
        if operation == Some(OperationType::Subscription) && ctx.data_opt::<ViaHttp>().is_some() {
            set_phase(ctx, Phase::WrongTransport);
            return Response::from_errors(refuse(
                ErrorCode::BadRequest,
                "subscriptions run over a WebSocket (graphql-transport-ws on GET /graphql), not over HTTP"
                    .into(),
            ));
        }
        set_phase(ctx, Phase::Executed);
        let pinned = ctx.data_opt::<Pinned>();
        let limits = ctx.data_opt::<GraphqlLimits>().cloned().unwrap_or_default();
        if let (Some(pinned), Some(followed)) = (pinned, ctx.data_opt::<Followed>()) {
            let snapshot = match ctx.data_opt::<MinPosition>() {
                Some(&MinPosition(min)) => {
                    match reach_within(followed, min, limits.min_position_wait()).await {
                        Ok(snapshot) => snapshot,
                        Err(refusal) => return Response::from_errors(vec![refusal]),
                    }
                }
                None => followed.pin(),
            };
            // Set once per request: a second operation of a batch is a new request.
            let _ = pinned.0.set(snapshot);
        }
        self.is_mutation
            .store(is_mutation, std::sync::atomic::Ordering::SeqCst);
        if operation != Some(OperationType::Subscription) {
            self.response.enable(limits.max_response_bytes);
        }
        let budget = if is_mutation {
            limits.mutation_timeout()
        } else {
            limits.query_timeout()
        };
        // The catalog's statements end by the operation's deadline too: a
        // timed-out request leaves nothing running in PostgreSQL.
        if let Some(reads) = ctx.data_opt::<Arc<ReadBudget>>() {
            reads.set_deadline(std::time::Instant::now() + budget);
        }
        let mut response = match tokio::time::timeout(budget, next.run(ctx, operation_name)).await {
            Ok(response) => response,
            Err(_) => {
                tracing::warn!(
                    operation = operation_name.unwrap_or(""),
                    budget_ms = budget.as_millis() as u64,
                    "operation timed out"
                );
                Response::from_errors(refuse(
                    ErrorCode::Timeout,
                    format!("the operation took longer than {} ms", budget.as_millis()),
                ))
            }
        };
        if is_mutation {
            if let Some(written) = await_followed_head(ctx, budget).await {
                response
                    .extensions
                    .insert("writtenPosition".to_string(), Value::from(written));
            }
        }
        if let Some(pinned) = pinned.and_then(Pinned::snapshot) {
            response
                .extensions
                .insert("position".to_string(), Value::from(pinned.position()));
        }
        // Refs that named no entity, with the nearest ones (`closed::report_missing`).
        let missing = ctx
            .data_opt::<super::closed::NotFound>()
            .map(super::closed::NotFound::take)
            .unwrap_or_default();
        if !missing.is_empty() {
            if let Ok(value) = Value::from_json(serde_json::Value::Array(missing)) {
                response.extensions.insert("notFound".to_string(), value);
            }
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let path = info.path_node;
        if self.response.exhausted() {
            return Err(too_large(self.response.limit()));
        }
        let key = info.alias.unwrap_or(info.name).len() + 4;
        let return_type = info.return_type;
        let result = next.run(ctx, info).await.map_err(|error| {
            // Every error of ours has a code; one without is async-graphql's
            // own, from coercing an argument or variable to its type.
            let uncoded = error
                .extensions
                .as_ref()
                .is_none_or(|e| e.get("code").is_none());
            if uncoded && error.source.is_none() {
                if !self.is_mutation.load(std::sync::atomic::Ordering::SeqCst) {
                    set_phase(ctx, Phase::BadArgument);
                }
                return with_code(error, ErrorCode::InvalidArgument);
            }
            error
        });
        if let Ok(value) = &result {
            // Only an object or a list may be an object type's (whose fields charge
            // their own): the schema is asked for those alone, not for every scalar.
            let bytes = match value {
                // A list written as text (`raw`) was charged by its resolver.
                Some(Value::Binary(_)) if !is_leaf(ctx, return_type) => key,
                Some(value @ (Value::Object(_) | Value::List(_))) => {
                    if is_leaf(ctx, return_type) {
                        key + json_size(value)
                    } else {
                        key
                    }
                }
                Some(value) => key + json_size(value),
                None => key,
            };
            if !self.response.charge(bytes) {
                return Err(too_large(self.response.limit()));
            }
        }
        if let Err(error) = &result {
            if let Some(internal) = error
                .source
                .as_ref()
                .and_then(|s| s.downcast_ref::<InternalError>())
            {
                if internal.first_report() {
                    tracing::error!(path = %path, error = %internal.cause(), "internal error");
                }
            }
        }
        result
    }
}

/// The first snapshot at or past `min`, waiting at most `wait`; else the
/// `POSITION_NOT_REACHED` refusal naming both positions. A position past the
/// log's head is waited for too: another server may just have written it.
async fn reach_within(
    followed: &Followed,
    min: i64,
    wait: std::time::Duration,
) -> Result<Snapshot, ServerError> {
    if let Ok(Some(snapshot)) = tokio::time::timeout(wait, followed.reach(min)).await {
        return Ok(snapshot);
    }
    let reached = followed.pin().position();
    let message = format!(
        "this server's catalog reached log position {reached}, not the {min} asked by \
         Almanac-Min-Position, within {} ms (graphql.min_position_wait_ms); retry",
        wait.as_millis()
    );
    let mut error = ApiError::new(ErrorCode::PositionNotReached, message).into_server_error();
    let extensions = error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    extensions.set("minPosition", min);
    extensions.set("position", reached);
    Err(error)
}

/// Reads the log's head after a mutation (at or past everything it appended:
/// position order is commit order) and waits, at most `budget`, until the
/// followed catalog reflects it. Returns that head, the position the mutation's
/// writes reached. Not reaching it is logged, not an error: the mutation is
/// committed either way.
async fn await_followed_head(
    ctx: &ExtensionContext<'_>,
    budget: std::time::Duration,
) -> Option<i64> {
    let log = ctx.data_opt::<EventLog>()?;
    // One budget for both steps.
    let deadline = tokio::time::Instant::now() + budget;
    let head = match tokio::time::timeout_at(deadline, log.head_position()).await {
        Ok(Ok(head)) => head,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "cannot read the log's head after a mutation");
            return None;
        }
        Err(_) => {
            tracing::warn!(
                budget_ms = budget.as_millis() as u64,
                "reading the log's head after a mutation timed out"
            );
            return None;
        }
    };
    let Some(followed) = ctx.data_opt::<Followed>() else {
        return Some(head);
    };
    match tokio::time::timeout_at(deadline, followed.reach(head)).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::warn!("the log follower stopped; reads may not show this mutation")
        }
        Err(_) => tracing::warn!(
            budget_ms = budget.as_millis() as u64,
            "the in-memory catalog did not reach the log's head in time"
        ),
    }
    Some(head)
}

/// The operation's name: the one asked for, else the document's only operation's.
fn name_of(requested: Option<String>, operations: &Operations) -> Option<String> {
    requested.or_else(|| {
        let operations = operations.lock().ok()?;
        match operations.as_slice() {
            [(name, _)] => name.clone(),
            _ => None,
        }
    })
}

/// The code of the first error, if any (every error leaving the gate has one,
/// or gets `INTERNAL` from the HTTP layer).
fn first_code(errors: &[ServerError]) -> Option<String> {
    let error = errors.first()?;
    Some(
        match error.extensions.as_ref().and_then(|e| e.get("code")) {
            Some(Value::String(code)) => code.clone(),
            _ => ErrorCode::Internal.as_str().to_string(),
        },
    )
}

impl GateExtension {
    /// The operation's name and type: the one asked for, or the document's only one.
    fn named_operation(&self) -> (Option<String>, Option<OperationType>) {
        let requested = self.requested.lock().ok().and_then(|r| r.clone());
        let ty = self.operation_type(requested.as_deref());
        (name_of(requested, &self.operations), ty)
    }

    fn operation_type(&self, name: Option<&str>) -> Option<OperationType> {
        let operations = self.operations.lock().ok()?;
        match name {
            Some(name) => operations
                .iter()
                .find(|(n, _)| n.as_deref() == Some(name))
                .map(|(_, ty)| *ty),
            None if operations.len() == 1 => operations.first().map(|(_, ty)| *ty),
            None => None,
        }
    }
}
