-- Each module numbers its own migrations, so a tenant's place is a version per module
-- ({"core": 3, "comments": 1}), written in the same transaction as each tenant migration.
-- "Who is behind" stays one query: the registry rows whose state differs from the latest.
alter table tenants add column migrations jsonb not null default '{}';
update tenants set migrations = jsonb_build_object('core', migration_version) where migration_version > 0;
alter table tenants drop column migration_version;
