-- Logins ended by a logout or by a reused refresh token, kept while their access tokens may
-- still be alive (expires_at). Every API process holds the living rows in memory: loaded at
-- start and after each reconnect, kept current by NOTIFY, so an ended login's access tokens
-- stop working everywhere at once. Family ids are random UUIDs, unique across tenants.
create table revoked_sessions (
  family_id uuid primary key,
  tenant_id bigint not null,
  revoked_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index revoked_sessions_expires_at_idx on revoked_sessions (expires_at);
