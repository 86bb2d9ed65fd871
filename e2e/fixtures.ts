/**
 * e2e fixtures: each worker runs one real server (Next.js UI + API + real QEMU) on a fresh data
 * dir with the test guest in its pool; `page` comes already logged in as admin through the real
 * login form once per worker (the session cookie is then reused). `server.api()` lets a test set
 * up or read state, and `server.waitSerial()` reads what the guest itself printed.
 */
import { test as base, expect, type Page } from '@playwright/test';
import path from 'node:path';
import fs from 'node:fs';
import { ADMIN_PASSWORD, TestServer } from '../test/helpers/server';

export const ARTIFACTS = path.resolve('e2e-artifacts');

type WorkerFixtures = { server: TestServer };
type TestFixtures = { page: Page };

export const test = base.extend<TestFixtures, WorkerFixtures>({
  server: [
    async ({}, use) => {
      const s = await new TestServer({ ui: true }).start();
      await use(s);
      await s.destroy();
    },
    { scope: 'worker', timeout: 180_000 },
  ],
  baseURL: async ({ server }, use) => use(server.url),
  page: async ({ page, server }, use) => {
    const [name, value] = server.cookie.split('=');
    await page.context().addCookies([{ name, value, domain: '127.0.0.1', path: '/', httpOnly: true, sameSite: 'Strict' }]);
    await use(page);
  },
});

export { expect };
export { ADMIN_PASSWORD };

/** Saves a screenshot under e2e-artifacts/screenshots (gitignored) for a human to look at. */
export async function snap(page: Page, name: string): Promise<void> {
  const dir = path.join(ARTIFACTS, 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}
