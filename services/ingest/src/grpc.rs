//! gRPC `gosight.IngestService` (and gRPC-Web): the same pipeline as HTTP.
//!
//! The project key comes from the `x-gosight-key` metadata or each message's `project_key`.
//! `SendEvents` answers every batch with its `EventAck`, in order, once the batch is on the
//! broker; a batch that fails as a whole (bad key, rate limit, broker down) ends the stream with
//! the matching status, and the client resends from that batch.

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use gosight_proto::ingest_service_server::IngestService;
use gosight_proto::{EventAck, EventBatch, RejectReason, Rejection, ReplayAck, ReplayChunk};
use tonic::{Request, Response, Status, Streaming};

use crate::error::IngestError;
use crate::pipeline::{ClientInfo, Ingestor};

#[derive(Debug, Clone)]
pub struct GrpcIngest {
    ingestor: Arc<Ingestor>,
}

impl GrpcIngest {
    pub fn new(ingestor: Arc<Ingestor>) -> Self {
        Self { ingestor }
    }
}

fn metadata_str(metadata: &tonic::metadata::MetadataMap, name: &str) -> Option<String> {
    metadata
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn client<T>(request: &Request<T>) -> (Option<String>, ClientInfo) {
    let metadata = request.metadata();
    (
        metadata_str(metadata, "x-gosight-key"),
        ClientInfo {
            peer: request.remote_addr().map(|a| a.ip()),
            forwarded_for: metadata_str(metadata, "x-forwarded-for"),
            origin: metadata_str(metadata, "origin"),
            traceparent: metadata_str(metadata, "traceparent"),
        },
    )
}

type AckStream = Pin<Box<dyn Stream<Item = Result<EventAck, Status>> + Send>>;

#[tonic::async_trait]
impl IngestService for GrpcIngest {
    type SendEventsStream = AckStream;

    async fn send_events(
        &self,
        request: Request<Streaming<EventBatch>>,
    ) -> Result<Response<Self::SendEventsStream>, Status> {
        let (key, info) = client(&request);
        let ingestor = self.ingestor.clone();
        let mut batches = request.into_inner();
        let stream = async_stream::try_stream! {
            while let Some(batch) = batches.next().await {
                let batch = batch?;
                let ack = ingestor
                    .events(key.as_deref(), batch, &info)
                    .await
                    .map_err(|e| e.grpc_status())?;
                yield ack;
            }
        };
        Ok(Response::new(Box::pin(stream)))
    }

    async fn send_replay(
        &self,
        request: Request<Streaming<ReplayChunk>>,
    ) -> Result<Response<ReplayAck>, Status> {
        let (key, info) = client(&request);
        let mut chunks = request.into_inner();
        let mut ack = ReplayAck::default();
        let mut index = 0u32;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            match self.ingestor.replay(key.as_deref(), chunk, &info).await {
                Ok(_) => ack.accepted += 1,
                Err(IngestError::BadRequest(message)) => {
                    ack.rejected += 1;
                    ack.rejections.push(Rejection {
                        index,
                        event_id: String::new(),
                        reason: RejectReason::InvalidField as i32,
                        message,
                    });
                }
                Err(other) => return Err(other.grpc_status()),
            }
            index += 1;
        }
        Ok(Response::new(ack))
    }
}
