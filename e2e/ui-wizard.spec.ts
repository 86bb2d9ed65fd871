/**
 * UI acceptance (issue 3), part 1: login, the dashboard and the create-VM wizard, in Debian's
 * Chromium against the real server and real QEMU.
 *
 * - logging in through the real form lands on the page asked for;
 * - bad input in the wizard (a duplicate name, memory beyond the host's, headroom the server
 *   refuses) is explained inline next to the field, re-opens its step and keeps what was typed;
 * - the wizard creates a VM from the test ISO with a new disk and starts it; the dashboard row
 *   shows `running` without a reload and the guest's own serial output shows it booted;
 * - a row's Start button changes the state live (events over /ws/events, no reload);
 * - screenshots of the dashboard and the wizard, desktop and phone, light and dark.
 * One guest boot per file (TCG is slow); the tests run in order.
 */
import type { Page } from '@playwright/test';
import { ADMIN_PASSWORD, expect, snap, test } from './fixtures';
import { testVm } from '../test/helpers/server';

test.describe.configure({ mode: 'serial' });

let isoVmId = '';

async function openWizard(page: Page) {
  await page.goto('/');
  await page.getByTestId('new-vm').first().click();
  await expect(page).toHaveURL(/\/vms\/new$/);
  await expect(page.getByTestId('wizard-name')).toBeVisible();
}

test('login through the form, then back to the page asked for', async ({ browser, server }) => {
  const ctx = await browser.newContext({ baseURL: server.url });
  const page = await ctx.newPage();
  await page.goto('/storage');
  await expect(page).toHaveURL(/\/login\?next=%2Fstorage$/);
  await page.getByLabel('User name').fill('admin');
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByLabel('Password').press('Enter');
  await expect(page.getByTestId('login-error')).toContainText('Wrong user name or password');
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByLabel('Password').press('Enter');
  await expect(page).toHaveURL(/\/storage$/);
  await expect(page.getByTestId('current-user')).toContainText('admin');
  await page.getByTestId('logout').click();
  await expect(page).toHaveURL(/\/login/);
  await ctx.close();
});

test('the dashboard shows the host and says when guests run under TCG', async ({ page, server }) => {
  const host = await server.ok('GET', '/api/host');
  await page.goto('/');
  await expect(page.getByTestId('host-qemu-version')).toContainText('QEMU');
  if (host.accel.emulated) await expect(page.getByTestId('host-tcg-badge')).toHaveText('Software emulation (TCG)');
  else await expect(page.getByTestId('host-tcg-badge')).toHaveCount(0);
  await expect(page.getByTestId('host-cpus')).toContainText(String(host.cpus));
});

test('bad input in the wizard is explained inline and keeps the form', async ({ page, server }) => {
  await server.ok('POST', '/api/vms', testVm('taken-name'));
  const host = await server.ok('GET', '/api/host');
  await openWizard(page);

  // A duplicate name: stopped at step 1, the name stays.
  await page.getByTestId('wizard-name').fill('taken-name');
  await page.getByTestId('wizard-media-kernel').check();
  await page.getByTestId('wizard-kernel').selectOption('default/vmlinuz');
  await page.getByTestId('wizard-next').click();
  await expect(page.getByTestId('wizard-error-name')).toContainText('already exists');
  await expect(page.getByTestId('wizard-name')).toHaveValue('taken-name');
  await expect(page.getByTestId('wizard-name')).toHaveAttribute('aria-invalid', 'true');

  // Memory beyond the host's.
  await page.getByTestId('wizard-name').fill('bad-input');
  await page.getByTestId('wizard-next').click();
  await page.getByTestId('wizard-memory').fill(String(host.memory.totalMiB + 1024));
  await page.getByTestId('wizard-next').click();
  await expect(page.getByTestId('wizard-error-memoryMiB')).toContainText(`${host.memory.totalMiB} MiB`);
  await snap(page, 'ui-wizard-error-memory');

  // Headroom only the server refuses (max memory far beyond the host): the answer comes back
  // from POST /api/vms, lands on its field and re-opens step 2.
  const tooMuch = host.memory.totalMiB * 4 + 1024;
  await page.getByTestId('wizard-memory').fill('128');
  // The schema allows at most 1 TiB, so this server-only refusal is reachable on hosts under 256 GiB
  // (these have 24 GiB); say so loudly rather than skip quietly elsewhere.
  expect(tooMuch, 'host memory is too large for the server-side headroom check').toBeLessThanOrEqual(1024 * 1024);
  await page.getByTestId('wizard-max-memory').fill(String(tooMuch));
  await page.getByTestId('wizard-next').click();
  await page.getByTestId('wizard-disk-none').check();
  await page.getByTestId('wizard-next').click();
  await page.getByTestId('wizard-next').click();
  await expect(page.getByTestId('wizard-summary')).toContainText('bad-input');
  await page.getByTestId('wizard-start').uncheck();
  await page.getByTestId('wizard-finish').click();
  await expect(page.getByTestId('wizard-error-maxMemoryMiB')).toBeVisible();
  await expect(page.getByTestId('wizard-step-2')).toHaveAttribute('aria-current', 'step');
  await expect(page.getByTestId('wizard-max-memory')).toHaveValue(String(tooMuch));
  await expect(page.getByTestId('wizard-memory')).toHaveValue('128');
  // Step 1 kept its values too.
  await page.getByTestId('wizard-step-1').click();
  await expect(page.getByTestId('wizard-name')).toHaveValue('bad-input');
  await expect(page.getByTestId('wizard-kernel')).toHaveValue('default/vmlinuz');
  const { body } = await server.api('GET', '/api/vms');
  expect(body.vms.map((v: { name: string }) => v.name)).not.toContain('bad-input');
});

test('the wizard creates a VM from the ISO with a new disk, starts it, and the dashboard shows it running', async ({ page, server }) => {
  await openWizard(page);
  await snap(page, 'ui-wizard-desktop');
  await page.getByTestId('wizard-name').fill('ui-iso');
  await page.getByTestId('wizard-os-linux').check();
  await page.getByTestId('wizard-media-iso').check();
  await page.getByTestId('wizard-iso').selectOption('default/guest.iso');
  await page.getByTestId('wizard-next').click();
  await page.getByTestId('wizard-memory').fill('256');
  await page.getByTestId('wizard-next').click();
  await page.getByTestId('wizard-disk-new').check();
  await page.getByTestId('wizard-disk-size').fill('64');
  await page.getByTestId('wizard-disk-unit').selectOption('MiB');
  await page.getByTestId('wizard-next').click();
  await page.getByTestId('wizard-nic-model').selectOption('virtio');
  await page.getByTestId('wizard-next').click();
  await expect(page.getByTestId('wizard-summary')).toContainText('New 64 MiB qcow2 disk');
  await expect(page.getByTestId('wizard-start')).toBeChecked();
  await snap(page, 'ui-wizard-summary');
  await page.getByTestId('wizard-finish').click();

  await expect(page).toHaveURL(/\/vm\?id=[0-9a-f-]{36}&tab=console$/, { timeout: 60_000 });
  isoVmId = /\/vm\?id=([0-9a-f-]{36})/.exec(page.url())![1];
  const vm = await server.ok('GET', `/api/vms/${isoVmId}`);
  expect(vm.cdrom).toBe('default/guest.iso');
  expect(vm.disks).toHaveLength(1);
  expect(vm.disks[0].volume).toMatch(/^default\/ui-iso-disk0\.qcow2$/);

  // Client-side navigation: the dashboard is fed by /ws/events, not by a reload.
  await page.getByRole('link', { name: 'Dashboard' }).first().click();
  await expect(page.getByTestId('vm-state-ui-iso')).toHaveText('running', { timeout: 60_000 });
  await server.waitSerial(isoVmId, 'GUEST-READY', 120_000);
});

test('a row action changes the state live, without a reload', async ({ page, server }) => {
  const vm = await server.ok('POST', '/api/vms', testVm('ui-live'));
  await page.goto('/');
  await expect(page.getByTestId('vm-state-ui-live')).toHaveText('shutoff');
  const marker = await page.evaluate(() => ((window as unknown as { __noReload: number }).__noReload = Math.random()));
  await page.getByTestId('vm-action-start-ui-live').click();
  await expect(page.getByTestId('vm-state-ui-live')).toHaveText('running', { timeout: 60_000 });
  // Stopped from outside the page (the API): the row follows.
  await server.ok('POST', `/api/vms/${vm.id}/poweroff`);
  await expect(page.getByTestId('vm-state-ui-live')).toHaveText('shutoff', { timeout: 30_000 });
  expect(await page.evaluate(() => (window as unknown as { __noReload: number }).__noReload)).toBe(marker);
});

test('screenshots: dashboard and wizard, desktop and phone, light and dark', async ({ page }) => {
  for (const [w, h, tag] of [[1280, 800, 'desktop'], [390, 844, 'phone']] as const) {
    await page.setViewportSize({ width: w, height: h });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto('/');
      await expect(page.getByTestId('vm-row-ui-iso')).toBeVisible();
      // Let a few CPU samples arrive for the sparklines.
      await page.waitForTimeout(2500);
      await snap(page, `ui-dashboard-${tag}-${scheme}`);
      // No sideways scrolling on a phone.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(w);
      await page.goto('/vms/new');
      await expect(page.getByTestId('wizard-name')).toBeVisible();
      await snap(page, `ui-wizard-${tag}-${scheme}`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(w);
    }
  }
});
