import t from 'tap'
import { MAX_HOST_NAME_LENGTH, normaliseHostName, parseHostName } from '../../src/index.js'

t.test('host names are normalised: lower case, punycode, no port, no trailing dot', async (t) => {
  const cases: [string, string][] = [
    ['acme.example.com', 'acme.example.com'],
    ['ACME.Example.COM', 'acme.example.com'],
    ['acme.example.com.', 'acme.example.com'],
    ['acme.example.com:8443', 'acme.example.com'],
    ['Acme.Example.com.:80', 'acme.example.com'],
    ['  shop.acme.test  ', 'shop.acme.test'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['BÜCHER.example', 'xn--bcher-kva.example'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['💩.la', 'xn--ls8h.la'],
    ['ｅｘａｍｐｌｅ.com', 'example.com'],
    ['a-b.c-d.io', 'a-b.c-d.io'],
    ['acme_corp.example.com', 'acme_corp.example.com'],
  ]
  for (const [input, host] of cases) t.same(parseHostName(input), { host }, JSON.stringify(input))
  t.equal(normaliseHostName('Bücher.Example:443'), 'xn--bcher-kva.example')
})

t.test('what is not a host name is refused with a reason', async (t) => {
  const refused: [unknown, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    [42, /string/],
    [undefined, /string/],
    ['127.0.0.1', /IP address/],
    ['127.0.0.1:8000', /IP address/],
    ['10.1.2.3.', /IP address/],
    ['0x7f.1', /IP address/],
    ['::1', /IP address/],
    ['[::1]:8000', /IP address/],
    ['[2001:db8::1]', /IP address/],
    ['2001:db8::1', /IP address/],
    ['localhost', /two labels/],
    ['localhost:8000', /two labels/],
    ['a..b', /empty label|not a valid/],
    ['-a.com', /label/],
    ['a-.com', /label/],
    ['_a.com', /label/],
    ['exa mple.com', /not a valid|label/],
    ['example.com:99999', /port/],
    ['example.com:', /port/],
    ['example.com:http', /port/],
    ['a.b/c', /not a valid|label/],
    ['user@example.com', /not a valid|label/],
    [`${'a'.repeat(64)}.com`, /63/],
    [`${'a.'.repeat(130)}com`, /253/],
    ['x'.repeat(100_000), /253/],
    ['exa\u0000mple.com', /not a valid|label/],
  ]
  for (const [input, problem] of refused) {
    const parsed = parseHostName(input)
    t.ok('problem' in parsed, `${JSON.stringify(input)?.slice(0, 40)} is refused`)
    if ('problem' in parsed) t.match(parsed.problem, problem)
  }
  t.throws(() => normaliseHostName('127.0.0.1'), { code: 'INVALID_HOST_NAME', name: 'ValidationError' })
  t.same(parseHostName('localhost', { singleLabel: true }), { host: 'localhost' }, 'one label only where allowed (a base domain)')
  t.ok(MAX_HOST_NAME_LENGTH === 253)
})
