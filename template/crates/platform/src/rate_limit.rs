//! Throttling of sign-ins, per client address and per account.
//!
//! Every password attempt costs an Argon2 hash, and an attacker guessing
//! passwords wants as many attempts as possible; every sign-in started at
//! an OpenID provider stores a session and, once answered, calls the
//! provider. Token buckets (GCRA, from the `governor` crate) bound that: one
//! per client IP address, which stops one machine from hammering many
//! accounts (or filling the session store), and, for passwords, two per
//! account, which stop a botnet from hammering one account from many
//! addresses: a short one (`AUTH_ATTEMPTS_PER_ACCOUNT` per window) against
//! bursts, and a daily one (`AUTH_ATTEMPTS_PER_ACCOUNT_PER_DAY`) against
//! slow, sustained guessing, which the short one alone would let go on at
//! one guess per refill forever. A browser the account has signed in from
//! before draws on a bucket of its own instead of the account's two (see
//! `known_devices.rs`), so strangers spending the account's allowance
//! cannot lock its owner out. An exhausted bucket answers 429 with
//! `Retry-After`, before any hashing work.
//!
//! The client address is the TCP peer. Behind reverse proxies every peer is
//! a proxy, so the peers listed in `TRUSTED_PROXIES` (addresses or CIDR
//! ranges) are believed about who sent them the request: `X-Forwarded-For`
//! is read from the right, each trusted hop giving way to the address it
//! appended, and the first address that is not a trusted proxy is the
//! client (see [`ClientIp::resolve`]). A request from any other peer is
//! counted against the peer, whatever its `X-Forwarded-For` says: without
//! that check anyone who reaches the port directly could pick a fresh
//! "address" for every attempt. Trusting none is the default.

use std::{
    fmt,
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
use ipnet::IpNet;

use crate::{
    error::ApiError,
    settings::{ConfigError, Env},
};

/// Throttling settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub limits: Limits,
    /// The reverse proxies whose `X-Forwarded-For` is believed
    /// (`TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
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
            per_account_daily: env
                .var("AUTH_ATTEMPTS_PER_ACCOUNT_PER_DAY", "100")
                .parse_with(
                    |v| {
                        v.parse::<NonZeroU32>()
                            .ok()
                            .filter(|n| n.get() <= 100_000)
                            .ok_or_else(|| "not a whole number from 1 to 100000".to_owned())
                    },
                    "use e.g. 100; attempts on one account from browsers it has not signed \
                     in from, beyond this many a day, get 429",
                )?,
        };
        // The yes/no setting this one replaced. `true` trusted the header
        // from any peer; dropping it silently on an upgrade would put every
        // client behind the proxy in one bucket, so say what to do instead.
        let old = env.var("TRUST_PROXY", "");
        if !matches!(old.value.trim().to_ascii_lowercase().as_str(), "" | "false") {
            return Err(old.error(
                "TRUST_PROXY is no longer read: it believed X-Forwarded-For from any peer",
                "remove it, and list your reverse proxies' addresses instead, \
                 e.g. TRUSTED_PROXIES=10.0.0.5 or TRUSTED_PROXIES=10.0.0.0/8",
            ));
        }
        let trusted_proxies = env.var("TRUSTED_PROXIES", "").parse_with(
            TrustedProxies::parse,
            "list the addresses or CIDR ranges of the reverse proxies in front of this \
             server, comma-separated (e.g. 127.0.0.1,10.0.0.0/8), or leave it empty without one",
        )?;
        Ok(Self {
            limits,
            trusted_proxies,
        })
    }
}

/// The peers whose `X-Forwarded-For` entries are believed: addresses and
/// CIDR ranges. Empty (the default) believes nobody.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses (`10.0.0.5`, `::1`) and
    /// ranges (`10.0.0.0/8`, `fd00::/8`). A range covering every address
    /// is refused: it would let any client name its own address.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{item:?} is not an IP address or CIDR range"))?;
            if net.prefix_len() == 0 {
                return Err(format!(
                    "{item:?} trusts every address, so any client could claim any address"
                ));
            }
            let net = net.trunc();
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        Ok(Self(nets))
    }

    /// True when `ip` is one of the proxies (an IPv4-mapped IPv6 peer, as
    /// a dual-stack socket reports IPv4 clients, counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
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
    /// Attempts per account in a day, from browsers the account has not
    /// signed in from (`AUTH_ATTEMPTS_PER_ACCOUNT_PER_DAY`); it refills
    /// steadily too, one attempt every `1 day / n`.
    pub per_account_daily: NonZeroU32,
}

/// The buckets and how to find the client's address.
pub struct AuthThrottle {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
    per_account_daily: DefaultKeyedRateLimiter<String>,
    /// Per (account, known device): see [`AuthThrottle::check_known_device`].
    per_device: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    trusted_proxies: TrustedProxies,
}

impl AuthThrottle {
    pub fn new(
        Settings {
            limits,
            trusted_proxies,
        }: Settings,
    ) -> Self {
        let quota = |n: NonZeroU32, window: Duration| {
            // Config keeps the window at one second or more and n at most
            // 100_000, so the period is never zero; fall back to the
            // strictest quota rather than panic if that ever changes.
            Quota::with_period(window / n.get())
                .unwrap_or_else(|| Quota::per_hour(NonZeroU32::MIN))
                .allow_burst(n)
        };
        Self {
            per_ip: RateLimiter::keyed(quota(limits.per_ip, limits.window)),
            per_account: RateLimiter::keyed(quota(limits.per_account, limits.window)),
            per_account_daily: RateLimiter::keyed(quota(limits.per_account_daily, DAY)),
            per_device: RateLimiter::keyed(quota(limits.per_account, limits.window)),
            clock: DefaultClock::default(),
            trusted_proxies,
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

    /// Takes one attempt from the account's allowances (the window's and
    /// the day's), which every device the account has not signed in from
    /// before shares.
    pub fn check_account(&self, account: &str) -> Result<(), ApiError> {
        let account = account.to_owned();
        self.per_account
            .check_key(&account)
            .map_err(|not_until| self.refuse(not_until, "account"))?;
        self.per_account_daily
            .check_key(&account)
            .map_err(|not_until| self.refuse(not_until, "account, daily"))
    }

    /// Takes one attempt on `account` from the allowance this browser draws
    /// on: its own when the account has signed in from it before
    /// (`known_device`, from `DeviceCookie::known_key`), the account's
    /// otherwise. Every check of a password on an account goes through
    /// here (login, and confirming a sensitive change), so a stranger's
    /// guesses never cost the owner's known browsers an attempt.
    pub fn check_account_from(
        &self,
        account: &str,
        known_device: Option<&str>,
    ) -> Result<(), ApiError> {
        match known_device {
            Some(device) => self.check_known_device(device),
            None => self.check_account(account),
        }
    }

    /// Takes one attempt from the allowance of a device the account has
    /// signed in from before (`device` identifies the pair). It is as large
    /// as the account's, but separate: attempts from elsewhere, an
    /// attacker's among them, cannot use it up, so they cannot lock the
    /// owner out of their own devices.
    fn check_known_device(&self, device: &str) -> Result<(), ApiError> {
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
        self.per_account_daily.retain_recent();
        self.per_account_daily.shrink_to_fit();
        self.per_device.retain_recent();
        self.per_device.shrink_to_fit();
    }
}

const DAY: Duration = Duration::from_secs(86_400);

/// How often the throttle forgets clients whose allowance has refilled.
const FORGET_IDLE_PERIOD: Duration = Duration::from_secs(60);

/// Runs [`AuthThrottle::forget_idle`] every minute while the throttle is in
/// use; the task ends by itself once the application has dropped it.
pub fn spawn_forget_idle(throttle: &Arc<AuthThrottle>) -> tokio::task::JoinHandle<()> {
    let throttle: Weak<AuthThrottle> = Arc::downgrade(throttle);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(FORGET_IDLE_PERIOD);
        interval.tick().await;
        loop {
            interval.tick().await;
            let Some(throttle) = throttle.upgrade() else {
                break;
            };
            throttle.forget_idle();
        }
    })
}

/// The address a request is counted against.
///
/// IPv6 addresses are reduced to their /64 network: one subscriber usually
/// owns a whole /64 and could otherwise rotate through 2^64 addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The address that sent the request: the TCP peer, unless the peer is
    /// a trusted proxy. Then `X-Forwarded-For` (every such header, entries
    /// split on commas) is walked from the right, where each proxy appends
    /// the address it got the request from: while the current hop is a
    /// trusted proxy, the entry to its left is who sent it the request. The
    /// first address that is not a trusted proxy is the client; if every
    /// hop is trusted, the left-most one is.
    ///
    /// An entry that is not an address (empty, `unknown`, garbage) stops the
    /// walk at the last trusted hop reached, which is then counted as the
    /// client. Nothing to its left can be believed: a trusted proxy wrote
    /// something that is not an address, so what lies beyond it was written
    /// by anyone. Counting the proxy errs on the side of throttling more,
    /// never of handing a forger a fresh bucket.
    pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> Self {
        let mut client = peer.to_canonical();
        if trusted.contains(client) {
            for entry in forwarded_for_from_the_right(headers) {
                let Some(ip) = entry else { break };
                client = ip;
                if !trusted.contains(ip) {
                    break;
                }
            }
        }
        Self(bucket_of(client))
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
        // Present on every request `server::serve` hands to the application.
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Err(ApiError::unavailable(
                "client address",
                "the server was started without connection info",
            ));
        };
        Ok(Self::resolve(
            peer.ip(),
            &parts.headers,
            &throttle.trusted_proxies,
        ))
    }
}

/// The entries of all `X-Forwarded-For` headers, right-most (the nearest
/// hop's) first: each an address, or `None` for one that is not.
fn forwarded_for_from_the_right(headers: &HeaderMap) -> impl Iterator<Item = Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .flat_map(|value| {
            // A header that is not visible ASCII is one entry that is not an address.
            value
                .to_str()
                .unwrap_or("\u{0}")
                .rsplit(',')
                .map(parse_entry)
        })
}

/// One `X-Forwarded-For` entry: an address, or `ip:port` / `[v6]:port`
/// as some proxies write it.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .map(|ip| ip.to_canonical())
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

    /// The proxy in front of the app in these tests, and a second one in
    /// front of it (a CDN edge, say).
    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    fn proxies(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap()
    }

    fn client(peer: IpAddr, values: &[&str], trusted: &str) -> String {
        ClientIp::resolve(peer, &headers(values), &proxies(trusted))
            .0
            .to_string()
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_trusted() {
        let spoofed = &["203.0.113.9"][..];
        // Nobody trusted (the default).
        assert_eq!(client(PEER, spoofed, ""), "10.0.0.1");
        // Proxies trusted, but this peer is not one of them: a client that
        // reaches the port directly.
        assert_eq!(client(PEER, spoofed, "10.0.0.2,192.168.0.0/16"), "10.0.0.1");
    }

    #[test]
    fn the_first_untrusted_address_from_the_right_is_the_client() {
        for (values, trusted, expected) in [
            // One proxy: what it appended; the client's own entries to the
            // left of it do not matter.
            (&["198.51.100.7"][..], "10.0.0.1", "198.51.100.7"),
            (&["1.1.1.1, 198.51.100.7"], "10.0.0.1", "198.51.100.7"),
            (&["1.1.1.1", "198.51.100.7"], "10.0.0.1", "198.51.100.7"),
            // CDN edge -> load balancer -> app: both trusted, so each edge's
            // clients keep their own addresses instead of sharing the edge's.
            (
                &["1.1.1.1, 198.51.100.7, 10.9.0.3"],
                "10.0.0.0/24,10.9.0.0/16",
                "198.51.100.7",
            ),
            // The same chain trusting only the load balancer: the edge is
            // the client (correct for what is trusted, if coarse).
            (&["1.1.1.1, 198.51.100.7, 10.9.0.3"], "10.0.0.1", "10.9.0.3"),
            // Every hop trusted: the left-most one.
            (&["10.0.0.7, 10.0.0.8"], "10.0.0.0/8", "10.0.0.7"),
            // No header from a trusted proxy: the proxy itself.
            (&[], "10.0.0.1", "10.0.0.1"),
            // Ports, IPv6, IPv4-mapped IPv6 as proxies write them.
            (&["198.51.100.7:4711"], "10.0.0.1", "198.51.100.7"),
            (&["[2001:db8::1]:4711"], "10.0.0.1", "2001:db8::"),
            (&["::ffff:198.51.100.7"], "10.0.0.1", "198.51.100.7"),
            (&["::ffff:10.0.0.9, 1.2.3.4"], "10.0.0.0/8", "1.2.3.4"),
        ] {
            assert_eq!(
                client(PEER, values, trusted),
                expected,
                "{values:?} {trusted}"
            );
        }
    }

    #[test]
    fn an_entry_that_is_not_an_address_stops_at_the_last_trusted_hop() {
        for (values, expected) in [
            // Written by the trusted peer itself: the peer is the client.
            (&["garbage"][..], "10.0.0.1"),
            (&["1.1.1.1, "], "10.0.0.1"),
            (&["1.1.1.1, unknown"], "10.0.0.1"),
            // Behind a second trusted hop: that hop, never what lies beyond.
            (&["1.1.1.1, garbage, 10.0.0.8"], "10.0.0.8"),
            (&["1.1.1.1", "", "10.0.0.8"], "10.0.0.8"),
        ] {
            assert_eq!(client(PEER, values, "10.0.0.0/8"), expected, "{values:?}");
        }
        // A header that is not ASCII text counts as one such entry.
        let mut headers = headers(&["1.1.1.1"]);
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff10.0.0.9").unwrap(),
        );
        let ip = ClientIp::resolve(PEER, &headers, &proxies("10.0.0.0/8")).0;
        assert_eq!(ip, PEER);
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        let list = proxies(" 127.0.0.1, 10.1.2.3/8 ,::1, fd00::/8,127.0.0.1,");
        assert_eq!(list.to_string(), "127.0.0.1/32,10.0.0.0/8,::1/128,fd00::/8");
        assert!(list.contains("10.200.0.1".parse().unwrap()));
        assert!(list.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!list.contains("127.0.0.2".parse().unwrap()));
        assert!(!list.contains("fe00::1".parse().unwrap()));
        assert!(proxies("").is_empty());
        for bad in [
            "localhost",
            "10.0.0.0/33",
            "10.0.0.1/",
            "0.0.0.0/0",
            "::/0",
            "1.2.3.4:80",
        ] {
            assert!(TrustedProxies::parse(bad).is_err(), "accepted {bad:?}");
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
                per_account_daily: NonZeroU32::new(100).unwrap(),
            },
            trusted_proxies: TrustedProxies::default(),
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

    /// The short window refills every second here, so only the daily
    /// allowance stops the fourth attempt; the owner's known browser has an
    /// allowance of its own.
    #[test]
    fn sustained_guessing_meets_the_daily_allowance_and_known_browsers_do_not() {
        let throttle = AuthThrottle::new(Settings {
            limits: Limits {
                per_ip: NonZeroU32::new(1000).unwrap(),
                per_account: NonZeroU32::new(10).unwrap(),
                window: Duration::from_secs(1),
                per_account_daily: NonZeroU32::new(3).unwrap(),
            },
            trusted_proxies: TrustedProxies::default(),
        });
        for _ in 0..3 {
            assert!(throttle.check_account_from("a@example.com", None).is_ok());
        }
        assert!(
            throttle.check_account_from("a@example.com", None).is_err(),
            "the day's allowance is spent"
        );
        for _ in 0..10 {
            assert!(
                throttle
                    .check_account_from("a@example.com", Some("1:owner-device"))
                    .is_ok()
            );
        }
        assert!(throttle.check_account_from("b@example.com", None).is_ok());
    }
}
