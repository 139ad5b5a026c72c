-- Every tenant table has a bigint identity primary key and no foreign key out of the
-- schema, so a tenant schema stays one self-contained Citus shard group.
create table users (
  id bigint generated always as identity primary key,
  email text not null,
  name text,
  password_hash text not null,
  created_at timestamptz not null default now(),
  constraint users_email_key unique (email)
);

create table posts (
  id bigint generated always as identity primary key,
  author_id bigint not null references users (id) on delete cascade,
  title text not null,
  body text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index posts_author_id_id_idx on posts (author_id, id desc);
