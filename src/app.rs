//! Wiring: opens the spool, binds the webhook, starts the read side and the
//! outputs, and stops them in order. No logic of its own.
//!
//! Shutdown order (each step lets the next finish cleanly):
//! 1. the webhook stops accepting and lets in-flight requests finish, and
//!    the poller stops (a page it was spooling is fetched again next time);
//! 2. the spool writer commits what it has and stops;
//! 3. the read side hands on everything committed (up to a deadline; the
//!    rest stays in the spool) and the outputs finish their batches;
//! 4. the acknowledgement ledger is synced.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::admin;
use crate::config::Config;
use crate::delivery::{self, Delivery};
use crate::enrichment;
use crate::event::LogId;
use crate::inputs::{poller, webhook};
use crate::outputs::file::{self, FileOutput};
use crate::outputs::{self, datadog, elasticsearch};
use crate::pipeline::Pipeline;
use crate::reload::{self, Reloader};
use crate::spool::dead_letter::DeadLetters;
use crate::spool::{self, Acker};
use crate::telemetry::errors::ErrorLog;
use crate::telemetry::metrics::Metrics;

/// Time in-flight webhook requests get to finish at shutdown.
const REQUEST_DRAIN: Duration = Duration::from_secs(10);
/// Time the read side gets to hand on the spooled backlog at shutdown.
const BACKLOG_DRAIN: Duration = Duration::from_secs(10);
/// How often `run_until` checks that every part is still running.
const SUPERVISION_INTERVAL: Duration = Duration::from_secs(1);
/// Deliveries queued per output: enough to keep an output busy while the
/// next batch is mapped.
const OUTPUT_QUEUE: usize = 4;

/// A running agent.
#[derive(Debug)]
pub struct App {
    webhook_addr: Option<SocketAddr>,
    admin_addr: Option<SocketAddr>,
    admin: Option<tokio::task::JoinHandle<()>>,
    ticker: tokio::task::JoinHandle<()>,
    reloader: Reloader,
    hangup: Option<tokio::signal::unix::Signal>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    webhook: Option<tokio::task::JoinHandle<()>>,
    poller: Option<tokio::task::JoinHandle<()>>,
    writer: Option<spool::Writer>,
    writer_thread: JoinHandle<()>,
    delivery: JoinHandle<Result<(), delivery::Error>>,
    outputs: Vec<JoinHandle<()>>,
    elasticsearch: Option<tokio::task::JoinHandle<()>>,
    elasticsearch_stop: CancellationToken,
    datadog: Option<tokio::task::JoinHandle<()>>,
    datadog_stop: CancellationToken,
    acker: Acker,
    abort: CancellationToken,
    /// Held until the agent has stopped: one agent per spool.
    spool_lock: spool::Lock,
    /// The backlog, for the stop's last line.
    spool_stats: spool::Stats,
}

impl App {
    /// Starts every part of `config`. Returns once the listener is bound and
    /// the spool is open.
    pub async fn start(config: Config) -> anyhow::Result<App> {
        let metrics = Arc::new(Metrics::default());
        let hangup = hangup_signal();
        let spool = open_spool(&config, &metrics).await?;
        // Cancelled at the shutdown deadline: the read side and the outputs
        // leave what they have not finished in the spool.
        let abort = CancellationToken::new();
        let outputs = Outputs::start(&config, &spool.dead_letters, &metrics, &abort)?;
        // Everything that can fail is read before the webhook accepts a
        // request: the enrichment databases and the poller's cursor.
        let enrichment = load_enrichment(&config).await?;
        let poller_start = read_poller_start(&config).await?;
        let shutdown = CancellationToken::new();
        let admin_state = admin_state(&config, &spool, &metrics);
        let (admin_addr, admin_task) =
            start_admin(&config, &admin_state, &spool.writer, &shutdown).await?;
        let (webhook_addr, webhook_task) =
            start_webhook(&config, &spool.writer, &metrics, &shutdown).await?;
        let poller_task =
            poller_start.map(|start| start_poller(start, &spool.writer, &metrics, &shutdown));
        let ReadSide {
            reloader,
            delivery,
            output_threads,
            elasticsearch,
            datadog,
            acker,
            writer,
            writer_thread,
            spool_lock,
        } = ReadSide::start(
            &config,
            spool,
            enrichment,
            outputs,
            &admin_state,
            &metrics,
            &abort,
        )?;
        let ticker = tokio::spawn(
            crate::admin::ticker::run(Arc::clone(&admin_state), shutdown.clone())
                .instrument(tracing::info_span!("ticker")),
        );
        crate::systemd::notify("READY=1");
        Ok(App {
            webhook_addr,
            admin_addr,
            admin: admin_task,
            ticker,
            reloader,
            hangup,
            metrics,
            shutdown,
            webhook: webhook_task,
            poller: poller_task,
            writer: Some(writer),
            writer_thread,
            delivery,
            outputs: output_threads,
            elasticsearch: elasticsearch.task,
            elasticsearch_stop: elasticsearch.stop,
            datadog: datadog.task,
            datadog_stop: datadog.stop,
            acker,
            abort,
            spool_lock,
            spool_stats: admin_state.spool.clone(),
        })
    }

    /// The webhook's bound address.
    pub fn webhook_addr(&self) -> Option<SocketAddr> {
        self.webhook_addr
    }

    /// The admin listener's bound address.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Where SIGHUP reads the new configuration from (the config file).
    pub fn reload_from(&mut self, source: reload::Source) {
        self.reloader.set_source(source);
    }

    /// Re-reads the TLS material, tokens and GeoIP databases now (what
    /// SIGHUP does). Returns whether the new material took effect.
    pub async fn reload(&self) -> bool {
        self.reloader.reload().await
    }

    /// The agent's counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Runs until `signal` resolves, then stops in order. Every part runs
    /// until shutdown, so one that ends earlier (an error or a panic) is
    /// fatal: the agent stops what is left and returns an error, the process
    /// exits non-zero, and systemd restarts it (the spool keeps the rest).
    pub async fn run_until(
        mut self,
        signal: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        tokio::pin!(signal);
        let mut check = tokio::time::interval(SUPERVISION_INTERVAL);
        let mut hangup = self.hangup.take();
        loop {
            tokio::select! {
                Some(()) = async {
                    match hangup.as_mut() {
                        Some(hangup) => hangup.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    self.reloader.reload().await;
                }
                () = &mut signal => {
                    tracing::info!("shutting down");
                    return self.stop().await;
                }
                _ = check.tick() => {
                    if let Some(part) = self.ended_part() {
                        tracing::error!(part, "stopped unexpectedly; shutting down");
                        let stopped = self.stop().await;
                        return Err(match stopped {
                            Err(error) => error.context(format!("{part} stopped unexpectedly")),
                            Ok(()) => anyhow::anyhow!("{part} stopped unexpectedly"),
                        });
                    }
                }
            }
        }
    }

    /// The first part that has ended although shutdown has not begun.
    fn ended_part(&self) -> Option<&'static str> {
        let task_ended = |task: &Option<tokio::task::JoinHandle<()>>| {
            task.as_ref()
                .is_some_and(tokio::task::JoinHandle::is_finished)
        };
        if task_ended(&self.webhook) {
            Some("webhook")
        } else if task_ended(&self.admin) {
            Some("admin listener")
        } else if self.ticker.is_finished() {
            Some("ticker")
        } else if task_ended(&self.poller) {
            Some("poller")
        } else if task_ended(&self.elasticsearch) {
            Some("elasticsearch output")
        } else if task_ended(&self.datadog) {
            Some("datadog output")
        } else if self.writer_thread.is_finished() {
            Some("spool writer")
        } else if self.delivery.is_finished() {
            Some("delivery")
        } else if self.outputs.iter().any(JoinHandle::is_finished) {
            Some("file output")
        } else {
            None
        }
    }

    /// Stops in order (see the module docs). A part that failed does not
    /// keep the others from stopping; the first error is returned at the end.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        crate::systemd::notify("STOPPING=1");
        self.shutdown.cancel();
        let mut errors: Vec<anyhow::Error> = Vec::new();
        for (task, name) in [
            (self.webhook.take(), "webhook"),
            (self.admin.take(), "admin listener"),
            (self.poller.take(), "poller"),
        ] {
            if let Some(task) = task {
                if let Err(error) = task.await {
                    errors.push(anyhow::Error::from(error).context(format!("{name} task failed")));
                }
            }
        }
        drop(self.writer.take());
        let waiting = self.spool_stats.backlog().events;
        if waiting > 0 {
            tracing::info!("stopping; delivering {waiting} spooled events for up to 10s");
        }
        // At the deadline the read side stops handing on the backlog and the
        // outputs abandon unfinished batches (they stay in the spool); that
        // also unblocks a read side waiting on a stuck output.
        let abort = self.abort.clone();
        let elasticsearch_stop = self.elasticsearch_stop.clone();
        let datadog_stop = self.datadog_stop.clone();
        let deadline = tokio::spawn(async move {
            tokio::time::sleep(BACKLOG_DRAIN).await;
            abort.cancel();
            elasticsearch_stop.cancel();
            datadog_stop.cancel();
        });
        let App {
            writer_thread,
            delivery,
            outputs,
            elasticsearch,
            datadog,
            acker,
            ticker,
            spool_lock,
            ..
        } = self;
        let joined = tokio::task::spawn_blocking(move || {
            let mut errors = Vec::new();
            if let Err(error) = join(writer_thread, "spool writer") {
                errors.push(error);
            }
            match delivery.join() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    errors.push(anyhow::Error::from(error).context("delivery failed"))
                }
                Err(_) => errors.push(anyhow::anyhow!("delivery thread panicked")),
            }
            for output in outputs {
                if let Err(error) = join(output, "file output") {
                    errors.push(error);
                }
            }
            errors
        })
        .await;
        match joined {
            Ok(joined) => errors.extend(joined),
            Err(error) => errors.push(anyhow::Error::from(error).context("shutdown task failed")),
        }
        if let Some(elasticsearch) = elasticsearch {
            if let Err(error) = elasticsearch.await {
                errors.push(anyhow::Error::from(error).context("elasticsearch output task failed"));
            }
        }
        if let Some(datadog) = datadog {
            if let Err(error) = datadog.await {
                errors.push(anyhow::Error::from(error).context("datadog output task failed"));
            }
        }
        deadline.abort();
        ticker.abort();
        let stats = self.spool_stats.clone();
        let closed =
            tokio::task::spawn_blocking(move || acker.close().map(|()| stats.backlog().events));
        let mut left = 0;
        match closed.await {
            Ok(Ok(events)) => left = events,
            Ok(Err(error)) => {
                errors.push(anyhow::Error::from(error).context("syncing the spool ledger"))
            }
            Err(error) => {
                errors.push(anyhow::Error::from(error).context("ledger sync task failed"))
            }
        }
        // Only now may another agent open the spool.
        drop(spool_lock);
        if let Some(first) = errors.into_iter().next() {
            return Err(first);
        }
        match left {
            0 => tracing::info!("stopped"),
            n => tracing::info!("stopped; {n} events left in the spool, delivered at next start"),
        }
        Ok(())
    }
}

fn join(handle: JoinHandle<()>, name: &str) -> anyhow::Result<()> {
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("{name} thread panicked"))
}

/// SIGHUP reloads from now on; its default action would end the process.
fn hangup_signal() -> Option<tokio::signal::unix::Signal> {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hangup) => Some(hangup),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; reloads are off");
            None
        }
    }
}

/// Opens the spool (recovering a torn tail) and the error log kept in it.
async fn open_spool(config: &Config, metrics: &Metrics) -> anyhow::Result<spool::Spool> {
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
    let error_dir = config.spool.dir.clone();
    let error_log = tokio::task::spawn_blocking(move || ErrorLog::open(&error_dir))
        .await
        .context("error log task failed")?;
    metrics.health.attach_error_log(error_log);
    Ok(spool)
}

/// An HTTP output's task and the token that stops it.
struct OutputTask {
    task: Option<tokio::task::JoinHandle<()>>,
    stop: CancellationToken,
}

/// The started outputs: what the read side sends to, and what `App` stops.
struct Outputs {
    /// One queue per output, in the order the read side offers a delivery.
    senders: Vec<mpsc::Sender<Delivery>>,
    /// The file output's thread.
    threads: Vec<JoinHandle<()>>,
    elasticsearch: OutputTask,
    datadog: OutputTask,
    /// `format = "auth0"` sends Auth0's own shape: with `[pii]` the read
    /// side then hands on the obfuscated events too.
    keep_originals: bool,
}

impl Outputs {
    /// Starts every configured output.
    fn start(
        config: &Config,
        dead_letters: &Arc<DeadLetters>,
        metrics: &Arc<Metrics>,
        abort: &CancellationToken,
    ) -> anyhow::Result<Outputs> {
        let mut senders = Vec::new();
        let mut threads = Vec::new();
        if let Some(file_config) = config.file_output.clone() {
            let dir = file_config.dir.clone();
            let output = FileOutput::open(file_config)
                .with_context(|| format!("opening file output in `{}`", dir.display()))?;
            tracing::info!(dir = %dir.display(), "file output ready");
            metrics.health.register_output("file");
            let (sender, receiver) = mpsc::channel::<Delivery>(OUTPUT_QUEUE);
            threads.push(
                file::spawn(output, receiver, Arc::clone(metrics), abort.clone())
                    .context("starting the file output thread")?,
            );
            senders.push(sender);
        }
        let parts = |receiver, stop: &CancellationToken| outputs::Parts {
            deliveries: receiver,
            dead_letters: Arc::clone(dead_letters),
            metrics: Arc::clone(metrics),
            stop: stop.clone(),
        };
        let mut elasticsearch = OutputTask {
            task: None,
            stop: CancellationToken::new(),
        };
        if let Some(es_config) = config.elasticsearch.clone() {
            let client = elasticsearch::Client::from_config(&es_config)
                .context("building the elasticsearch client")?;
            metrics.health.register_output("elasticsearch");
            tracing::info!(
                // Validation refuses URLs with credentials, so these hold none.
                hosts = %es_config.hosts.iter().map(|url| url.as_str()).collect::<Vec<_>>().join(" "),
                index = %es_config.index,
                "elasticsearch output ready"
            );
            let (sender, receiver) = mpsc::channel::<Delivery>(OUTPUT_QUEUE);
            elasticsearch.task = Some(tokio::spawn(
                elasticsearch::run(es_config, client, parts(receiver, &elasticsearch.stop))
                    .instrument(tracing::info_span!("es_output")),
            ));
            senders.push(sender);
        }
        let mut datadog = OutputTask {
            task: None,
            stop: CancellationToken::new(),
        };
        let keep_originals = config
            .datadog
            .as_ref()
            .is_some_and(|datadog| datadog.format == datadog::Format::Auth0);
        if let Some(dd_config) = config.datadog.clone() {
            let client =
                datadog::Client::from_config(&dd_config).context("building the datadog client")?;
            metrics.health.register_output("datadog");
            tracing::info!(intake = client.intake(), format = ?dd_config.format, "datadog output ready");
            let (sender, receiver) = mpsc::channel::<Delivery>(OUTPUT_QUEUE);
            datadog.task = Some(tokio::spawn(
                datadog::run(dd_config, client, parts(receiver, &datadog.stop))
                    .instrument(tracing::info_span!("datadog_output")),
            ));
            senders.push(sender);
        }
        Ok(Outputs {
            senders,
            threads,
            elasticsearch,
            datadog,
            keep_originals,
        })
    }
}

/// Loads the enrichment databases (off the async workers).
async fn load_enrichment(config: &Config) -> anyhow::Result<enrichment::Loaded> {
    let enrich_config = config.enrich.clone();
    let enrichment = tokio::task::spawn_blocking(move || enrichment::load(&enrich_config))
        .await
        .context("enrichment loading task failed")?;
    for warning in &enrichment.warnings {
        tracing::warn!(%warning, "enrichment disabled");
    }
    Ok(enrichment)
}

/// What the poller starts from: its config, HTTP client and cursor.
type PollerStart = (poller::Config, reqwest::Client, LogId);

/// Builds the poller's client and reads its cursor, when there is a poller.
async fn read_poller_start(config: &Config) -> anyhow::Result<Option<PollerStart>> {
    let Some(poller_config) = config.poller.clone() else {
        return Ok(None);
    };
    let http = poller::http_client(&poller_config).context("starting the poller")?;
    let state_dir = poller_config.state_dir.clone();
    let start_config = poller_config.clone();
    let start = tokio::task::spawn_blocking(move || poller::start_cursor(&start_config))
        .await
        .context("poller start task failed")?
        .with_context(|| format!("reading the poller cursor in `{}`", state_dir.display()))?;
    Ok(Some((poller_config, http, start)))
}

/// What the admin endpoints (and the ticker, and reloads) read.
fn admin_state(config: &Config, spool: &spool::Spool, metrics: &Arc<Metrics>) -> Arc<admin::State> {
    Arc::new(admin::State {
        metrics: Arc::clone(metrics),
        spool: spool.stats.clone(),
        dead_letters: admin::DeadLetterCount::new(spool.dead_letters.path().to_owned()),
        tokens: crate::inputs::webhook::auth::Tokens::new(config.admin.tokens.clone()),
        failing_after: config.admin.failing_after,
        max_body_bytes: config.webhook.as_ref().map_or(
            crate::config::webhook::DEFAULT_MAX_BODY_BYTES as usize,
            |webhook| webhook.max_body_bytes,
        ),
        started_at: time::OffsetDateTime::now_utc(),
        config_source: config.source.clone(),
    })
}

/// A started listener: its bound address and its task.
type Listening = (Option<SocketAddr>, Option<tokio::task::JoinHandle<()>>);

/// Binds and serves the admin listener, unless it is off.
async fn start_admin(
    config: &Config,
    admin_state: &Arc<admin::State>,
    writer: &spool::Writer,
    shutdown: &CancellationToken,
) -> anyhow::Result<Listening> {
    let Some(listen) = config.admin.listen else {
        return Ok((None, None));
    };
    let listener = admin::bind(listen)
        .await
        .with_context(|| format!("binding the admin listener to `{listen}`"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    tracing::info!(url = %format!("http://{addr}/status"), "admin listening");
    let task = tokio::spawn(
        admin::serve(
            listener,
            Arc::clone(admin_state),
            writer.clone(),
            shutdown.clone(),
            REQUEST_DRAIN,
        )
        .instrument(tracing::info_span!("admin")),
    );
    Ok((Some(addr), Some(task)))
}

/// Binds and serves the webhook, when there is one.
async fn start_webhook(
    config: &Config,
    writer: &spool::Writer,
    metrics: &Arc<Metrics>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Listening> {
    let Some(webhook_config) = config.webhook.clone() else {
        return Ok((None, None));
    };
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
        tracing::warn!("no webhook token configured: anyone who reaches the port can post events");
    }
    if webhook_config.tls.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(%addr, "webhook serves plain HTTP on a non-loopback address; terminate TLS in front of it");
    }
    metrics.health.register_webhook();
    let task = tokio::spawn(
        webhook::serve(
            listener,
            webhook_config,
            writer.clone(),
            Arc::clone(metrics),
            shutdown.clone(),
            REQUEST_DRAIN,
        )
        .instrument(tracing::info_span!("webhook")),
    );
    Ok((Some(addr), Some(task)))
}

/// Starts the poller from the cursor [`read_poller_start`] read.
fn start_poller(
    (poller_config, http, start): PollerStart,
    writer: &spool::Writer,
    metrics: &Arc<Metrics>,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tracing::info!(url = %poller_config.url, batch_size = poller_config.batch_size, "poller starting");
    metrics.health.register_poller();
    tokio::spawn(
        poller::run(
            poller_config,
            http,
            start,
            writer.clone(),
            Arc::clone(metrics),
            shutdown.clone(),
        )
        .instrument(tracing::info_span!("poller")),
    )
}

/// The read side started, and the rest of the spool and the outputs that
/// `App` keeps to stop them in order.
struct ReadSide {
    reloader: Reloader,
    delivery: JoinHandle<Result<(), delivery::Error>>,
    output_threads: Vec<JoinHandle<()>>,
    elasticsearch: OutputTask,
    datadog: OutputTask,
    acker: Acker,
    writer: spool::Writer,
    writer_thread: JoinHandle<()>,
    spool_lock: spool::Lock,
}

impl ReadSide {
    /// Starts the delivery thread (spool → pipeline → outputs) with the
    /// reloader that hands it a new pipeline on SIGHUP.
    fn start(
        config: &Config,
        spool: spool::Spool,
        enrichment: enrichment::Loaded,
        outputs: Outputs,
        admin_state: &Arc<admin::State>,
        metrics: &Arc<Metrics>,
        abort: &CancellationToken,
    ) -> anyhow::Result<ReadSide> {
        let pipeline = Pipeline::new(config.pipeline.clone(), enrichment.enrichers);
        let (pipeline_sender, pipeline_updates) = tokio::sync::watch::channel(pipeline.clone());
        let reloader = Reloader::new(
            config,
            Arc::clone(admin_state),
            pipeline_sender,
            enrichment.warnings.clone(),
        );
        let delivery = delivery::spawn(
            delivery::Parts {
                reader: spool.reader,
                acker: spool.acker.clone(),
                dead_letters: spool.dead_letters,
                pipeline,
                pipeline_updates: Some(pipeline_updates),
                outputs: outputs.senders,
                keep_originals: outputs.keep_originals,
                metrics: Arc::clone(metrics),
                abort: abort.clone(),
            },
            tokio::runtime::Handle::current(),
        )
        .context("starting the delivery thread")?;
        Ok(ReadSide {
            reloader,
            delivery,
            output_threads: outputs.threads,
            elasticsearch: outputs.elasticsearch,
            datadog: outputs.datadog,
            acker: spool.acker,
            writer: spool.writer,
            writer_thread: spool.writer_thread,
            spool_lock: spool.lock,
        })
    }
}
