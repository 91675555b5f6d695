//! Throttling of login and signup, per client address and per account.
//!
//! Every attempt costs an Argon2 hash, and an attacker guessing passwords
//! wants as many attempts as possible. Two token buckets (GCRA, from the
//! `governor` crate) bound that: one per client IP address, which stops one
//! machine from hammering many accounts, and one per account, which stops a
//! botnet from hammering one account from many addresses. An exhausted bucket
//! answers 429 with `Retry-After`, before any database or hashing work.
//!
//! The client address is the TCP peer. Behind a reverse proxy every peer is
//! the proxy, so with `TRUST_PROXY=true` the last address in
//! `X-Forwarded-For` (the one the proxy itself appended) is used instead. It
//! is off by default: without a proxy that header is whatever the client
//! chose to send, and honouring it would let anyone pick a fresh "address"
//! for every attempt.

use std::{
    net::{IpAddr, Ipv6Addr, SocketAddr},
    num::NonZeroU32,
    sync::{Arc, Weak},
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::{
    error::ApiError,
    settings::{ConfigError, Env},
};

/// Throttling settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub limits: Limits,
    /// Whether `X-Forwarded-For` names the client (`TRUST_PROXY`).
    pub trust_proxy: bool,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let attempts = |name: &'static str, default: &str| {
            env.var(name, default).parse_with(
                |v| {
                    v.parse::<NonZeroU32>()
                        .ok()
                        .filter(|n| n.get() <= 10_000)
                        .ok_or_else(|| "not a whole number from 1 to 10000".to_owned())
                },
                "use e.g. 10; attempts beyond it within AUTH_ATTEMPTS_WINDOW_SECS get 429",
            )
        };
        let limits = Limits {
            per_ip: attempts("AUTH_ATTEMPTS_PER_IP", "60")?,
            per_account: attempts("AUTH_ATTEMPTS_PER_ACCOUNT", "10")?,
            window: env.seconds("AUTH_ATTEMPTS_WINDOW_SECS", "300", 1..=86_400)?,
        };
        let trust_proxy = env.var("TRUST_PROXY", "false").parse_with(
            |v| match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err("not one of true, false".to_owned()),
            },
            "use true only behind a reverse proxy that appends the client address to \
             X-Forwarded-For, otherwise false",
        )?;
        Ok(Self {
            limits,
            trust_proxy,
        })
    }
}

/// How many login and signup attempts are allowed, and how fast they come back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Attempts per client address in one `window` (`AUTH_ATTEMPTS_PER_IP`).
    pub per_ip: NonZeroU32,
    /// Attempts per account (email) in one `window` (`AUTH_ATTEMPTS_PER_ACCOUNT`).
    pub per_account: NonZeroU32,
    /// Time in which a used-up allowance refills completely; it refills
    /// steadily, one attempt every `window / n` (`AUTH_ATTEMPTS_WINDOW_SECS`).
    pub window: Duration,
}

/// The two buckets and how to find the client's address.
pub struct AuthThrottle {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
    /// Per (account, known device): see [`AuthThrottle::check_known_device`].
    per_device: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    trust_proxy: bool,
}

impl AuthThrottle {
    pub fn new(
        Settings {
            limits,
            trust_proxy,
        }: Settings,
    ) -> Self {
        let quota = |n: NonZeroU32| {
            // Config keeps the window at one second or more and n at most
            // 10_000, so the period is never zero; fall back to the
            // strictest quota rather than panic if that ever changes.
            Quota::with_period(limits.window / n.get())
                .unwrap_or_else(|| Quota::per_hour(NonZeroU32::MIN))
                .allow_burst(n)
        };
        Self {
            per_ip: RateLimiter::keyed(quota(limits.per_ip)),
            per_account: RateLimiter::keyed(quota(limits.per_account)),
            per_device: RateLimiter::keyed(quota(limits.per_account)),
            clock: DefaultClock::default(),
            trust_proxy,
        }
    }

    /// Takes one attempt from the client's and the account's allowance, or
    /// answers 429 with how long to wait.
    pub fn check(&self, client: ClientIp, account: &str) -> Result<(), ApiError> {
        self.check_address(client)?;
        self.check_account(account)
    }

    /// Takes one attempt from the client address's allowance.
    pub fn check_address(&self, client: ClientIp) -> Result<(), ApiError> {
        self.per_ip
            .check_key(&client.0)
            .map_err(|not_until| self.refuse(not_until, "client address"))
    }

    /// Takes one attempt from the account's allowance, which every device
    /// the account has not signed in from before shares.
    pub fn check_account(&self, account: &str) -> Result<(), ApiError> {
        self.per_account
            .check_key(&account.to_owned())
            .map_err(|not_until| self.refuse(not_until, "account"))
    }

    /// Takes one attempt from the allowance of a device the account has
    /// signed in from before (`device` identifies the pair). It is as large
    /// as the account's, but separate: attempts from elsewhere, an
    /// attacker's among them, cannot use it up, so they cannot lock the
    /// owner out of their own devices.
    pub fn check_known_device(&self, device: &str) -> Result<(), ApiError> {
        self.per_device
            .check_key(&device.to_owned())
            .map_err(|not_until| self.refuse(not_until, "known device"))
    }

    fn refuse(
        &self,
        not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>,
        what: &str,
    ) -> ApiError {
        let wait = not_until.wait_time_from(self.clock.now());
        tracing::warn!(
            bucket = what,
            wait_secs = wait.as_secs(),
            "too many sign-in attempts"
        );
        ApiError::too_many_requests(wait)
    }

    /// Forgets buckets that have refilled completely, so addresses and emails
    /// seen once do not stay in memory forever.
    fn forget_idle(&self) {
        self.per_ip.retain_recent();
        self.per_ip.shrink_to_fit();
        self.per_account.retain_recent();
        self.per_account.shrink_to_fit();
        self.per_device.retain_recent();
        self.per_device.shrink_to_fit();
    }
}

/// Runs [`AuthThrottle::forget_idle`] every `period` while the throttle is in
/// use; the task ends by itself once the application has dropped it.
pub fn spawn_forget_idle(throttle: &Arc<AuthThrottle>, period: Duration) {
    let throttle: Weak<AuthThrottle> = Arc::downgrade(throttle);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.tick().await;
        loop {
            interval.tick().await;
            let Some(throttle) = throttle.upgrade() else {
                break;
            };
            throttle.forget_idle();
        }
    });
}

/// The address a request is counted against.
///
/// IPv6 addresses are reduced to their /64 network: one subscriber usually
/// owns a whole /64 and could otherwise rotate through 2^64 addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The TCP peer, or with `trust_proxy` the last valid address in
    /// `X-Forwarded-For` (falling back to the peer when there is none).
    pub fn resolve(peer: IpAddr, headers: &HeaderMap, trust_proxy: bool) -> Self {
        let forwarded = trust_proxy.then(|| last_forwarded_for(headers)).flatten();
        Self(bucket_of(forwarded.unwrap_or(peer)))
    }
}

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    Arc<AuthThrottle>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let throttle = Arc::<AuthThrottle>::from_ref(state);
        // Present when the server runs with `into_make_service_with_connect_info`,
        // as `startup.rs` does.
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Err(ApiError::unavailable(
                "client address",
                "the server was started without connection info",
            ));
        };
        Ok(Self::resolve(
            peer.ip(),
            &parts.headers,
            throttle.trust_proxy,
        ))
    }
}

/// The right-most parseable entry of all `X-Forwarded-For` headers: the one
/// appended by the proxy in front of us. Entries to its left were written by
/// whoever sent the request and prove nothing.
fn last_forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .rfind(|entry| !entry.is_empty())?;
    // Some proxies append `ip:port` (`[v6]:port` for IPv6).
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
}

fn bucket_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !(u128::from(u64::MAX));
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    #[test]
    fn forwarded_for_is_ignored_unless_trusted() {
        let spoofed = headers(&["203.0.113.9"]);
        assert_eq!(ClientIp::resolve(PEER, &spoofed, false).0, PEER);
    }

    #[test]
    fn the_proxys_own_entry_wins_over_client_supplied_ones() {
        for (values, expected) in [
            (&["198.51.100.7"][..], "198.51.100.7"),
            (&["1.1.1.1, 198.51.100.7"], "198.51.100.7"),
            (&["1.1.1.1", "198.51.100.7"], "198.51.100.7"),
            (&["198.51.100.7:4711"], "198.51.100.7"),
            (&["[2001:db8::1]:4711"], "2001:db8::"),
            (&["1.1.1.1, "], "1.1.1.1"),
            (&["garbage"], "10.0.0.1"),
            (&[], "10.0.0.1"),
        ] {
            let ip = ClientIp::resolve(PEER, &headers(values), true).0;
            assert_eq!(ip.to_string(), expected, "{values:?}");
        }
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket_of(a), bucket_of(b));
        assert_ne!(bucket_of(a), bucket_of(other));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(bucket_of(mapped).to_string(), "192.0.2.1");
    }

    #[test]
    fn exhausted_buckets_answer_with_a_wait() {
        let throttle = AuthThrottle::new(Settings {
            limits: Limits {
                per_ip: NonZeroU32::new(3).unwrap(),
                per_account: NonZeroU32::new(2).unwrap(),
                window: Duration::from_secs(60),
            },
            trust_proxy: false,
        });
        let client = ClientIp(PEER);
        assert!(throttle.check(client, "a@example.com").is_ok());
        assert!(throttle.check(client, "a@example.com").is_ok());
        // The account's allowance is spent; another account still works.
        assert!(throttle.check(client, "a@example.com").is_err());
        assert!(
            throttle
                .check(ClientIp(IpAddr::from([10, 0, 0, 2])), "a@example.com")
                .is_err()
        );
        // The address's allowance (3) was spent by the three attempts above.
        assert!(throttle.check(client, "b@example.com").is_err());
        assert!(
            throttle
                .check(ClientIp(IpAddr::from([10, 0, 0, 2])), "b@example.com")
                .is_ok()
        );
    }
}
