//! `TokenSource` against a real Keycloak: many threads, one exchange, a valid token.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use jwtgrant_e2e::{Seeded, USERNAME, key};
use jwtgrant_exchange::TokenSource;
use jwtgrant_signer::{Algorithm, decode_unverified};

#[test]
fn sixty_four_threads_share_one_exchange() {
    let seeded = Seeded::new("token-source", key(Algorithm::ES256));
    let made = Arc::new(AtomicUsize::new(0));
    let (signer, claims, counter) = (seeded.signer.clone(), seeded.claims(), made.clone());
    let source = Arc::new(TokenSource::new(seeded.exchange(), move || {
        counter.fetch_add(1, Ordering::SeqCst);
        signer.sign(&claims)
    }));

    let barrier = Arc::new(Barrier::new(64));
    let handles: Vec<_> = (0..64)
        .map(|_| {
            let (source, barrier) = (source.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                source.token().expect("token").secret().to_owned()
            })
        })
        .collect();
    let tokens: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();

    assert_eq!(
        made.load(Ordering::SeqCst),
        1,
        "exactly one assertion, one exchange"
    );
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "every thread got the same token"
    );
    let claims = decode_unverified(&tokens[0]).unwrap().claims().clone();
    assert_eq!(claims["preferred_username"], USERNAME);
    assert_eq!(claims["iss"], seeded.realm_url().as_str());

    // A later call is served from the cache.
    assert_eq!(source.token().unwrap().secret(), tokens[0]);
    assert_eq!(made.load(Ordering::SeqCst), 1);
}
