//! Wiring: opens the spool, binds the webhook, starts the read side and the
//! outputs, and stops them in order. No logic of its own.
//!
//! Shutdown order (each step lets the next finish cleanly):
//! 1. the webhook stops accepting and lets in-flight requests finish;
//! 2. the spool writer commits what it has and stops;
//! 3. the read side hands on everything committed (up to a deadline; the
//!    rest stays in the spool) and the outputs finish their batches;
//! 4. the acknowledgement ledger is synced.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::Config;
use crate::delivery::{self, Delivery};
use crate::enrichment;
use crate::inputs::webhook;
use crate::outputs::file::{self, FileOutput};
use crate::pipeline::Pipeline;
use crate::spool::{self, Acker};
use crate::telemetry::metrics::Metrics;

/// Time in-flight webhook requests get to finish at shutdown.
const REQUEST_DRAIN: Duration = Duration::from_secs(10);
/// Time the read side gets to hand on the spooled backlog at shutdown.
const BACKLOG_DRAIN: Duration = Duration::from_secs(10);
/// Deliveries queued per output: enough to keep an output busy while the
/// next batch is mapped.
const OUTPUT_QUEUE: usize = 4;

/// A running agent.
#[derive(Debug)]
pub struct App {
    webhook_addr: Option<SocketAddr>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    webhook: Option<tokio::task::JoinHandle<()>>,
    writer: Option<spool::Writer>,
    writer_thread: JoinHandle<()>,
    delivery: JoinHandle<Result<(), delivery::Error>>,
    outputs: Vec<JoinHandle<()>>,
    acker: Acker,
    abort: Arc<AtomicBool>,
}

impl App {
    /// Starts every part of `config`. Returns once the listener is bound and
    /// the spool is open.
    pub async fn start(config: Config) -> anyhow::Result<App> {
        let metrics = Arc::new(Metrics::default());
        let spool_config = config.spool.clone();
        let spool = tokio::task::spawn_blocking(move || spool::open(&spool_config))
            .await
            .context("spool open task failed")?
            .with_context(|| format!("opening spool at `{}`", config.spool.dir.display()))?;
        if spool.truncated_bytes > 0 {
            tracing::warn!(
                bytes = spool.truncated_bytes,
                "cut an unacknowledged torn tail from the spool (crash recovery)"
            );
        }
        tracing::info!(
            dir = %config.spool.dir.display(),
            backlog_bytes = spool.backlog_bytes,
            "spool open"
        );

        let mut outputs = Vec::new();
        let mut senders = Vec::new();
        if let Some(file_config) = config.file_output.clone() {
            let dir = file_config.dir.clone();
            let output = FileOutput::open(file_config)
                .with_context(|| format!("opening file output in `{}`", dir.display()))?;
            tracing::info!(dir = %dir.display(), "file output ready");
            let (sender, receiver) = mpsc::channel::<Delivery>(OUTPUT_QUEUE);
            outputs.push(
                file::spawn(output, receiver, Arc::clone(&metrics))
                    .context("starting the file output thread")?,
            );
            senders.push(sender);
        }

        let shutdown = CancellationToken::new();
        let mut webhook_addr = None;
        let mut webhook_task = None;
        if let Some(webhook_config) = config.webhook.clone() {
            let listener = webhook::bind(&webhook_config)
                .await
                .with_context(|| format!("binding webhook to `{}`", webhook_config.listen))?;
            let addr = listener.local_addr().context("reading the bound address")?;
            let scheme = if webhook_config.tls.is_some() {
                "https"
            } else {
                "http"
            };
            tracing::info!(
                url = %format!("{scheme}://{addr}{}", webhook_config.path),
                "webhook listening"
            );
            if webhook_config.tokens.is_empty() {
                tracing::warn!(
                    "no webhook token configured: anyone who reaches the port can post events"
                );
            }
            if webhook_config.tls.is_none() && !addr.ip().is_loopback() {
                tracing::warn!(%addr, "webhook serves plain HTTP on a non-loopback address; terminate TLS in front of it");
            }
            webhook_addr = Some(addr);
            webhook_task = Some(tokio::spawn(
                webhook::serve(
                    listener,
                    webhook_config,
                    spool.writer.clone(),
                    Arc::clone(&metrics),
                    shutdown.clone(),
                    REQUEST_DRAIN,
                )
                .instrument(tracing::info_span!("webhook")),
            ));
        }

        let enrich_config = config.enrich.clone();
        let enrichment = tokio::task::spawn_blocking(move || enrichment::load(&enrich_config))
            .await
            .context("enrichment loading task failed")?;
        for warning in &enrichment.warnings {
            tracing::warn!(%warning, "enrichment disabled");
        }

        let abort = Arc::new(AtomicBool::new(false));
        let delivery = delivery::spawn(
            delivery::Parts {
                reader: spool.reader,
                acker: spool.acker.clone(),
                dead_letters: spool.dead_letters,
                pipeline: Pipeline::new(config.pipeline.clone(), enrichment.enrichers),
                outputs: senders,
                metrics: Arc::clone(&metrics),
                abort: Arc::clone(&abort),
            },
            tokio::runtime::Handle::current(),
        )
        .context("starting the delivery thread")?;

        Ok(App {
            webhook_addr,
            metrics,
            shutdown,
            webhook: webhook_task,
            writer: Some(spool.writer),
            writer_thread: spool.writer_thread,
            delivery,
            outputs,
            acker: spool.acker,
            abort,
        })
    }

    /// The webhook's bound address.
    pub fn webhook_addr(&self) -> Option<SocketAddr> {
        self.webhook_addr
    }

    /// The agent's counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Runs until `signal` resolves, then stops in order.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        signal.await;
        tracing::info!("shutting down");
        self.stop().await
    }

    /// Stops in order (see the module docs).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        if let Some(webhook) = self.webhook.take() {
            webhook.await.context("webhook task failed")?;
        }
        drop(self.writer.take());
        let abort = Arc::clone(&self.abort);
        let deadline = tokio::spawn(async move {
            tokio::time::sleep(BACKLOG_DRAIN).await;
            abort.store(true, Ordering::Relaxed);
        });
        let App {
            writer_thread,
            delivery,
            outputs,
            acker,
            ..
        } = self;
        let result = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            join(writer_thread, "spool writer")?;
            let delivered = delivery
                .join()
                .map_err(|_| anyhow::anyhow!("delivery thread panicked"))?;
            for output in outputs {
                join(output, "output")?;
            }
            delivered.context("delivery failed")?;
            acker.close().context("syncing the spool ledger")?;
            Ok(())
        })
        .await
        .context("shutdown task failed")?;
        deadline.abort();
        result?;
        tracing::info!("stopped");
        Ok(())
    }
}

fn join(handle: JoinHandle<()>, name: &str) -> anyhow::Result<()> {
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("{name} thread panicked"))
}
