/**
 * Our side of "click Log in → all N VMs listed", measured the way ../shared/anchors/cockpit-measure.mjs
 * measures Cockpit: Debian's Chromium through Playwright, the same launch flags and viewport, a fresh
 * browser context per run (cold login each time; the browser process is reused), the clock starting at
 * the click and stopping when the last of the N rows (data-testid="vm-row-<name>") is in the DOM,
 * polled every 10 ms as cockpit-measure polls.
 */
import { chromium } from '@playwright/test';
import { log, now, summ } from './common.mjs';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launchChromium() {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

/** Logs in through the real form on a fresh context; resolves with the page once the N rows are listed. */
export async function loginAndWaitListed(browser, { url, username, password, prefix, count, timeoutMs = 120_000 }) {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(`${url}/login`, { waitUntil: 'domcontentloaded' });
  // Wait for the form to be interactive (React hydrated) before filling it and starting the clock:
  // cockpit's login page is plain HTML + JS, ours a React form; neither side counts its login page's load.
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.getByLabel('User name').fill(username);
  await page.getByLabel('Password').fill(password);
  const t0 = now();
  await page.getByRole('button', { name: 'Sign in' }).click();
  let tShell = null;
  let tListed = null;
  let err = null;
  try {
    await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: timeoutMs });
    tShell = now() - t0;
    await page.waitForFunction(
      ({ prefix, count }) => document.querySelectorAll(`[data-testid^="vm-row-${prefix}"]`).length >= count,
      { prefix, count },
      { timeout: timeoutMs, polling: 10 },
    );
    tListed = now() - t0;
  } catch (e) {
    err = String(e).split('\n')[0];
  }
  return { ctx, page, shell_ms: tShell, listed_ms: tListed, err };
}

/** RUNS cold logins; returns the summary in cockpit-measure's shape. */
export async function measureLoginToListed(browser, opts, runs, shotPath = null) {
  const results = [];
  for (let i = 0; i < runs; i++) {
    const r = await loginAndWaitListed(browser, opts);
    results.push({ shell_ms: r.shell_ms, listed_ms: r.listed_ms, err: r.err });
    log(`ours: run ${i + 1}/${runs}: listed after ${r.listed_ms?.toFixed(0)} ms ${r.err ?? ''}`);
    if (i === runs - 1 && shotPath) await r.page.screenshot({ path: shotPath }).catch(() => {});
    await r.ctx.close();
  }
  return {
    click_login_to_all_listed: summ(results.map((r) => r.listed_ms)),
    click_login_to_dashboard_url: summ(results.map((r) => r.shell_ms)),
    per_run_ms: results.map((r) => (r.listed_ms == null ? null : Math.round(r.listed_ms))),
    errors: results.map((r) => r.err).filter(Boolean),
    screenshot: shotPath,
  };
}
