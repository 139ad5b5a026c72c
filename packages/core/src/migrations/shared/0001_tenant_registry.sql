-- The tenant registry and its api keys. migration_version is written in the same
-- transaction as each tenant migration, so "who is behind" is one indexed query.
create table tenants (
  id bigint generated always as identity primary key,
  name text not null,
  address text not null default '',
  schema_name text not null,
  migration_version integer not null default 0,
  created_at timestamptz not null default now(),
  constraint tenants_name_key unique (name),
  constraint tenants_schema_name_key unique (schema_name)
);
create index tenants_migration_version_idx on tenants (migration_version);

create table api_keys (
  id bigint generated always as identity primary key,
  tenant_id bigint not null references tenants (id) on delete cascade,
  prefix text not null,
  key_hash bytea not null,
  name text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  constraint api_keys_prefix_key unique (prefix)
);
create index api_keys_tenant_id_idx on api_keys (tenant_id);

-- The tenant migration files as first applied anywhere: a file changed afterwards is
-- caught once per run, without reading every tenant schema.
create table tenant_migration_files (
  version integer primary key,
  name text not null,
  checksum text not null,
  recorded_at timestamptz not null default now()
);
