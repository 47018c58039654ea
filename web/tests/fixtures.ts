// Every test's browser context: every request to an origin other than the
// server's is aborted and recorded (WebSockets too), service workers are
// blocked, and console errors are collected — a test fails on either.
import { test as base, expect, type Page } from '@playwright/test';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STATE } from './global-setup';

export interface State {
  baseUrl: string;
  tokens: Record<'admin' | 'officer' | 'analyst' | 'commander' | 'dashboard' | 'batch', string>;
  regionA: string;
  data: string;
}

export const state = (): State => JSON.parse(readFileSync(STATE, 'utf8'));

export const SHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-results', 'screens');
mkdirSync(SHOTS, { recursive: true });

type Fixtures = { blocked: string[]; consoleErrors: string[] };

export const test = base.extend<Fixtures>({
  blocked: async ({ context }, use) => {
    const { baseUrl } = state();
    const origin = new URL(baseUrl).origin;
    const blocked: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      const ours = url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:');
      if (ours) return route.continue();
      blocked.push(url);
      return route.abort('blockedbyclient');
    });
    await context.routeWebSocket(/.*/, (ws) => {
      if (ws.url().startsWith(origin.replace('http', 'ws'))) ws.connectToServer();
      else {
        blocked.push(ws.url());
        ws.close();
      }
    });
    await use(blocked);
    expect(blocked, 'requests to other origins').toEqual([]);
  },
  consoleErrors: async ({ page }, use) => {
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    await use(errors);
    expect(errors, 'console errors').toEqual([]);
  },
});

export { expect };

/** Opens the console signed in as `who` (the token in the fragment, as the demo's link does). */
export async function signIn(page: Page, who: keyof State['tokens'], path = '/') {
  const s = state();
  await page.goto(`${s.baseUrl}${path}#token=${encodeURIComponent(s.tokens[who])}`);
  await expect(page.getByTestId('whoami')).toBeVisible();
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}
