//! The read side: spool reader → pipeline → outputs → acks.
//!
//! One thread reads committed spool batches, maps each event (dead-lettering
//! those the pipeline refuses, counting those `[filter]` leaves out), and
//! hands the documents to every output. Each output calls [`Delivery::finish`] once
//! every document has a final outcome; the spool batch is acknowledged when
//! all outputs have finished it. Batches may finish out of order (the acker
//! handles that).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::event::{Document, RawEvent};
use crate::pipeline::filter::Category;
use crate::pipeline::{Outcome, Pipeline};
use crate::spool::dead_letter::{self, DeadLetters, Stage};
use crate::spool::space;
use crate::spool::{self, Acker, Reader, Receipt};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::throttle::Throttle;

/// Most events per spool batch: large enough to amortise an fsync, small
/// enough to keep batches flowing.
pub const MAX_BATCH_EVENTS: usize = 2000;
/// Most event bytes per spool batch.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Batches smaller than this are mapped on the delivery thread alone; larger
/// ones are split over one pipeline per core (the mapping is the read side's
/// main cost, and a scoped thread costs a few microseconds).
const PARALLEL_FROM: usize = 512;

/// Documents on their way to one output.
#[derive(Debug)]
pub struct Delivery {
    /// The documents, in spool order (shared between outputs).
    pub documents: Arc<[Document]>,
    /// Each document's event as received (same order), for dead letters
    /// that `auth0-ingest replay` can re-drive.
    pub originals: Arc<[bytes::Bytes]>,
    /// With `[pii]` on and an output that sends Auth0's own shape
    /// (`Parts::keep_originals`: the Datadog output's `format = "auth0"`),
    /// each document's event obfuscated (the JSON `event.original` holds);
    /// `None` otherwise, so other outputs pay nothing. See [`Delivery::shown`].
    pub obfuscated: Option<Arc<[Bytes]>>,
    ticket: Arc<Ticket>,
}

#[derive(Debug)]
struct Ticket {
    receipt: Receipt,
    records: u64,
    remaining: AtomicUsize,
    acker: Acker,
    metrics: Arc<Metrics>,
    /// Each event's receive time, for the delivery latency histogram.
    received: Vec<OffsetDateTime>,
}

/// Delivery errors; each stops the read side (the process exits non-zero
/// and systemd restarts it; the spool makes that safe).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the spool failed.
    #[error("reading the spool failed")]
    Spool(#[from] spool::Error),
    /// Writing the dead-letter file failed.
    #[error("writing the dead-letter file failed")]
    DeadLetter(#[source] std::io::Error),
}

impl Delivery {
    /// Document `index`'s event as an output may show it: obfuscated
    /// when `[pii]` is on, else as received.
    pub fn shown(&self, index: usize) -> Option<&Bytes> {
        match &self.obfuscated {
            Some(obfuscated) => obfuscated.get(index),
            None => self.originals.get(index),
        }
    }

    /// Says that every document of this delivery has a final outcome in this
    /// output. The spool batch is acknowledged once every output has said so.
    pub fn finish(self) {
        self.ticket.finish();
    }
}

impl Ticket {
    fn finish(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            match self.acker.ack(self.receipt) {
                Ok(()) => {
                    Metrics::add(&self.metrics.spool_acked, self.records);
                    let now = OffsetDateTime::now_utc();
                    let latency = &self.metrics.exporter.delivery_latency;
                    for received in &self.received {
                        latency.record((now - *received).as_seconds_f64().max(0.0));
                    }
                }
                // Nothing was acknowledged (a panic elsewhere): not counted.
                Err(error @ spool::Error::Poisoned) => {
                    tracing::error!(%error, "cannot record a spool acknowledgement");
                }
                // Acknowledged in memory (and counted), but a file operation
                // failed: the batch is delivered again after a restart (a
                // duplicate, not a loss).
                Err(error) => {
                    Metrics::add(&self.metrics.spool_acked, self.records);
                    tracing::error!(%error, "cannot record a spool acknowledgement");
                }
            }
        }
    }
}

/// What the read side needs.
#[derive(Debug)]
pub struct Parts {
    /// The spool reader.
    pub reader: Reader,
    /// The spool acker.
    pub acker: Acker,
    /// The dead-letter file.
    pub dead_letters: Arc<DeadLetters>,
    /// The pipeline (cloned once per worker).
    pub pipeline: Pipeline,
    /// A new pipeline after a reload (new GeoIP databases), taken at the
    /// next batch.
    pub pipeline_updates: Option<tokio::sync::watch::Receiver<Pipeline>>,
    /// One channel per output.
    pub outputs: Vec<mpsc::Sender<Delivery>>,
    /// An output sends Auth0's own shape (the Datadog output's `format =
    /// "auth0"`): with `[pii]` on, hand each delivery the obfuscated events
    /// too (`Delivery::obfuscated`).
    pub keep_originals: bool,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Cancelled to stop draining at shutdown (what is left stays in the spool).
    pub abort: CancellationToken,
}

/// Starts the read side on its own thread. It returns once the spool writer
/// has stopped and everything committed has been handed on, or on `abort`.
pub fn spawn(
    parts: Parts,
    runtime: tokio::runtime::Handle,
) -> std::io::Result<JoinHandle<Result<(), Error>>> {
    std::thread::Builder::new()
        .name("delivery".to_owned())
        .spawn(move || run(parts, &runtime))
}

fn run(mut parts: Parts, runtime: &tokio::runtime::Handle) -> Result<(), Error> {
    let mut dead = Vec::new();
    let workers = std::thread::available_parallelism().map_or(1, |count| count.get().min(8));
    let mut pipelines = vec![parts.pipeline.clone(); workers];
    while !parts.abort.is_cancelled() {
        if let Some(updates) = &mut parts.pipeline_updates {
            if updates.has_changed().unwrap_or(false) {
                pipelines = vec![updates.borrow_and_update().clone(); workers];
            }
        }
        let Some(batch) = parts.reader.read(MAX_BATCH_EVENTS, MAX_BATCH_BYTES)? else {
            let more = runtime.block_on(async {
                tokio::select! {
                    more = parts.reader.wait() => more,
                    () = parts.abort.cancelled() => false,
                }
            });
            if more {
                continue;
            }
            if parts.abort.is_cancelled() {
                break;
            }
            // The writer stopped; read what it committed last, then end.
            match parts.reader.read(MAX_BATCH_EVENTS, MAX_BATCH_BYTES)? {
                None => break,
                Some(batch) => {
                    deliver(&mut parts, &mut pipelines, &mut dead, batch, runtime)?;
                    continue;
                }
            }
        };
        deliver(&mut parts, &mut pipelines, &mut dead, batch, runtime)?;
    }
    Ok(())
}

/// Maps one event. The pipeline promises not to panic; should it break that
/// promise on some input, the event is dead-lettered (and the bug logged)
/// instead of taking the process down: the event would stay in the spool
/// and crash every restart, stopping all delivery.
fn process(
    pipeline: &Pipeline,
    event: &crate::event::RawEvent,
) -> Result<Outcome, crate::pipeline::DropReason> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pipeline.process(event)))
        .unwrap_or_else(|_| {
            tracing::error!(
                input = event.input.as_str(),
                "the pipeline panicked on an event (a bug); dead-lettering it"
            );
            Err(crate::pipeline::DropReason::Invalid(
                "pipeline bug: mapping this event panicked".to_owned(),
            ))
        })
}

/// Maps every event, in order, splitting large batches over the pipelines.
fn map(
    pipelines: &mut [Pipeline],
    events: &[crate::event::RawEvent],
) -> Vec<Result<Outcome, crate::pipeline::DropReason>> {
    if events.len() < PARALLEL_FROM || pipelines.len() < 2 {
        let Some(pipeline) = pipelines.first_mut() else {
            return Vec::new();
        };
        return events
            .iter()
            .map(|event| process(pipeline, event))
            .collect();
    }
    let chunk = events.len().div_ceil(pipelines.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = events
            .chunks(chunk)
            .zip(pipelines.iter_mut())
            .map(|(events, pipeline)| {
                scope.spawn(move || {
                    events
                        .iter()
                        .map(|event| process(pipeline, event))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            // `process` catches pipeline panics, so a worker panicking is
            // a bug here: let it take the process down.
            .flat_map(|handle| match handle.join() {
                Ok(results) => results,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// Pause before writing dead letters again on a full disk.
const DISK_FULL_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// Appends the batch's dead letters. A full disk is waited out (the batch
/// stays unacknowledged meanwhile, and the spool turns that into 503s), with
/// one warning a minute; `false` if shutdown came first.
fn append_dead_letters(parts: &Parts, dead: &[u8]) -> Result<bool, Error> {
    let mut log = Throttle::default();
    loop {
        match parts.dead_letters.append(dead) {
            Ok(()) => return Ok(true),
            Err(error) if space::is_disk_full(&error) => {
                if let Some(suppressed) = log.ready() {
                    tracing::warn!(%error, failed_since_last_warning = suppressed, "cannot write dead letters on a full disk; retrying");
                }
            }
            Err(error) => return Err(Error::DeadLetter(error)),
        }
        if parts.abort.is_cancelled() {
            return Ok(false);
        }
        std::thread::sleep(DISK_FULL_PAUSE);
    }
}

fn deliver(
    parts: &mut Parts,
    pipelines: &mut [Pipeline],
    dead: &mut Vec<u8>,
    batch: spool::Batch,
    runtime: &tokio::runtime::Handle,
) -> Result<(), Error> {
    let records = batch.events.len() as u64;
    let mut documents = Vec::with_capacity(batch.events.len());
    let mut originals = Vec::with_capacity(batch.events.len());
    // The pipeline of this batch (a reload may have replaced the one in
    // `parts`), when an output needs the events obfuscated.
    let obfuscator = pipelines
        .first()
        .filter(|pipeline| parts.keep_originals && pipeline.obfuscates())
        .cloned();
    let obfuscate = obfuscator.is_some();
    let mut obfuscated = Vec::with_capacity(if obfuscate { batch.events.len() } else { 0 });
    let mut rejected = 0;
    // Filtered events are part of the batch: acknowledged with it.
    let mut filtered = [0u64; Category::ALL.len()];
    dead.clear();
    for (event, mapped) in batch.events.iter().zip(map(pipelines, &batch.events)) {
        match mapped {
            Ok(Outcome::Document(document)) => {
                documents.push(document);
                originals.push(event.bytes.clone());
                if let Some(pipeline) = &obfuscator {
                    obfuscated.push(original(pipeline, event));
                }
            }
            Ok(Outcome::Filtered(category)) => filtered[category.index()] += 1,
            Err(reason) => {
                rejected += 1;
                dead_letter::encode(
                    dead,
                    OffsetDateTime::now_utc(),
                    event.input,
                    Stage::Pipeline,
                    &reason.to_string(),
                    &event.bytes,
                );
            }
        }
    }
    if !append_dead_letters(parts, dead)? {
        // Shutdown while the disk is full: the batch stays in the spool.
        return Ok(());
    }
    Metrics::add(&parts.metrics.events_rejected_pipeline, rejected);
    for (counter, count) in parts.metrics.events_filtered.iter().zip(filtered) {
        if count > 0 {
            Metrics::add(counter, count);
        }
    }
    let ticket = Arc::new(Ticket {
        receipt: batch.receipt,
        records,
        // One share for this function, released below, so the batch cannot
        // be acknowledged before every output has it.
        remaining: AtomicUsize::new(parts.outputs.len() + 1),
        acker: parts.acker.clone(),
        metrics: Arc::clone(&parts.metrics),
        received: batch.events.iter().map(|event| event.received_at).collect(),
    });
    let documents: Arc<[Document]> = documents.into();
    let originals: Arc<[bytes::Bytes]> = originals.into();
    let obfuscated: Option<Arc<[Bytes]>> = obfuscate.then(|| obfuscated.into());
    if !documents.is_empty() {
        for output in &parts.outputs {
            let delivery = Delivery {
                documents: Arc::clone(&documents),
                originals: Arc::clone(&originals),
                obfuscated: obfuscated.clone(),
                ticket: Arc::clone(&ticket),
            };
            let sent = runtime.block_on(async {
                tokio::select! {
                    sent = output.send(delivery) => sent.is_ok(),
                    () = parts.abort.cancelled() => false,
                }
            });
            if !sent {
                // The output stopped, or shutdown gave up waiting for it:
                // leave the batch unacknowledged for the next start.
                tracing::debug!("an output is gone; leaving the batch in the spool");
                return Ok(());
            }
        }
    } else {
        for _ in &parts.outputs {
            ticket.finish();
        }
    }
    ticket.finish();
    Ok(())
}

/// The event as an output that sends Auth0's own shape receives it: the
/// bytes as received, or with `[pii]` the obfuscated event (the same JSON
/// `event.original` holds), so no clear value reaches that output either.
fn original(pipeline: &Pipeline, event: &RawEvent) -> Bytes {
    // `None` only for events the pipeline cannot read at all, which it
    // never turns into documents.
    pipeline
        .original(event)
        .map_or_else(Bytes::new, |json| Bytes::from(json.into_owned()))
}
