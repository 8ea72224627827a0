//! `Retry-After` parsing (delta-seconds or any of the three HTTP-date forms) over arbitrary
//! text, read against clocks from 1970 to far past the year 9999.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use jwtgrant_exchange::fuzzing;
use libfuzzer_sys::fuzz_target;

const NOWS: [u64; 4] = [0, 1_800_000_000, 253_402_300_799, 1 << 40];

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    for secs in NOWS {
        let now = UNIX_EPOCH + Duration::from_secs(secs);
        let _ = fuzzing::retry_after(&value, now);
    }
});
