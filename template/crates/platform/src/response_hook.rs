//! A layer that looks at each request, then at its response: the shape of
//! the access log and of `Cache-Control: no-store` for the API.
//!
//! `axum::middleware::from_fn` is the everyday way to write middleware, and
//! the right one for a route or two. It costs, on every request, a boxed
//! future, a boxed copy of the services below it and a clone of them
//! (measured with the template's benchmark). The layers every request passes through are written
//! against this instead: a [`Hook`] says what to keep from the request and
//! what to do to the response, and [`ResponseHook`] calls it with no
//! allocation and no clone of anything below.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use axum::http::{Request, Response};
use tower::{Layer, Service};

/// What a [`ResponseHookLayer`] does with each request: it keeps what it
/// needs from it, which then sees the response.
pub trait Hook<RequestBody>: Clone {
    /// What is kept from the request until its response is ready.
    type Then: Then;

    /// Called before the request goes on.
    fn request(&self, request: &Request<RequestBody>) -> Self::Then;
}

/// What a [`Hook`] kept from a request, called with its response.
pub trait Then {
    /// Called with the response before it goes back out.
    fn response<ResponseBody>(self, response: &mut Response<ResponseBody>);
}

/// Wraps services in a [`ResponseHook`] calling `H`.
#[derive(Clone, Debug)]
pub struct ResponseHookLayer<H>(pub H);

impl<S, H: Clone> Layer<S> for ResponseHookLayer<H> {
    type Service = ResponseHook<S, H>;

    fn layer(&self, inner: S) -> Self::Service {
        ResponseHook {
            inner,
            hook: self.0.clone(),
        }
    }
}

/// The service of a [`ResponseHookLayer`].
#[derive(Clone, Debug)]
pub struct ResponseHook<S, H> {
    inner: S,
    hook: H,
}

impl<S, H, B, R> Service<Request<B>> for ResponseHook<S, H>
where
    S: Service<Request<B>, Response = Response<R>>,
    H: Hook<B>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = HookFuture<S::Future, H::Then>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let then = self.hook.request(&request);
        HookFuture {
            inner: self.inner.call(request),
            then: Some(then),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response of a [`ResponseHook`], passed through its hook.
    pub struct HookFuture<F, T> {
        #[pin]
        inner: F,
        then: Option<T>,
    }
}

impl<F, T, R, E> Future for HookFuture<F, T>
where
    F: Future<Output = Result<Response<R>, E>>,
    T: Then,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut result = ready!(this.inner.poll(cx));
        if let (Ok(response), Some(then)) = (&mut result, this.then.take()) {
            then.response(response);
        }
        Poll::Ready(result)
    }
}
