// The console in a real browser against `anju serve` on the small city: every
// screen loads without console errors; search → archive → graph (expand, an
// edge's evidence) → the trajectory on the map; an alert signed and handled;
// a watch-list hit arriving live; an officer sees nothing of another region;
// the dashboard role sees dashboards only — and no request ever leaves the
// server's origin. Screenshots of each screen go to test-results/screens/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { expect, shot, signIn, state, test } from './fixtures';

const CANARY = '330102199001017775';

/** A registered person of the small city with relations (its ref). */
async function personWithRelations(page: Page): Promise<string> {
  const s = state();
  const r = await page.request.post(`${s.baseUrl}/graphql`, {
    headers: { Authorization: `Bearer ${s.tokens.admin}` },
    data: { query: '{ search(query: "王", kinds: ["person"], first: 30) { edges { node { entity { ref } } } } }' },
  });
  const refs: string[] = (await r.json()).data.search.edges.map((e: { node: { entity: { ref: string } } }) => e.node.entity.ref);
  for (const ref of refs) {
    const a = await page.request.post(`${s.baseUrl}/graphql`, {
      headers: { Authorization: `Bearer ${s.tokens.admin}` },
      data: { query: 'query($r: String!) { archive(ref: $r) { relations(limit: 1) { total } sightings(first: 1) { edges { cursor } } } }', variables: { r: ref } },
    });
    const v = (await a.json()).data.archive;
    if (v.relations.total >= 3 && v.sightings.edges.length > 0) return ref;
  }
  throw new Error('no person with relations');
}

/** The viewport position of a graph node (sigma's own coordinates). */
async function nodePosition(page: Page, node?: string): Promise<{ x: number; y: number; node: string }> {
  return page.evaluate((want) => {
    const g = (window as unknown as { __anjuGraph: { graph: { nodes(): string[]; getNodeAttributes(n: string): { x: number; y: number } }; sigma: { graphToViewport(p: { x: number; y: number }): { x: number; y: number } } } }).__anjuGraph;
    const n = want ?? g.graph.nodes()[0];
    const p = g.sigma.graphToViewport(g.graph.getNodeAttributes(n));
    return { x: p.x, y: p.y, node: n };
  }, node);
}

test('every screen loads without console errors', async ({ page, blocked, consoleErrors }) => {
  void blocked;
  void consoleErrors;
  const person = await personWithRelations(page);
  await signIn(page, 'admin', '/search');
  const screens: [string, string, string][] = [
    ['search', `/search?q=${encodeURIComponent('王')}`, 'search-hits'],
    ['archive', `/archive/${encodeURIComponent(person)}`, 'archive-label'],
    ['graph', `/graph?seed=${encodeURIComponent(person)}`, 'graph-canvas'],
    ['map', `/map?ref=${encodeURIComponent(person)}`, 'map'],
    ['alerts', '/alerts', 'alerts'],
    ['watchlists', '/watchlists', 'lists'],
    ['dashboard', '/dashboard', 'sub-regions'],
    ['investigations', '/investigations', 'grants'],
    ['admin', '/admin', 'audit'],
    ['playground', '/playground', 'playground'],
    ['bigscreen', '/bigscreen', 'big-screen'],
  ];
  for (const [name, path, id] of screens) {
    await page.goto(`${state().baseUrl}${path}`);
    await expect(page.getByTestId(id)).toBeVisible();
    if (name === 'graph') await expect(page.getByTestId('graph-status')).toContainText(/\d+/, { timeout: 20_000 });
    if (name === 'map') await expect(page.getByTestId('track-status')).toContainText(/\d+/, { timeout: 20_000 });
    if (name === 'playground') {
      // styled, opened on the examples, the token in its headers
      await expect(page.locator('.graphiql-container')).toBeVisible();
      await expect(page.locator('.graphiql-query-editor .view-lines')).toContainText('query', { timeout: 20_000 });
      const sidebar = await page.locator('.graphiql-sidebar').boundingBox();
      expect(sidebar!.width).toBeLessThan(120);
    }
    await page.waitForTimeout(500);
    await shot(page, name);
  }
});

test('search, archive, graph, an edge evidence, the trajectory on the map', async ({ page, blocked, consoleErrors }) => {
  void blocked;
  void consoleErrors;
  const person = await personWithRelations(page);
  await signIn(page, 'officer', '/search');
  // search by name → the archive
  const name = await (async () => {
    const s = state();
    const r = await page.request.post(`${s.baseUrl}/graphql`, {
      headers: { Authorization: `Bearer ${s.tokens.officer}` },
      data: { query: 'query($r: String!) { archive(ref: $r) { label } }', variables: { r: person } },
    });
    return (await r.json()).data.archive.label as string;
  })();
  await page.getByTestId('search-box').locator('input').fill(name);
  await page.getByTestId('search-box').locator('input').press('Enter');
  await expect(page.getByTestId('search-hits')).toBeVisible();
  await page.locator(`a[href="/archive/${encodeURIComponent(person)}"]`).first().click();
  await expect(page.getByTestId('archive-label')).toHaveText(name);
  await expect(page.getByTestId('sightings')).toBeVisible();
  // the relation graph from it
  await page.getByTestId('open-graph').click();
  await expect(page.getByTestId('graph-status')).toContainText(/\d+/, { timeout: 20_000 });
  const before = await page.evaluate(() => (window as unknown as { __anjuGraph: { graph: { order: number } } }).__anjuGraph.graph.order);
  const box = (await page.getByTestId('graph-canvas').boundingBox())!;
  const seed = await nodePosition(page, person);
  await page.mouse.click(box.x + seed.x, box.y + seed.y);
  await expect(page.getByTestId('node-panel')).toBeVisible();
  await page.getByTestId('expand').click();
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { __anjuGraph: { graph: { order: number } } }).__anjuGraph.graph.order))
    .toBeGreaterThanOrEqual(before);
  // an edge's evidence: click the middle of an edge of the seed
  const edge = await page.evaluate((seedRef) => {
    const g = (window as unknown as { __anjuGraph: { graph: { edges(n: string): string[]; extremities(e: string): [string, string]; getNodeAttributes(n: string): { x: number; y: number }; getEdgeAttribute(e: string, a: string): string }; sigma: { graphToViewport(p: { x: number; y: number }): { x: number; y: number } } } }).__anjuGraph;
    const edges = g.graph.edges(seedRef);
    const e = edges.find((x) => g.graph.getEdgeAttribute(x, 'kind') !== 'lives_in') ?? edges[0];
    const [a, b] = g.graph.extremities(e);
    const pa = g.sigma.graphToViewport(g.graph.getNodeAttributes(a));
    const pb = g.sigma.graphToViewport(g.graph.getNodeAttributes(b));
    return { x: (pa.x + pb.x) / 2, y: (pa.y + pb.y) / 2 };
  }, person);
  await page.mouse.click(box.x + edge.x, box.y + edge.y);
  await expect(page.getByTestId('evidence')).toBeVisible();
  await expect(page.getByTestId('evidence-item').first()).toBeVisible();
  await shot(page, 'graph-evidence');
  await page.keyboard.press('Escape');
  // the trajectory on the map
  await page.goto(`${state().baseUrl}/archive/${encodeURIComponent(person)}`);
  await page.getByTestId('open-map').click();
  await expect(page.getByTestId('track-status')).toContainText(/\d+/, { timeout: 20_000 });
  await page.getByTestId('play').click();
  await page.waitForTimeout(600);
  await shot(page, 'map-trajectory');
});

test('an alert is signed and handled', async ({ page, blocked, consoleErrors }) => {
  void blocked;
  void consoleErrors;
  await signIn(page, 'officer', '/alerts');
  await page.getByTestId('status-filter').click();
  // the open list's option (antd keeps closed lists in the page, hidden)
  const option = (text: RegExp) =>
    page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option').filter({ hasText: text }).first();
  await option(/待签收|NEW/).click();
  await page.keyboard.press('Escape');
  const sign = page.locator('[data-testid^="sign-"]').first();
  await expect(sign).toBeVisible();
  const id = (await sign.getAttribute('data-testid'))!.slice('sign-'.length);
  await sign.click();
  await page.getByTestId('status-filter').locator('.ant-select-clear, .ant-select-selection-item-remove').first().click();
  await expect(page.getByTestId(`status-${id}`)).toContainText(/已签收|SIGNED/);
  await page.getByTestId(`handle-${id}`).click();
  await page.getByTestId('disposition').click();
  await option(/误报|FALSE_ALARM/).click();
  await page.getByTestId('handle-ok').click();
  await expect(page.getByTestId(`status-${id}`)).toContainText(/已办结|HANDLED/);
  await shot(page, 'alerts');
});

test('a watch-list hit arrives live', async ({ page, blocked, consoleErrors }) => {
  void blocked;
  void consoleErrors;
  const s = state();
  const devices = readFileSync(join(s.data, 'devices.csv'), 'utf8').split('\n').slice(1).map((l) => l.split(','));
  const gate = devices.find((d) => d[1] === 'vehicle_gate')!;
  await signIn(page, 'officer', '/watchlists');
  await page.getByTestId('new-list').click();
  await page.getByTestId('list-name').fill('测试布控');
  await page.getByTestId('list-region').fill(s.regionA);
  await page.getByTestId('save-list').click();
  await page.getByTestId('csv').fill('type,value,label\nplate,苏J9Z999\ntank,12345\n');
  await page.getByTestId('import').click();
  await expect(page.getByTestId('problems')).toContainText('3');
  // the plate passes a gate: the hit appears without a reload
  const r = await page.request.post(`${s.baseUrl}/ingest`, {
    headers: { Authorization: `Bearer ${s.tokens.admin}` },
    data: JSON.stringify({ type: 'vehicle_pass', id: `web-hit-${Date.now()}`, device: gate[0], time: new Date().toISOString(), plate: '苏J9Z999', direction: 'in' }) + '\n',
  });
  expect(r.status()).toBe(200);
  await expect(page.getByTestId('hits')).toContainText('苏J9Z999', { timeout: 20_000 });
  await shot(page, 'watchlists');
});

test('an officer sees nothing of another region', async ({ page, blocked, consoleErrors }) => {
  void blocked;
  void consoleErrors;
  await signIn(page, 'officer', `/archive/${encodeURIComponent(`person:${CANARY}`)}`);
  await expect(page.getByTestId('archive-error')).toContainText(/未找到|Not found/);
  await page.goto(`${state().baseUrl}/search?q=${encodeURIComponent('甄金丝')}`);
  await expect(page.getByTestId('search-total')).toContainText(' 0 ');
  await page.goto(`${state().baseUrl}/search?q=${encodeURIComponent('王')}`);
  await expect(page.getByTestId('facet-community')).toBeVisible();
  await expect(page.getByTestId('facet-community')).not.toContainText('CANARYC');
  await expect(page.locator('body')).not.toContainText('金丝雀');
  // the admin does see it
  await signIn(page, 'admin', `/archive/${encodeURIComponent(`person:${CANARY}`)}`);
  await expect(page.getByTestId('archive-label')).toHaveText('甄金丝');
});

test('the dashboard role sees dashboards only', async ({ page, blocked, consoleErrors }) => {
  void blocked;
  void consoleErrors;
  await signIn(page, 'dashboard', '/');
  await expect(page.getByTestId('dashboard')).toBeVisible();
  await expect(page.getByTestId('nav-dashboard')).toBeVisible();
  await expect(page.getByTestId('nav-search')).toHaveCount(0);
  await expect(page.getByTestId('nav-alerts')).toHaveCount(0);
  // drill down: the first sub-region
  // drill down: the token's own district, then its first station
  const first = page.locator('[data-testid^="drill-"]').first();
  const code = (await first.getAttribute('data-testid'))!.slice('drill-'.length);
  expect(code).toBe(state().regionA);
  await first.click();
  await expect(page.getByTestId('drill')).toContainText(/区|县|市/);
  const station = page.locator('[data-testid^="drill-"]').first();
  await expect(station).toHaveAttribute('data-testid', /^drill-\d{9}$/);
  const persons = Number((await page.getByTestId('stat-persons').innerText()).replace(/\D/g, ''));
  await station.click();
  await expect(page.getByTestId('drill')).toContainText(/所/);
  const inStation = Number((await page.getByTestId('stat-persons').innerText()).replace(/\D/g, ''));
  expect(inStation).toBeGreaterThan(0);
  expect(inStation).toBeLessThanOrEqual(persons);
  await page.goto(`${state().baseUrl}/search?q=王`);
  await expect(page.locator('.ant-result-403')).toBeVisible();
  await shot(page, 'dashboard-role');
});

test('a circle drawn on the map runs region collision', async ({ page, blocked, consoleErrors }) => {
  void blocked;
  void consoleErrors;
  await signIn(page, 'officer', '/map?from=2026-10-01&to=2026-10-09');
  await expect(page.getByTestId('map')).toBeVisible();
  // the base layers are in: the officer's communities
  type Places = { communities: { lon: number | null; lat: number | null }[] };
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { __anjuPlaces?: Places }).__anjuPlaces?.communities.length ?? 0), { timeout: 20_000 })
    .toBeGreaterThan(1);
  // one circle around each of two communities: who was seen in either
  const centres = await page.evaluate(() => {
    const cs = (window as unknown as { __anjuPlaces: Places }).__anjuPlaces.communities.filter((x) => x.lon !== null).slice(0, 2);
    const m = (window as unknown as { __anjuMap: { project(p: [number, number]): { x: number; y: number }; fitBounds(b: [[number, number], [number, number]], o: unknown): void } }).__anjuMap;
    const lons = cs.map((c) => c.lon!);
    const lats = cs.map((c) => c.lat!);
    m.fitBounds([[Math.min(...lons), Math.min(...lats)], [Math.max(...lons), Math.max(...lats)]], { padding: 200, duration: 0 });
    return cs.map((c) => m.project([c.lon!, c.lat!]));
  });
  const box = (await page.getByTestId('map').boundingBox())!;
  for (const c of centres) {
    await page.getByTestId('draw-circle').click();
    await page.mouse.click(box.x + c.x, box.y + c.y);
    await page.mouse.move(box.x + c.x + 30, box.y + c.y + 20, { steps: 4 });
    await page.mouse.click(box.x + c.x + 60, box.y + c.y + 30);
  }
  await page.locator('input[data-testid="min-areas"], [data-testid="min-areas"] input').first().fill('1');
  await page.getByTestId('collide').click();
  await expect(page.getByTestId('matches')).toBeVisible();
  await expect(page.getByTestId('matches').locator('a[href^="/archive/"]').first()).toBeVisible();
  await shot(page, 'map-collision');
});
