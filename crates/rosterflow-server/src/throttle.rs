//! Throttling as Microsoft Graph does it (`graph-docs-directory/concepts/throttling.md`, `throttling-limits.md`):
//! a limit per application per tenant, and beyond it `429 Too Many Requests` with code `TooManyRequests` and a
//! `Retry-After` header in whole seconds, which the Graph SDKs' retry handlers wait for before they try again.
//!
//! Each (tenant, application) pair has a bucket of `--throttle-limit` requests that refills evenly over
//! `--throttle-window-seconds` (GCRA, `governor`): Graph's education APIs allow 35,000 requests per 10 seconds
//! per app per tenant. The application is the token's `appid`/`azp`; tokens that name none share one bucket per
//! tenant. Every authenticated request counts, whatever it then answers; a throttled one does not. Off by
//! default (`--throttle-limit 0`), so local development and benchmarks never see a 429.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use rosterflow_model::ErrorKind;

use crate::auth::Principal;
use crate::error::ApiError;

/// Checks between two sweeps of buckets that are full again (and so need no state).
const SWEEP_EVERY: u32 = 1 << 16;

pub struct Throttle {
    limiter: Option<DefaultKeyedRateLimiter<u64>>,
    /// Keys are a hash of (tenant, application) with this process's random keys: no allocation per request, and
    /// no collisions a caller could aim for.
    keys: RandomState,
    checks: AtomicU32,
}

impl Throttle {
    /// No throttling.
    pub fn off() -> Throttle {
        Throttle { limiter: None, keys: RandomState::new(), checks: AtomicU32::new(0) }
    }

    /// `limit` requests per `window` for each (tenant, application); off when `limit` is 0.
    pub fn new(limit: u32, window: Duration) -> Throttle {
        let Some(burst) = NonZeroU32::new(limit) else { return Throttle::off() };
        let window = window.max(Duration::from_secs(1));
        let quota = Quota::with_period(window / limit).map(|q| q.allow_burst(burst));
        Throttle { limiter: quota.map(DefaultKeyedRateLimiter::keyed), ..Throttle::off() }
    }

    /// Admit one request of `caller`, or tell how long it must wait.
    pub fn admit(&self, caller: &Principal) -> Result<(), Throttled> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
        }
        let key = self.keys.hash_one((caller.tenant.as_str(), caller.app_id.as_deref()));
        let Err(not_until) = limiter.check_key(&key) else { return Ok(()) };
        // Whole seconds, rounded up and at least 1: the SDKs read an integer, and treat 0 as "no advice".
        let wait = not_until.wait_time_from(limiter.clock().now());
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Err(Throttled { retry_after_seconds: seconds.max(1) })
    }
}

/// A throttled request: 429 `TooManyRequests` with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_seconds: u64,
}

impl IntoResponse for Throttled {
    fn into_response(self) -> Response {
        let message = format!("Too many requests; retry after {} seconds.", self.retry_after_seconds);
        let mut response = ApiError::new(ErrorKind::TooManyRequests, message).into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after_seconds));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterflow_model::TenantId;

    fn caller(tenant: &str, app: Option<&str>) -> Principal {
        Principal {
            tenant: TenantId(tenant.into()),
            permissions: vec![],
            app_id: app.map(str::to_string),
            user_id: None,
            delegated: false,
        }
    }

    #[test]
    fn each_tenant_and_application_has_a_bucket_of_its_own() {
        let throttle = Throttle::new(3, Duration::from_secs(30));
        let a = caller("contoso", Some("app-1"));
        for _ in 0..3 {
            assert!(throttle.admit(&a).is_ok());
        }
        let refused = throttle.admit(&a).unwrap_err();
        assert!((1..=10).contains(&refused.retry_after_seconds), "one request refills in 10 s: {refused:?}");
        let response = refused.into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], refused.retry_after_seconds.to_string().as_str());
        assert!(throttle.admit(&caller("contoso", Some("app-2"))).is_ok(), "another application");
        assert!(throttle.admit(&caller("fabrikam", Some("app-1"))).is_ok(), "another tenant");
        assert!(throttle.admit(&caller("contoso", None)).is_ok(), "no application named");
    }

    #[test]
    fn off_admits_everything() {
        let throttle = Throttle::new(0, Duration::from_secs(10));
        let a = caller("contoso", None);
        assert!((0..10_000).all(|_| throttle.admit(&a).is_ok()));
    }
}
