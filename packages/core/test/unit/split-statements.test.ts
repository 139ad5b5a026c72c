import t from 'tap'
import { splitStatements } from '../../src/migrations/split-statements.js'

/** The statements of `source` as [line, text] pairs. */
async function split(source: string): Promise<[number, string][]> {
  return (await splitStatements(source, 'x.sql')).map((s) => [s.line, s.sql])
}

t.test('plain statements split at their semicolons, each with the line it starts on', async (t) => {
  t.same(await split('create table a (id int primary key);\n\ncreate index a_idx on a (id);\n'), [
    [1, 'create table a (id int primary key)'],
    [3, 'create index a_idx on a (id)'],
  ])
  t.same(await split('select 1'), [[1, 'select 1']], 'the last statement needs no semicolon')
  t.same(await split(';;\n;'), [], 'empty statements are dropped')
  t.same(await split('-- nothing but a comment\n'), [])
})

t.test('semicolons inside quotes of every kind do not split', async (t) => {
  t.same(await split(`insert into a values ('a;b', 'it''s; fine');\nselect 2;`), [
    [1, "insert into a values ('a;b', 'it''s; fine')"],
    [2, 'select 2'],
  ])
  t.same(await split(`select E'it\\'s; escaped';select 3`), [
    [1, "select E'it\\'s; escaped'"],
    [1, 'select 3'],
  ])
  t.same(await split(`create table "semi;colon" ("a;b" int primary key);`), [[1, 'create table "semi;colon" ("a;b" int primary key)']])
  t.same(await split(`select U&'d\\0061t;a';`), [[1, "select U&'d\\0061t;a'"]], 'Unicode escape strings')
})

t.test('dollar quoting, with and without tags, nested', async (t) => {
  const body = `create function f() returns int language plpgsql as $fn$
begin
  perform $$ a; b $$;
  return 1;
end
$fn$;
do $$ begin raise notice 'x;y'; end $$;
select 1;`
  const statements = await split(body)
  t.equal(statements.length, 3)
  t.same(
    statements.map(([line]) => line),
    [1, 7, 8],
  )
  t.match(statements[0]![1], /^create function f\(\)[\s\S]*\$fn\$$/)
  t.equal(statements[1]![1], "do $$ begin raise notice 'x;y'; end $$")
})

t.test('comments: line, block and nested block comments, with semicolons in them', async (t) => {
  const source = `-- a leading comment; with a semicolon
/* a block; comment
   /* nested; */ still inside; */
create table b (id int primary key); -- trailing; comment
/* between */ create index b_idx on b (id) /* inside; */;
`
  t.same(await split(source), [
    [4, 'create table b (id int primary key)'],
    [5, 'create index b_idx on b (id) /* inside; */'],
  ])
})

t.test('BEGIN ATOMIC bodies keep their inner statements', async (t) => {
  const source = `create function g() returns int language sql
begin atomic
  select 1;
  select 2;
end;
create table c (id int primary key);`
  const statements = await split(source)
  t.equal(statements.length, 2)
  t.match(statements[0]![1], /begin atomic[\s\S]*select 2;\s*end$/)
  t.same(statements[1], [6, 'create table c (id int primary key)'])
})

t.test('lines count characters, not bytes, after non-ASCII text', async (t) => {
  const source = `-- créé à l'été ✓\ninsert into a values ('naïve; ☃');\n\nselect 'ü';\n`
  t.same(await split(source), [
    [2, "insert into a values ('naïve; ☃')"],
    [4, "select 'ü'"],
  ])
})

t.test('a syntax error names the file and the line', async (t) => {
  await t.rejects(splitStatements('select 1;\n\ncreat table x ();\n', '0003_bad.sql'), {
    code: 'MIGRATION_SYNTAX',
    message: /^migration file 0003_bad\.sql line 3: syntax error at or near "creat"/,
  })
  await t.rejects(splitStatements("select 'unterminated;\n", 'q.sql'), { code: 'MIGRATION_SYNTAX', message: /q\.sql/ })
})

t.test('transaction control is refused: each migration is one transaction already', async (t) => {
  await t.rejects(splitStatements('begin;\ncreate table d (id int primary key);\ncommit;\n', '0004_tx.sql'), {
    code: 'MIGRATION_SYNTAX',
    message: /0004_tx\.sql line 1: transaction control is not allowed/,
  })
})

t.test('the line of a syntax error counts characters after non-ASCII text too', async (t) => {
  await t.rejects(splitStatements("select 'ééé ☃';\n-- ü\ncreat table x ();\n", 'u.sql'), { message: /u\.sql line 3:/ })
})
