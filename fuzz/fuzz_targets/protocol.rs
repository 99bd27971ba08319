//! The daemon reads frames and JSON requests from any process of the same
//! user: framing must bound what it allocates and never panic, and request
//! parsing must reject, not crash on, anything malformed.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warrant_broker::protocol::{Reply, Request, read_frame};

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    while let Ok(Some(frame)) = read_frame(&mut input) {
        assert!(frame.len() <= warrant_broker::protocol::MAX_FRAME);
        let _ = serde_json::from_slice::<Request>(&frame);
        let _ = serde_json::from_slice::<Reply>(&frame);
    }
    let _ = serde_json::from_slice::<Request>(data);
});
