//! A progress line on the terminal for scans that take more than a moment.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use warrant_scan::walk::Progress;

/// Shown only on a terminal, and only once a scan has run for this long.
const DELAY: Duration = Duration::from_millis(400);

/// The counters the walk updates, and the thread that draws them.
pub struct Display {
    counters: Arc<Progress>,
    done: Arc<AtomicBool>,
    drawer: Option<JoinHandle<()>>,
}

impl Display {
    /// Starts drawing on stderr if `wanted` and stderr is a terminal.
    pub fn start(wanted: bool) -> Display {
        let counters = Arc::new(Progress::default());
        let done = Arc::new(AtomicBool::new(false));
        let drawer = (wanted && std::io::stderr().is_terminal()).then(|| {
            let (counters, done) = (counters.clone(), done.clone());
            std::thread::spawn(move || draw(&counters, &done))
        });
        Display {
            counters,
            done,
            drawer,
        }
    }

    /// What the walk updates.
    pub fn counters(&self) -> &Progress {
        &self.counters
    }

    /// Stops and clears the line.
    pub fn finish(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(d) = self.drawer.take() {
            let _ = d.join();
        }
    }
}

fn draw(counters: &Progress, done: &AtomicBool) {
    let started = Instant::now();
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{spinner} scanning: {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut shown = false;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if !shown && started.elapsed() >= DELAY {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            shown = true;
        }
        let files = counters.files.load(Ordering::Relaxed);
        let mib = counters.bytes.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0);
        bar.set_message(format!("{files} files, {mib:.0} MiB"));
        bar.tick();
    }
    bar.finish_and_clear();
}
