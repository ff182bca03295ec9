//! `TableWriter`: batches rows for one ClickHouse table and inserts them with RowBinary.
//!
//! Rows arrive with [`Add`]; [`Flush`] inserts everything buffered, in inserts of at most
//! `max_rows`, and answers only once ClickHouse has them. While ClickHouse is down the insert is
//! retried with exponential backoff (100 ms doubling to 10 s) until it succeeds or the writer is
//! told to stop; the shard awaits the flush, so consumption pauses, memory stays bounded by one
//! round, and the data waits in Kafka (offsets are committed only after the flush).

use std::marker::PhantomData;

use actix::prelude::*;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::error::ProcessorError;
use crate::retry::with_backoff;

pub struct TableWriter<R> {
    client: clickhouse::Client,
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
        client: clickhouse::Client,
        table: &'static str,
        max_rows: usize,
        stop: CancellationToken,
    ) -> Self {
        Self {
            client,
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

async fn insert<R>(
    client: &clickhouse::Client,
    table: &str,
    rows: &[R],
) -> Result<(), clickhouse::error::Error>
where
    R: for<'a> clickhouse::Row<Value<'a> = R> + clickhouse::RowWrite + Serialize,
{
    let mut insert = client.insert::<R>(table).await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

impl<R> Handler<Flush> for TableWriter<R>
where
    R: for<'a> clickhouse::Row<Value<'a> = R>
        + clickhouse::RowWrite
        + Serialize
        + Unpin
        + Send
        + Sync
        + 'static,
{
    type Result = ResponseFuture<Result<usize, ProcessorError>>;

    fn handle(&mut self, _: Flush, _: &mut Self::Context) -> Self::Result {
        let rows = std::mem::take(&mut self.buffer);
        let (client, table, max_rows, stop) = (
            self.client.clone(),
            self.table,
            self.max_rows,
            self.stop.clone(),
        );
        Box::pin(async move {
            for chunk in rows.chunks(max_rows) {
                with_backoff(
                    &stop,
                    || insert(&client, table, chunk),
                    |error, backoff| {
                        metrics::counter!("gosight_processor_insert_errors_total", "table" => table)
                            .increment(1);
                        tracing::warn!(table, %error, retry_in_ms = backoff.as_millis() as u64, "insert failed; retrying");
                    },
                )
                .await?;
                metrics::counter!("gosight_processor_rows_written_total", "table" => table)
                    .increment(chunk.len() as u64);
            }
            Ok(rows.len())
        })
    }
}
