-- Comments on posts, in each tenant's schema (the migrator sets search_path to it).
-- Like every tenant table: a bigint identity key, no foreign key out of the schema.
create table comments (
  id bigint generated always as identity primary key,
  post_id bigint not null references posts (id) on delete cascade,
  author_id bigint not null references users (id) on delete cascade,
  body text not null,
  created_at timestamptz not null default now()
);
create index comments_post_id_id_idx on comments (post_id, id);
