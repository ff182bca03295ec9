//! The four backends GoSight runs on, each a small trait with a distributed implementation here
//! and an embedded one for standalone mode:
//!
//! | trait                          | distributed                          | standalone                                   |
//! |--------------------------------|--------------------------------------|----------------------------------------------|
//! | [`EventBus`] + [`BusConsumer`] | [`KafkaBus`], [`KafkaBusConsumer`]   | [`LocalBus`], [`LocalBusConsumer`] (SQLite)  |
//! | [`AnalyticsStore`]             | [`ClickHouseStore`]                  | [`SqliteAnalytics`]                          |
//! | [`MetadataStore`]              | [`PostgresMetadata`]                 | [`SqliteMetadata`]                           |
//! | [`LiveFanout`]                 | [`RedisFanout`] (pub/sub)            | [`LocalFanout`] (broadcast)                  |
//!
//! Every implementation of a trait must pass the same conformance cases, so services never
//! need to know which one they run on: `tests/{bus,live,analytics,metadata}_conformance.rs` run
//! every case against both implementations.

pub mod analytics;
pub mod bus;
pub mod live;
pub mod local_bus;
pub mod local_live;
pub mod metadata;
mod postgres_metadata;
pub mod sqlite_db;
mod sqlite_metadata;

pub use analytics::{
    AnalyticsStore, ClickHouseStore, EventKey, EventRow, InsightRow, ReplayChunkRow, SessionRow,
    SqliteAnalytics,
};
pub use bus::{BusConsumer, BusMessage, BusRecord, Delivery, EventBus, KafkaBus, KafkaBusConsumer};
pub use live::{LiveFanout, RedisFanout, Subscription};
pub use local_bus::{LocalBus, LocalBusConfig, LocalBusConsumer, Synchronous};
pub use local_live::LocalFanout;
pub use metadata::{
    AlertHistoryEntry, AlertRule, AlertRuleInput, ApiKey, ApiKeyRecord, HistoryQuery, Member,
    MemberChange, MemberRole, MetadataStore, NewAlert, NewApiKey, NewProject, NewRefreshToken,
    NewUser, Project, ProjectAccess, ProjectScope, ProjectUpdate, RefreshToken, Rotation, User,
    UserRole, hash_api_key,
};
pub use postgres_metadata::PostgresMetadata;
pub use sqlite_db::{Durability, SqliteDb};
pub use sqlite_metadata::SqliteMetadata;
