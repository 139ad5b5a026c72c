-- Refresh tokens are stored as SHA-256 digests. A family is one login's chain of
-- rotations: reusing a rotated token revokes the whole family.
create table refresh_tokens (
  id bigint generated always as identity primary key,
  user_id bigint not null references users (id) on delete cascade,
  family_id uuid not null,
  token_hash bytea not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  rotated_at timestamptz,
  revoked_at timestamptz,
  constraint refresh_tokens_token_hash_key unique (token_hash)
);
create index refresh_tokens_family_id_idx on refresh_tokens (family_id);
create index refresh_tokens_user_id_idx on refresh_tokens (user_id);
