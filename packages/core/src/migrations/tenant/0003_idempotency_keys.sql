-- Answers of requests sent with an Idempotency-Key, each stored in the transaction of the
-- request's writes: a retry with the same key gets the stored answer instead of writing
-- again. `scope` is who sent the key (a user, an api key, a host name); `status` is null only
-- inside the transaction that claimed the key. Expired keys are deleted by the tenant's later
-- keyed requests.
create table idempotency_keys (
  scope text not null,
  key text not null,
  fingerprint text not null,
  status smallint,
  headers jsonb,
  body text,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  primary key (scope, key)
);
create index idempotency_keys_expires_at_idx on idempotency_keys (expires_at);
