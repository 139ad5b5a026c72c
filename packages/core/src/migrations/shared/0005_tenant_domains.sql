-- Host names a tenant is reached by (acme.example.com, shop.acme.test): many per tenant,
-- one primary, each unique across tenants. Hosts are stored normalised (lower case,
-- punycode, no port, no trailing dot), so a lookup is one equality on the unique index.
-- A shared table with a key to the registry only: nothing in a tenant schema refers to it.
create table tenant_domains (
  id bigint generated always as identity primary key,
  tenant_id bigint not null references tenants (id) on delete cascade,
  host text not null,
  is_primary boolean not null default false,
  created_at timestamptz not null default now(),
  constraint tenant_domains_host_key unique (host)
);
create index tenant_domains_tenant_id_idx on tenant_domains (tenant_id);
-- At most one primary domain per tenant.
create unique index tenant_domains_primary_idx on tenant_domains (tenant_id) where is_primary;

-- Whether a caller identified by the host name alone (no api key) may register a user.
alter table tenants add column open_registration boolean not null default false;
