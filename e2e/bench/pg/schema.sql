-- The peer's schema: the batchql read model as PostgreSQL tables, loaded
-- from the CSV files of e2e/bench/datagen and served by PostGraphile 5.
-- Indexes are created after the load (indexes.sql).
DROP TABLE IF EXISTS batch_operation_items, batch_operation_errors, batch_operations, batches CASCADE;
DROP TYPE IF EXISTS batch_operation_type, batch_operation_state, batch_operation_item_state,
  audit_log_actor_type, batch_operation_error_type CASCADE;

CREATE TYPE batch_operation_type AS ENUM (
  'ADD_VARIABLE', 'CANCEL_PROCESS_INSTANCE', 'DELETE_DECISION_DEFINITION',
  'DELETE_DECISION_INSTANCE', 'DELETE_PROCESS_DEFINITION', 'DELETE_PROCESS_INSTANCE',
  'MIGRATE_PROCESS_INSTANCE', 'MODIFY_PROCESS_INSTANCE', 'RESOLVE_INCIDENT',
  'RESUME_PROCESS_INSTANCE', 'SUSPEND_PROCESS_INSTANCE', 'UPDATE_JOB', 'UPDATE_VARIABLE');
CREATE TYPE batch_operation_state AS ENUM (
  'CREATED', 'ACTIVE', 'SUSPENDED', 'COMPLETED', 'PARTIALLY_COMPLETED', 'CANCELED', 'FAILED');
CREATE TYPE batch_operation_item_state AS ENUM ('ACTIVE', 'COMPLETED', 'SKIPPED', 'CANCELED', 'FAILED');
CREATE TYPE audit_log_actor_type AS ENUM ('ANONYMOUS', 'CLIENT', 'UNKNOWN', 'USER');
CREATE TYPE batch_operation_error_type AS ENUM ('QUERY_FAILED', 'RESULT_BUFFER_SIZE_EXCEEDED');

-- Camunda 7 batches, statistics flattened into the row.
CREATE TABLE batches (
  batch_id text NOT NULL,
  type text NOT NULL,
  total_jobs int NOT NULL,
  jobs_created int,
  batch_jobs_per_seed int,
  invocations_per_batch_job int,
  seed_job_definition_id text,
  monitor_job_definition_id text,
  batch_job_definition_id text,
  suspended boolean NOT NULL,
  tenant_id text,
  create_user_id text,
  start_time timestamptz,
  execution_start_time timestamptz,
  end_time timestamptz,
  removal_time timestamptz,
  remaining_jobs int,
  completed_jobs int,
  failed_jobs int,
  completed boolean GENERATED ALWAYS AS (end_time IS NOT NULL) STORED,
  -- Camunda 7's withFailures (batchql: failedJobs: {gt: 0}): PostGraphile's
  -- core conditions are equalities, so the range becomes a column.
  has_failures boolean GENERATED ALWAYS AS (failed_jobs > 0) STORED
);

CREATE TABLE batch_operations (
  batch_operation_key text NOT NULL,
  batch_operation_type batch_operation_type NOT NULL,
  state batch_operation_state NOT NULL,
  start_date timestamptz,
  end_date timestamptz,
  actor_type audit_log_actor_type,
  actor_id text,
  operations_total_count int NOT NULL,
  operations_failed_count int NOT NULL,
  operations_completed_count int NOT NULL,
  -- batchql's state: {in: [ACTIVE, SUSPENDED]} as an equality condition.
  is_running boolean GENERATED ALWAYS AS (state IN ('ACTIVE', 'SUSPENDED')) STORED
);

CREATE TABLE batch_operation_errors (
  batch_operation_key text NOT NULL,
  partition_id int NOT NULL,
  type batch_operation_error_type NOT NULL,
  message text NOT NULL
);

CREATE TABLE batch_operation_items (
  batch_operation_key text NOT NULL,
  item_key bigint NOT NULL,
  operation_type batch_operation_type NOT NULL,
  process_instance_key bigint,
  root_process_instance_key bigint,
  state batch_operation_item_state NOT NULL,
  processed_date timestamptz,
  error_message text
);
