//! The HTTP client `openidconnect` talks to the provider through. It is the
//! server's guard against a provider that misbehaves: it follows no redirects
//! (a redirect is an error, never a hop to another host with the code or the
//! client secret), has connect and total timeouts, and refuses answers over
//! [`MAX_RESPONSE_BYTES`].

use std::{future::Future, pin::Pin, time::Duration};

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse, http};

/// Largest answer accepted from the provider (discovery, keys, tokens).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Longest wait for a TCP (and TLS) connection to the provider.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The HTTP client `openidconnect` sends its requests through.
pub(super) struct ProviderHttp(reqwest::Client);

impl ProviderHttp {
    /// A client whose requests to the provider take at most `timeout`.
    pub(super) fn new(timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            .timeout(timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the HTTP client for the provider: {e}"))?;
        Ok(Self(client))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("request to the provider failed")]
    Request(#[from] reqwest::Error),
    #[error("the provider's answer is larger than 1 MiB")]
    TooLarge,
    #[error("the provider's answer is not valid HTTP")]
    Http(#[from] http::Error),
}

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let mut response = self.0.execute(request.try_into()?).await?;
            let mut answer = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(answer.body(body)?)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
        time::Instant,
    };

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;
    use crate::oidc::{OidcError, Provider, settings::test_settings};

    /// A server on loopback that answers every request with `response`
    /// (raw HTTP), or holds the connection open without answering when it
    /// is `None`. Returns its origin and how many connections it accepted.
    async fn serve(response: Option<Vec<u8>>) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let response = response.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    match response {
                        Some(bytes) => {
                            let _ = socket.write_all(&bytes).await;
                            let _ = socket.shutdown().await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(60)).await,
                    }
                });
            }
        });
        (origin, hits)
    }

    fn provider_at(issuer: &str, timeout_ms: &str) -> Provider {
        Provider::new(
            test_settings(&[
                ("OIDC_ISSUER_URL", issuer),
                ("OIDC_HTTP_TIMEOUT_MS", timeout_ms),
            ])
            .unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_redirect_from_the_provider_is_not_followed() {
        let document =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        let (elsewhere, visits) = serve(Some(document.to_vec())).await;
        let redirect = format!(
            "HTTP/1.1 302 Found\r\nlocation: {elsewhere}/.well-known/openid-configuration\r\n\
             content-length: 0\r\n\r\n"
        );
        let (issuer, _) = serve(Some(redirect.into_bytes())).await;
        let provider = provider_at(&issuer, "2000");
        let err = provider.discover().await.unwrap_err();
        assert!(matches!(err, OidcError::Unavailable(_)), "{err}");
        assert_eq!(
            visits.load(Ordering::SeqCst),
            0,
            "the redirect was followed"
        );
        assert!(!provider.is_ready());
        assert!(matches!(
            provider.start("/".into(), 0),
            Err(OidcError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn an_oversized_answer_is_refused() {
        let size = MAX_RESPONSE_BYTES + 1;
        let mut response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n\r\n"
        )
        .into_bytes();
        response.resize(response.len() + size, b' ');
        let (issuer, _) = serve(Some(response)).await;
        let err = provider_at(&issuer, "5000").discover().await.unwrap_err();
        assert!(err.reason().contains("larger than 1 MiB"), "{err}");
    }

    #[tokio::test]
    async fn a_provider_that_never_answers_times_out() {
        let (issuer, _) = serve(None).await;
        let started = Instant::now();
        let err = provider_at(&issuer, "300").discover().await.unwrap_err();
        assert!(matches!(err, OidcError::Unavailable(_)), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}
