//! `TableWriter`: batches rows for one table of the analytics store and inserts them (RowBinary
//! into ClickHouse; one transaction per insert into SQLite in standalone mode).
//!
//! Rows arrive with [`Add`]; [`Flush`] inserts everything buffered, in inserts of at most
//! `max_rows`, and answers only once ClickHouse has them. While ClickHouse is down the insert is
//! retried with exponential backoff (100 ms doubling to 10 s) until it succeeds or the writer is
//! told to stop; the shard awaits the flush, so consumption pauses, memory stays bounded by what
//! the shard stores at once (a round and the rounds held with it), and the data waits in Kafka
//! (offsets are committed only after the flush).

use std::marker::PhantomData;
use std::sync::Arc;

use actix::prelude::*;
use futures::future::BoxFuture;
use gosight_common::backend::{AnalyticsStore, EventRow, InsightRow, ReplayChunkRow, SessionRow};
use tokio_util::sync::CancellationToken;

use crate::error::ProcessorError;
use crate::retry::with_backoff;

/// A row type with a table in the analytics store.
pub trait StoredRow: Clone + Unpin + Send + Sync + 'static {
    fn insert<'a>(
        store: &'a dyn AnalyticsStore,
        rows: &'a [Self],
    ) -> BoxFuture<'a, gosight_common::Result<()>>;
}

macro_rules! stored_row {
    ($row:ty, $method:ident) => {
        impl StoredRow for $row {
            fn insert<'a>(
                store: &'a dyn AnalyticsStore,
                rows: &'a [Self],
            ) -> BoxFuture<'a, gosight_common::Result<()>> {
                store.$method(rows)
            }
        }
    };
}

stored_row!(EventRow, insert_events);
stored_row!(SessionRow, insert_sessions);
stored_row!(InsightRow, insert_insights);
stored_row!(ReplayChunkRow, insert_replay_chunks);

pub struct TableWriter<R> {
    store: Arc<dyn AnalyticsStore>,
    table: &'static str,
    max_rows: usize,
    buffer: Vec<R>,
    stop: CancellationToken,
    _row: PhantomData<R>,
}

impl<R> std::fmt::Debug for TableWriter<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableWriter")
            .field("table", &self.table)
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl<R> TableWriter<R> {
    pub fn new(
        store: Arc<dyn AnalyticsStore>,
        table: &'static str,
        max_rows: usize,
        stop: CancellationToken,
    ) -> Self {
        Self {
            store,
            table,
            max_rows: max_rows.max(1),
            buffer: Vec::new(),
            stop,
            _row: PhantomData,
        }
    }
}

impl<R: Unpin + 'static> Actor for TableWriter<R> {
    type Context = Context<Self>;
}

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Add<R: 'static>(pub Vec<R>);

impl<R: Unpin + 'static> Handler<Add<R>> for TableWriter<R> {
    type Result = ();

    fn handle(&mut self, msg: Add<R>, _: &mut Self::Context) {
        self.buffer.extend(msg.0);
    }
}

/// Inserts what is buffered; answers with the number of rows inserted.
#[derive(Debug, Message)]
#[rtype(result = "Result<usize, ProcessorError>")]
pub struct Flush;

impl<R: StoredRow> Handler<Flush> for TableWriter<R> {
    type Result = ResponseFuture<Result<usize, ProcessorError>>;

    fn handle(&mut self, _: Flush, _: &mut Self::Context) -> Self::Result {
        let rows = std::mem::take(&mut self.buffer);
        let (store, table, max_rows, stop) = (
            self.store.clone(),
            self.table,
            self.max_rows,
            self.stop.clone(),
        );
        Box::pin(async move {
            for chunk in rows.chunks(max_rows) {
                let started = std::time::Instant::now();
                with_backoff(
                    &stop,
                    || R::insert(store.as_ref(), chunk),
                    |error, backoff| {
                        metrics::counter!("gosight_processor_insert_errors_total", "table" => table)
                            .increment(1);
                        tracing::warn!(table, %error, retry_in_ms = backoff.as_millis() as u64, "insert failed; retrying");
                    },
                )
                .await?;
                metrics::counter!("gosight_processor_rows_written_total", "table" => table)
                    .increment(chunk.len() as u64);
                // Retries included: how long the rows waited to be stored.
                metrics::histogram!("gosight_processor_insert_seconds", "table" => table)
                    .record(started.elapsed().as_secs_f64());
            }
            Ok(rows.len())
        })
    }
}
