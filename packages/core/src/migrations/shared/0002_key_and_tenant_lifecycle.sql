-- Key scopes, key rotation, tenant suspension and the operator audit log.
-- Each ALTER TABLE carries one subcommand and no column gets an identity or a default
-- from a sequence, as Citus requires of an existing table.

-- What a key may do: read (GET routes only) or write (everything).
alter table api_keys add column scope text not null default 'write';
alter table api_keys add constraint api_keys_scope_check check (scope in ('read', 'write'));
-- The prefix of the key that replaced this one, set by a rotation.
alter table api_keys add column rotated_to text;

-- A suspended tenant keeps its schema, users and keys, but every request is refused.
alter table tenants add column suspended_at timestamptz;
alter table tenants add column suspension_reason text;
-- Whether the reason is shown to the tenant's callers in the 403 message.
alter table tenants add column suspension_reason_public boolean not null default false;

-- One row per operator action, written in the action's own transaction. No foreign key
-- to tenants: the log outlives a tenant's deletion.
create table audit_events (
  id bigint generated always as identity primary key,
  occurred_at timestamptz not null default now(),
  action text not null,
  tenant_id bigint,
  schema_name text,
  key_prefix text,
  actor text not null,
  detail jsonb not null default '{}'
);
create index audit_events_occurred_at_idx on audit_events (occurred_at);
create index audit_events_schema_name_idx on audit_events (schema_name, occurred_at);
