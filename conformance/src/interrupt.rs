//! Ctrl-C and SIGTERM during a run: the first stops the run after the cases in
//! progress (their sessions closed as usual) and the report is still written,
//! marked interrupted; a second one exits at once (status 130).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};

/// Set by the first SIGINT/SIGTERM.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

/// The flag the installed handlers set (live harnesses cut their waits short
/// when it is set, so the case in progress ends within a second).
fn global() -> &'static Arc<AtomicBool> {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Whether a SIGINT/SIGTERM arrived (since [`Stop::install`]).
pub fn requested() -> bool {
    global().load(Ordering::SeqCst)
}

impl Stop {
    /// Installs the handlers: the first signal sets the flag, a signal while it
    /// is set exits the process with status 130.
    pub fn install() -> std::io::Result<Stop> {
        let flag = Arc::clone(global());
        for sig in [SIGINT, SIGTERM] {
            // Registered first, so it sees the flag before the next handler sets it.
            signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&flag))?;
            signal_hook::flag::register(sig, Arc::clone(&flag))?;
        }
        Ok(Stop(flag))
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Requests a stop (as a signal would).
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}
