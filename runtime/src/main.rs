//! The `unleak-runtime` binary: parses configuration, serves, and after a
//! graceful shutdown on SIGTERM or SIGINT exits 0, or 2 when shutdown had
//! to abandon work at its deadline (1 for startup and serving errors).

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;
use tracing_subscriber::EnvFilter;
use unleak_runtime::shutdown::{ShutdownReport, ShutdownSignal};
use unleak_runtime::{AppState, Config, serve};

/// Exit status of a shutdown that abandoned work at its deadline.
const EXIT_ABANDONED: u8 = 2;

fn main() -> anyhow::Result<ExitCode> {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(config));
    // Blocking-pool work (file I/O) gets a bounded moment to finish; a stuck
    // one must not hold the exit past the shutdown deadline.
    runtime.shutdown_timeout(Duration::from_millis(500));
    let report = result?;
    match report.abandoned() {
        None => Ok(ExitCode::SUCCESS),
        Some(what) => {
            // Supervisors see from the status that work was cut off.
            tracing::error!(abandoned = %what, ?report, "shutdown abandoned work: {what}");
            Ok(ExitCode::from(EXIT_ABANDONED))
        }
    }
}

async fn run(config: Config) -> anyhow::Result<ShutdownReport> {
    // Installed before announcing the address so an early SIGTERM is caught.
    let signal = ShutdownSignal::install()?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let state = AppState::new(config)?;
    let provider = if state.upstream.is_local() {
        "local provider"
    } else {
        "remote upstream"
    };
    tracing::info!(%addr, provider, "unleak-runtime listening");
    // One machine-readable line on stdout for supervisors and tests.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{addr}")?;
    stdout.flush()?;
    drop(stdout);
    let report = serve(listener, state, signal.wait()).await?;
    tracing::info!(clean = report.clean(), took = ?report.took, "exiting");
    Ok(report)
}
