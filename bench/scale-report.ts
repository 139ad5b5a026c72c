/**
 * How bench/scale.ts shows its figures: the markdown table for the README and the SVG chart
 * for docs/ (cost of each operation against the number of tenants, both axes log-scale).
 * Hand-written SVG: no dependency, the same file renders on GitHub and in a browser.
 */

/** The figures measured at one number of tenants. Times in milliseconds. */
export interface ScaleRow {
  readonly tenants: number
  readonly createP50: number
  readonly createP95: number
  readonly concurrentP50: number
  readonly concurrentP95: number
  readonly migrateAll: number
  readonly noopMigrate: number
  readonly status: number
  readonly doctor: number
  readonly list: number
  readonly deleteOne: number
  /** A new connection: connecting and its first tenant page, the median of a few. */
  readonly newConnection: number
  readonly databaseBytes: number
  /** A random tenant's 20-post page, pages/s: on first visits, warm, and warm over 10 of the tenants. */
  readonly pagesPerSecondCold: number
  readonly pagesPerSecond: number
  readonly pagesPerSecondTen: number
  /** The private memory of the pages' server backends, warm. */
  readonly pagesMemoryMiB: number
}

export const ms = (value: number) =>
  value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`
const mib = (bytes: number) => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`)
const count = (n: number) => n.toLocaleString('en-US')

/** The README's table: one row per size. */
export function markdownTable(rows: readonly ScaleRow[]): string {
  const lines = [
    '| tenants | create p50 / p95 | 4 creators p50 / p95 | migrate all (2 statements) | no-op migrate | status | doctor | list --json | delete one | new connection | database | page/s: random tenant on first visits, warm, of 10, ratio | server memory of the pages |',
    '| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  ]
  for (const r of rows) {
    lines.push(
      `| ${count(r.tenants)} | ${ms(r.createP50)} / ${ms(r.createP95)} | ${ms(r.concurrentP50)} / ${ms(r.concurrentP95)} | ${ms(r.migrateAll)} | ` +
        `${ms(r.noopMigrate)} | ${ms(r.status)} | ${ms(r.doctor)} | ${ms(r.list)} | ${ms(r.deleteOne)} | ${ms(r.newConnection)} | ${mib(r.databaseBytes)} | ` +
        `${r.pagesPerSecondCold.toFixed(0)}, ${r.pagesPerSecond.toFixed(0)}, ${r.pagesPerSecondTen.toFixed(0)}, ${(r.pagesPerSecond / r.pagesPerSecondTen).toFixed(2)} | ` +
        `${r.pagesMemoryMiB.toFixed(0)} MiB |`,
    )
  }
  return lines.join('\n')
}

const SERIES: readonly { readonly key: keyof ScaleRow; readonly label: string; readonly color: string }[] = [
  { key: 'migrateAll', label: 'migrate all (2 statements)', color: '#d62728' },
  { key: 'doctor', label: 'doctor', color: '#9467bd' },
  { key: 'list', label: 'list --json', color: '#8c564b' },
  { key: 'status', label: 'status', color: '#1f77b4' },
  { key: 'noopMigrate', label: 'no-op migrate', color: '#17becf' },
  { key: 'deleteOne', label: 'delete one tenant', color: '#7f7f7f' },
  { key: 'concurrentP95', label: 'create p95, 4 creators', color: '#ff7f0e' },
  { key: 'createP95', label: 'create p95, alone', color: '#2ca02c' },
]

/** The chart: one line per operation, milliseconds against tenants, log-log. */
export function scaleChart(rows: readonly ScaleRow[], caption: string): string {
  const width = 760
  const height = 440
  const left = 70
  const right = 230
  const top = 40
  const bottom = 50
  const plotW = width - left - right
  const plotH = height - top - bottom
  const xs = rows.map((r) => r.tenants)
  const ys = rows.flatMap((r) => SERIES.map((s) => r[s.key] as number)).filter((v) => v > 0)
  const xMin = Math.floor(Math.log10(Math.min(...xs)))
  const xMax = Math.max(xMin + 1, Math.ceil(Math.log10(Math.max(...xs))))
  const yMin = Math.floor(Math.log10(Math.min(...ys)))
  const yMax = Math.max(yMin + 1, Math.ceil(Math.log10(Math.max(...ys))))
  const x = (tenants: number) => left + ((Math.log10(tenants) - xMin) / (xMax - xMin)) * plotW
  const y = (value: number) => top + plotH - ((Math.log10(value) - yMin) / (yMax - yMin)) * plotH
  const timeLabel = (exp: number) => (exp >= 3 ? `${10 ** (exp - 3)} s` : `${10 ** exp} ms`).replace(/^(\d)0{6} s$/, '$1M s')
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="14" font-weight="bold">${escapeXml(caption)}</text>`,
  ]
  for (let e = xMin; e <= xMax; e++) {
    out.push(`<line x1="${x(10 ** e)}" y1="${top}" x2="${x(10 ** e)}" y2="${top + plotH}" stroke="#ddd"/>`)
    out.push(`<text x="${x(10 ** e)}" y="${top + plotH + 18}" text-anchor="middle">${count(10 ** e)}</text>`)
  }
  for (let e = yMin; e <= yMax; e++) {
    out.push(`<line x1="${left}" y1="${y(10 ** e)}" x2="${left + plotW}" y2="${y(10 ** e)}" stroke="#ddd"/>`)
    out.push(`<text x="${left - 6}" y="${y(10 ** e) + 4}" text-anchor="end">${timeLabel(e)}</text>`)
  }
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`)
  out.push(`<text x="${left + plotW / 2}" y="${height - 12}" text-anchor="middle">tenants (log scale)</text>`)
  out.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">time (log scale)</text>`)
  SERIES.forEach((series, index) => {
    const points = rows
      .filter((r) => (r[series.key] as number) > 0)
      .map((r) => `${x(r.tenants).toFixed(1)},${y(r[series.key] as number).toFixed(1)}`)
    out.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${series.color}" stroke-width="2"/>`)
    for (const point of points) {
      const [cx, cy] = point.split(',')
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${series.color}"/>`)
    }
    const ly = top + 10 + index * 20
    out.push(`<line x1="${left + plotW + 15}" y1="${ly}" x2="${left + plotW + 35}" y2="${ly}" stroke="${series.color}" stroke-width="2"/>`)
    out.push(`<text x="${left + plotW + 40}" y="${ly + 4}">${escapeXml(series.label)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** What one tenant costs the server at one size, for docs/scaling.md. */
export interface PerTenantRow {
  readonly tenants: number
  /** Relations of one tenant schema (tables, indexes, sequences, TOAST), and its rows in the main catalogs. */
  readonly relations: number
  readonly catalogRows: number
  readonly catalogBytes: number
  /** The server memory of the API's pools after every tenant was served, and of the shared-table server's (the connections' own), in MiB. */
  readonly apiMemoryMiB: number
  readonly sharedTableMemoryMiB: number
  /** The API's server CPU per request (process + backends), on a tenant's first request and warm, in us; the first request's p50, ms. */
  readonly coldUs: number
  readonly warmUs: number
  readonly coldP50: number
}

/**
 * The API settings docs/scaling.md recommends for a process serving `tenants` tenants, which
 * bench:scale's loads run with: past the defaults' 10,000, a key cache that holds every
 * tenant's key (about 0.6 KiB each) for longer than a tenant goes between requests; the
 * default 30 s would expire a key before its tenant's next request, and each request would
 * look its key up.
 */
export function recommendedApiSettings(tenants: number): Record<string, string> {
  return tenants > 10_000 ? { API_KEY_CACHE_MAX: String(tenants), API_KEY_CACHE_TTL_MS: '600000' } : {}
}

/** The per-tenant table: catalog, memory, first request, and the settings those figures call for. */
export function perTenantTable(rows: readonly PerTenantRow[]): string {
  const lines = [
    '| tenants | one tenant: relations, catalog rows | the catalog | server memory per tenant, one API process | a first request: extra server CPU, p50 | recommended |',
    '| ---: | --- | ---: | ---: | --- | --- |',
  ]
  for (const r of rows) {
    const kib = (Math.max(0, r.apiMemoryMiB - r.sharedTableMemoryMiB) * 1024) / r.tenants
    // A deployment with tenant-affine routing holds each tenant in one process; without, in each.
    const deploymentMiB = (kib * r.tenants) / 1024
    const buffers = Math.max(128, 2 ** Math.ceil(Math.log2((1.5 * r.catalogBytes) / 2 ** 20)))
    lines.push(
      `| ${count(r.tenants)} | ${r.relations}, ${count(r.catalogRows)} | ${mib(r.catalogBytes)} | ${kib.toFixed(0)} KiB | ` +
        `${Math.max(0, r.coldUs - r.warmUs).toFixed(0)} us, ${r.coldP50} ms | ` +
        `\`shared_buffers\` >= ${buffers >= 1024 ? `${buffers / 1024} GB` : `${buffers} MB`} (the catalog and the hot pages); ` +
        `a server memory budget of ${deploymentMiB.toFixed(0)} MiB for the API's connections per deployment with tenant-affine nginx routing (that times the replicas without); ` +
        `\`DB_TENANT_CONNECTIONS\` 10 (the default)` +
        Object.entries(recommendedApiSettings(r.tenants))
          .map(([name, value]) => `; \`${name}=${value}\``)
          .join('') +
        (r.tenants > 10_000 ? `; \`max_files_per_process\` as high as the server's open-file limit allows` : '') +
        ' |',
    )
  }
  return lines.join('\n')
}
