//! The request gate, an async-graphql extension that every operation (HTTP or
//! WebSocket) passes through. It gives parse and validation failures their
//! codes, enforces the depth and complexity limits and the time budget,
//! refuses mutations sent with GET, hands each request fresh loaders, and logs
//! internal errors once with their cause and GraphQL path.

use super::loaders::Loaders;
use crate::error::{ApiError, ErrorCode, InternalError};
use crate::limits::Limits;
use almanac_store::catalog::Catalog;
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextResolve, NextValidation, ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{
    ErrorExtensionValues, Request, Response, ServerError, ServerResult, ValidationResult, Value,
    Variables,
};
use std::sync::{Arc, Mutex};

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

/// Marks a request that arrived with GET: it may only query.
#[derive(Clone, Copy, Debug)]
pub struct ViaGet;

pub struct Gate;

impl ExtensionFactory for Gate {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GateExtension::default())
    }
}

#[derive(Default)]
struct GateExtension {
    /// (name, type) of each operation in the parsed document.
    operations: Mutex<Vec<(Option<String>, OperationType)>>,
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
        if let (Some(catalog), Some(limits)) = (ctx.data_opt::<Catalog>(), ctx.data_opt::<Limits>())
        {
            request
                .data
                .insert(Loaders::new(catalog.clone(), limits.clone()));
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        match next.run(ctx, query, variables).await {
            Ok(document) => {
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
        let limits = ctx.data_opt::<Limits>().cloned().unwrap_or_default();
        let outcome = match next.run(ctx).await {
            Err(errors) => Err(errors
                .into_iter()
                .map(|e| with_code(e, ErrorCode::GraphqlValidationFailed))
                .collect()),
            Ok(result) if result.depth > limits.max_depth => Err(refuse(
                ErrorCode::DepthLimitExceeded,
                format!(
                    "the query is nested {} levels deep; the limit is {}",
                    result.depth, limits.max_depth
                ),
            )),
            Ok(result) if result.complexity > limits.max_complexity => Err(refuse(
                ErrorCode::ComplexityLimitExceeded,
                format!(
                    "the query costs {} (fields times page sizes); the limit is {}",
                    result.complexity, limits.max_complexity
                ),
            )),
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
        set_phase(ctx, Phase::Executed);
        let limits = ctx.data_opt::<Limits>().cloned().unwrap_or_default();
        let budget = if is_mutation {
            limits.mutation_timeout()
        } else {
            limits.query_timeout()
        };
        match tokio::time::timeout(budget, next.run(ctx, operation_name)).await {
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
        }
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let path = info.path_node;
        let result = next.run(ctx, info).await;
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

impl GateExtension {
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
