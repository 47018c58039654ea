// The console's benchmark (not a test): headless Chromium (Debian's) against
// a running `anju serve` — BASE and TOKEN (an admin's) from the environment,
// as scripts/bench-console.sh sets them up on the town preset. Prints:
//   * the initial JavaScript and CSS of the page, gzip (target ≤ 600 KB JS)
//   * navigation → interactive archive page, p50/p95 over 50 archives
//     (target p95 ≤ 1 s): the profile, relations and the sightings table shown
//   * a 2,000-node subgraph fetched, laid out and drawn (target ≤ 2 s)
//   * frames per second while panning it (target ≥ 30)
import { chromium } from 'playwright-core';
import { gzipSync } from 'node:zlib';

const BASE = process.env.BASE;
const TOKEN = process.env.TOKEN;
const N = Number(process.env.ARCHIVES ?? 50);
const NODES = Number(process.env.NODES ?? 2000);
if (!BASE || !TOKEN) {
  console.error('BASE and TOKEN must be set (scripts/bench-console.sh does)');
  process.exit(2);
}

const api = async (query, variables = {}) => {
  const r = await fetch(`${BASE}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ query, variables }),
  });
  const b = await r.json();
  if (b.errors) throw new Error(JSON.stringify(b.errors));
  return b.data;
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const kb = (n) => `${(n / 1024).toFixed(0)} KB`;

// 1. the initial bundle: what index.html loads before any screen's chunk
const html = await (await fetch(`${BASE}/`)).text();
const urls = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
let js = 0;
let css = 0;
for (const u of urls) {
  const body = Buffer.from(await (await fetch(`${BASE}${u}`)).arrayBuffer());
  const z = gzipSync(body, { level: 9 }).length;
  if (u.endsWith('.js')) js += z;
  else css += z;
}

// persons to open: the first hits of common surnames
const refs = [];
for (const q of ['王', '李', '张', '刘', '陈', '杨', '赵', '黄']) {
  const d = await api('query($q: String!) { search(query: $q, kinds: ["person"], first: 20) { edges { node { entity { ref } } } } }', { q });
  for (const e of d.search.edges) if (refs.length < N + 1) refs.push(e.node.entity.ref);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--disable-background-networking', '--no-first-run'],
});
const [vw, vh] = (process.env.VIEWPORT ?? '1440x900').split('x').map(Number);
const context = await browser.newContext({ viewport: { width: vw, height: vh } });
await context.route('**/*', (route) => (route.request().url().startsWith(BASE) || /^(data|blob):/.test(route.request().url()) ? route.continue() : route.abort()));
const page = await context.newPage();
await page.goto(`${BASE}/search#token=${encodeURIComponent(TOKEN)}`);
await page.getByTestId('whoami').waitFor();

// 2. archive pages, two ways: a click inside the console (the router
// changes the page: what an investigator's click costs), and a full page
// load of the archive's address (a new tab: the bundle parsed again). The
// first of each, warming the chunk cache as a user's first click does, is
// left out.
const inApp = [];
const loads = [];
const shown = (ref) => page.locator(`[data-testid="archive"][data-ref="${ref}"] [data-testid="sightings"]`).waitFor();
for (const [i, ref] of refs.entries()) {
  const t0 = Date.now();
  await page.evaluate((r) => {
    history.pushState({}, '', `/archive/${encodeURIComponent(r)}`);
    dispatchEvent(new PopStateEvent('popstate'));
  }, ref);
  await shown(ref);
  if (i > 0) inApp.push(Date.now() - t0);
}
for (const [i, ref] of refs.slice(0, 21).entries()) {
  const t0 = Date.now();
  await page.goto(`${BASE}/archive/${encodeURIComponent(ref)}`);
  await shown(ref);
  if (i > 0) loads.push(Date.now() - t0);
}

// 3. a 2,000-node subgraph: the 3-hop neighbourhoods of the persons
// opened above, as many seeds as it takes to reach NODES
let seeds = [];
for (const n of [1, 5, 10, 20, 40, refs.length]) {
  seeds = refs.slice(0, n);
  const d = await api('query($s: [String!]!, $m: Int!) { subgraph(seeds: $s, hops: 3, maxNodes: $m) { nodes { hop } } }', { s: seeds, m: NODES });
  if (d.subgraph.nodes.length >= NODES) break;
}
const t0 = Date.now();
await page.goto(`${BASE}/graph?${seeds.map((x) => `seed=${encodeURIComponent(x)}`).join('&')}&hops=3&max=${NODES}`);
await page.waitForFunction(() => window.__anjuGraphTiming, null, { timeout: 60_000 });
const total = Date.now() - t0;
const timing = await page.evaluate(() => window.__anjuGraphTiming);
// the worker's refinement over, the graph still
await page.waitForFunction(() => window.__anjuGraphSettled, null, { timeout: 60_000 });

// 4. panning: a drag of the graph (pointer events as a mouse sends them,
// one per animation frame, dispatched in the page so the test driver's
// round trips do not pace it) for 3 s; frames sigma drew meanwhile. Sigma
// hides edges and labels while the camera moves, as it does for a user.
const fps = await page.evaluate(
  () =>
    new Promise((done) => {
      const { sigma } = window.__anjuGraph;
      const el = document.querySelector('[data-testid="graph-canvas"] .sigma-mouse');
      const r = el.getBoundingClientRect();
      const at = (x, y, type, buttons) =>
        new PointerEvent(type, { bubbles: true, cancelable: true, clientX: x, clientY: y, buttons, button: 0, pointerType: 'mouse', isPrimary: true, pointerId: 1 });
      const cx = r.left + r.width / 2;
      const cy = r.top + r.height / 2;
      let frames = 0;
      sigma.on('afterRender', () => frames++);
      el.dispatchEvent(at(cx, cy, 'pointerdown', 1));
      const start = performance.now();
      let k = 0;
      const step = (now) => {
        k++;
        document.dispatchEvent(at(cx + 150 * Math.sin(k / 15), cy + 100 * Math.cos(k / 15), 'pointermove', 1));
        if (now - start < 3000) requestAnimationFrame(step);
        else {
          document.dispatchEvent(at(cx, cy, 'pointerup', 0));
          done(frames / ((now - start) / 1000));
        }
      };
      requestAnimationFrame(step);
    }),
);
await browser.close();

console.log('console (headless Chromium, software WebGL) on', BASE);
console.log(`  initial bundle, gzip:        JS ${kb(js)} (target ≤ 600 KB), CSS ${kb(css)}; ${urls.length} files`);
console.log(`  archive page, click in the console (${inApp.length}): p50 ${pct(inApp, 50)} ms, p95 ${pct(inApp, 95)} ms, max ${Math.max(...inApp)} ms (target p95 ≤ 1000 ms)`);
console.log(`  archive page, full page load (${loads.length}):    p50 ${pct(loads, 50)} ms, p95 ${pct(loads, 95)} ms, max ${Math.max(...loads)} ms`);
console.log(`  subgraph ${timing.nodes} nodes / ${timing.edges} edges: fetch ${timing.fetchMs.toFixed(0)} ms + first layout and drawing ${timing.layoutMs.toFixed(0)} ms = ${(timing.fetchMs + timing.layoutMs).toFixed(0)} ms (target ≤ 2000 ms); page to drawn ${total} ms`);
console.log(`  panning it:                  ${fps.toFixed(1)} frames/s (target ≥ 30)`);
