//! A [tower] layer that authorizes HTTP requests with the tokens of a
//! [`jwtgrant_exchange::TokenSource`], through [`jwtgrant_exchange::Authorizer`]:
//!
//! - every request gets `Authorization: Bearer <token>`, or for a DPoP-bound token
//!   `Authorization: DPoP <token>` and a fresh `DPoP` proof (`htm`/`htu` from the request,
//!   `ath` the token's hash, the origin's latest nonce);
//! - a `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a new `DPoP-Nonce` is
//!   answered by sending the request once more with a proof carrying that nonce, never
//!   twice: a server that keeps asking gets its answer handed on;
//! - a `401` with `error="invalid_token"` drops the token from the source: this response is
//!   handed on, the next request gets a new token.
//!
//! # Which clients
//!
//! The layer wraps any [`tower_service::Service`] of [`http::Request<B>`] to
//! [`http::Response<R>`]. That is:
//!
//! - **hyper-util's legacy client** (`hyper_util::client::legacy::Client`), which is such a
//!   service: `ServiceBuilder::new().layer(layer).service(client)`;
//! - **tonic channels**: `tonic::transport::Channel` is a `Service<http::Request<Body>>`;
//!   wrap it (`ServiceBuilder::new().layer(layer.without_retry()).service(channel)`) and
//!   hand that to the generated client (`MyClient::new(service)`): every call gets the
//!   token in its `authorization` metadata. tonic's body is a stream, not [`Clone`], hence
//!   [`AuthorizeLayer::without_retry`];
//! - any other tower stack over `http` types (axum's outbound clients, tower-http layers).
//!
//! **reqwest is not a tower service**: its `Client::execute` takes a `reqwest::Request`, not
//! an `http::Request`, and reqwest-middleware has its own `Middleware` trait, not tower's.
//! For reqwest, use [`jwtgrant_exchange::Authorizer`] directly in a small middleware
//! (convert with `http::Request::try_from`/`reqwest::Request::try_from`), or wrap
//! `reqwest::Client` in a `tower::service_fn`.
//!
//! # Bodies and retries
//!
//! A nonce retry sends the request again, so the body must be [`Clone`] (`String`,
//! `Bytes`, `http_body_util::Full<Bytes>`, `()`; hyper's `Empty` and `Full` are). Only a
//! DPoP request is cloned, before it is sent; a Bearer request never is. For a body that
//! cannot be cloned (a stream, tonic's), [`AuthorizeLayer::without_retry`] makes
//! [`AuthorizeOnce`]: the same without the retry. It still keeps the nonce a challenge
//! brought, so the caller's own retry (gRPC's, the application's) carries it.
//!
//! # Blocking
//!
//! The token exchange is blocking (ureq) by design. The layer keeps it off the executor:
//! `poll_ready` awaits [`jwtgrant_exchange::TokenSource::ready`], which resolves at once
//! while the source has a token it would hand out without a request and otherwise fetches
//! one on a thread of its own. Build the source with
//! [`jwtgrant_exchange::TokenSource::refresh_ahead`], so that a background thread renews
//! tokens before they expire and requests never wait for a grant.
//!
//! # Errors
//!
//! The service's error is a [`BoxError`]: the inner service's error, or a
//! [`jwtgrant_exchange::ExchangeError`] when there is no token (downcast it to read the
//! grant's rejection).
//!
//! # Example
//!
//! ```
//! use jwtgrant_exchange::{Exchange, TokenSource};
//! use jwtgrant_tower::AuthorizeLayer;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let stub = jwtgrant_test_support::Stub::start(|_, _| jwtgrant_test_support::Reply::json(
//! #     200, r#"{"access_token":"eyJ.the.token","token_type":"Bearer","expires_in":300}"#));
//! # let token_endpoint = stub.url("/token");
//! # let sign_assertion = || Ok::<_, std::io::Error>("h.p.s".to_owned());
//! let exchange = Exchange::new(&token_endpoint)?.client_secret_post("svc", "secret");
//! let source = TokenSource::new(exchange, sign_assertion).refresh_ahead();
//!
//! // Any tower service of http types: here a stand-in for hyper-util's client.
//! let client = tower::service_fn(|req: http::Request<String>| async move {
//!     let auth = req.headers()["authorization"].to_str()?.to_owned();
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(http::Response::new(auth))
//! });
//! let client = ServiceBuilder::new()
//!     .layer(AuthorizeLayer::new(source))
//!     .service(client);
//!
//! let request = http::Request::get("https://api.example.com/v1/items").body(String::new())?;
//! # let (response, _) = jwtgrant_test_support::block_on(async {
//! let response = client.oneshot(request).await?;
//! # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(response) });
//! # let response = response.map_err(|e| e.to_string())?;
//! assert_eq!(response.body(), "Bearer eyJ.the.token");
//! # Ok(()) }
//! ```
//!
//! [tower]: https://docs.rs/tower

#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use jwtgrant_exchange::{Authorizer, Ready, TokenSource, Verdict};
use tower_layer::Layer;
use tower_service::Service;

/// The service's error: the inner service's, or a [`jwtgrant_exchange::ExchangeError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future of [`Authorize::call`].
pub type ResponseFuture<R> = Pin<Box<dyn Future<Output = Result<Response<R>, BoxError>> + Send>>;

/// A [`Layer`] that wraps services in [`Authorize`]. Cloning is cheap; clones share the
/// token source and the DPoP nonces.
#[derive(Clone, Debug)]
pub struct AuthorizeLayer {
    authorizer: Authorizer,
}

impl AuthorizeLayer {
    /// A layer for the tokens of `source` (and its exchange's DPoP key, if any).
    pub fn new(source: TokenSource) -> Self {
        Self::with_authorizer(Authorizer::new(source))
    }

    /// A layer around an [`Authorizer`] shared with other code.
    pub fn with_authorizer(authorizer: Authorizer) -> Self {
        Self { authorizer }
    }

    /// The same layer without the nonce retry, for bodies that are not [`Clone`]: it makes
    /// [`AuthorizeOnce`] services.
    pub fn without_retry(self) -> AuthorizeOnceLayer {
        AuthorizeOnceLayer {
            authorizer: self.authorizer,
        }
    }
}

/// A [`Layer`] that wraps services in [`AuthorizeOnce`] ([`AuthorizeLayer::without_retry`]).
#[derive(Clone, Debug)]
pub struct AuthorizeOnceLayer {
    authorizer: Authorizer,
}

impl<S> Layer<S> for AuthorizeOnceLayer {
    type Service = AuthorizeOnce<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthorizeOnce(Authorize {
            inner,
            authorizer: self.authorizer.clone(),
            ready: None,
        })
    }
}

/// Like [`Authorize`] for any body, without the nonce retry: a `use_dpop_nonce` answer is
/// handed on (its nonce kept for the next request), `invalid_token` drops the token.
#[derive(Clone, Debug)]
pub struct AuthorizeOnce<S>(Authorize<S>);

impl<S, B, R> Service<Request<B>> for AuthorizeOnce<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = BoxError;
    type Future = ResponseFuture<R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_source_then_inner(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let (mut inner, authorizer) = self.0.take_ready();
        Box::pin(async move {
            let sent = authorizer.authorize(&mut request)?;
            let response = inner.call(request).await.map_err(Into::into)?;
            let _ = authorizer.check_response(&sent, &response);
            Ok(response)
        })
    }
}

impl<S> Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize {
            inner,
            authorizer: self.authorizer.clone(),
            ready: None,
        }
    }
}

/// A [`Service`] that authorizes each request to `S` (see the crate docs).
pub struct Authorize<S> {
    inner: S,
    authorizer: Authorizer,
    /// The source's readiness, while `poll_ready` waits for it.
    ready: Option<Ready>,
}

impl<S> Authorize<S> {
    /// The authorizer.
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: Clone> Clone for Authorize<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            authorizer: self.authorizer.clone(),
            ready: None,
        }
    }
}

impl<S, B, R> Service<Request<B>> for Authorize<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Clone + Send + 'static,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = BoxError;
    type Future = ResponseFuture<R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.poll_source_then_inner(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let (mut inner, authorizer) = self.take_ready();
        Box::pin(async move {
            let sent = authorizer.authorize(&mut request)?;
            let again = (sent.scheme() == "DPoP").then(|| request.clone());
            let response = inner.call(request).await.map_err(Into::into)?;
            let verdict = authorizer.check_response(&sent, &response);
            let Some(mut again) = again.filter(|_| verdict == Verdict::RetryWithNonce) else {
                return Ok(response);
            };
            drop(response);
            let sent = authorizer.authorize(&mut again)?;
            poll_fn(|cx| inner.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            let response = inner.call(again).await.map_err(Into::into)?;
            // Keeps a newer nonce and drops a rejected token; no second retry.
            let _ = authorizer.check_response(&sent, &response);
            Ok(response)
        })
    }
}

impl<S> Authorize<S> {
    fn poll_source_then_inner<B>(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>>
    where
        S: Service<Request<B>>,
        S::Error: Into<BoxError>,
    {
        // A grant never runs on the executor: wait (on the source's thread) until the
        // source answers from its cache. A failed grant is not this service's failure: the
        // request's `call` reports it (the source hands the same error out at once).
        let source = self.authorizer.source();
        let ready = self.ready.get_or_insert_with(|| source.ready());
        if Pin::new(ready).poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.ready = None;
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    /// The service that was polled ready, for the future, and the authorizer; a clone of
    /// the service stays (tower's usual move for futures that call the service again).
    fn take_ready(&mut self) -> (S, Authorizer)
    where
        S: Clone,
    {
        let clone = self.inner.clone();
        (
            std::mem::replace(&mut self.inner, clone),
            self.authorizer.clone(),
        )
    }
}

impl<S: fmt::Debug> fmt::Debug for Authorize<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorize")
            .field("inner", &self.inner)
            .field("authorizer", &self.authorizer)
            .field("waiting_for_token", &self.ready.is_some())
            .finish()
    }
}

/// Compile-time check: the layer is shared across tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<AuthorizeLayer>();
};
