//! The bench's settings, read from the environment (listed in the crate
//! docs).

use std::time::Duration;

pub struct Settings {
    pub corpus_mb: u64,
    pub planted: usize,
    pub seed: u64,
    pub tools: Option<Vec<String>>,
    pub timeout: Duration,
    pub runs: usize,
}

impl Settings {
    pub fn from_env() -> Self {
        let num = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        Self {
            corpus_mb: num("SCAN_CORPUS_MB", 300).max(12),
            planted: num("SCAN_PLANTED", 200).max(12) as usize,
            seed: num("SCAN_SEED", 0x5ca7_7e57),
            tools: std::env::var("SCAN_BENCH_TOOLS").ok().map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
            timeout: Duration::from_secs(num("SCAN_BENCH_TIMEOUT", 1800)),
            runs: num("SCAN_BENCH_RUNS", 3).max(1) as usize,
        }
    }
}
