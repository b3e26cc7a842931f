-- Keys, relations and the indexes for the canonical queries' filters and
-- orders. PostGraphile appends the primary key to every orderBy (a unique
-- order for cursors), so the indexes end with it.
ALTER TABLE batches ADD PRIMARY KEY (batch_id);
ALTER TABLE batch_operations ADD PRIMARY KEY (batch_operation_key);
ALTER TABLE batch_operation_errors ADD PRIMARY KEY (batch_operation_key, partition_id);
ALTER TABLE batch_operation_items ADD PRIMARY KEY (batch_operation_key, item_key);
ALTER TABLE batch_operation_errors ADD FOREIGN KEY (batch_operation_key) REFERENCES batch_operations;
ALTER TABLE batch_operation_items ADD FOREIGN KEY (batch_operation_key) REFERENCES batch_operations;

-- Q1: running operations, newest first
CREATE INDEX ON batch_operations (is_running, start_date DESC, batch_operation_key);
CREATE INDEX ON batch_operations (state, start_date DESC, batch_operation_key);
-- Q2/Q3: an operation's items by state, latest processed first
CREATE INDEX ON batch_operation_items (batch_operation_key, state, processed_date DESC, item_key);
-- Q4: reverse lookup by process instance
CREATE INDEX ON batch_operation_items (process_instance_key);
-- Q5: batches by type with failures, newest first
CREATE INDEX ON batches (type, has_failures, start_time DESC, batch_id);
-- sets the visibility map too, so counts can use index-only scans
VACUUM (ANALYZE);
