/**
 * UI acceptance (issue 3), part 2: the VM details page and its hardware editor, the Add Hardware
 * dialog, bulk actions on the dashboard, delete with disks and the storage page, in Debian's
 * Chromium against the real server and real QEMU.
 *
 * - the memory of a shut-off VM changed in the editor is saved and shows in the QEMU command line
 *   at the next start;
 * - a change that cannot apply live on a running VM is marked "applies at next boot" on its item;
 *   after a restart the mark is gone and the guest itself reports the new value;
 * - Add Hardware creates a new qcow2 disk; Remove asks first;
 * - two VMs bulk-selected start together; a VM deleted with its disks leaves no files behind;
 * - screenshots of the details page, desktop and phone, light and dark.
 * The tests run in order and share the guests they boot.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, snap, test } from './fixtures';
import { testVm } from '../test/helpers/server';

test.describe.configure({ mode: 'serial' });

let vmId = '';

/** The guest's last GUEST-STATE line's mem_kb (MemTotal as the guest sees it). */
function lastMemKb(serial: string): number {
  const all = [...serial.matchAll(/GUEST-STATE [^\n]*mem_kb=(\d+)/g)];
  return all.length ? Number(all[all.length - 1][1]) : NaN;
}

test.beforeAll(async ({ server }) => {
  vmId = (await server.ok('POST', '/api/vms', testVm('ui-edit', { memoryMiB: 256, maxMemoryMiB: 1024 }))).id;
});

test('memory changed on a shut-off VM is saved and shows in the QEMU command line at the next start', async ({ page, server }) => {
  // The older /vms/<id> address (bookmarks) still lands on the VM.
  await page.goto(`/vms/${vmId}`);
  await expect(page).toHaveURL(new RegExp(`/vm\\?id=${vmId}$`));
  await expect(page.getByTestId('vm-state')).toHaveText('shutoff');
  await expect(page.getByTestId('overview-argv-empty')).toBeVisible();
  await page.getByTestId('hw-item-memory').click();

  // The shared schema is checked before anything is sent.
  await page.getByTestId('field-memoryMiB').fill('32');
  await page.getByTestId('editor-save').click();
  await expect(page.getByTestId('error-memoryMiB')).toBeVisible();
  expect((await server.ok('GET', `/api/vms/${vmId}`)).memoryMiB).toBe(256);

  await page.getByTestId('field-memoryMiB').fill('384');
  await page.getByTestId('editor-save').click();
  await expect(page.getByTestId('editor-saved')).toBeVisible();
  await expect(page.getByTestId('pending-memoryMiB')).toHaveCount(0);
  expect((await server.ok('GET', `/api/vms/${vmId}`)).memoryMiB).toBe(384);

  await page.getByTestId('vm-action-start').click();
  await expect(page.getByTestId('vm-state')).toHaveText('running', { timeout: 60_000 });
  await page.getByTestId('hw-item-overview').click();
  await expect(page.getByTestId('overview-argv')).toContainText(/-m '?384M/);
  await server.waitSerial(vmId, 'GUEST-READY', 120_000);
});

test('a change that cannot apply live is pending until the next boot, then the guest has it', async ({ page, server }) => {
  await page.goto(`/vm?id=${vmId}&tab=memory`);
  await expect(page.getByTestId('vm-state')).toHaveText('running');
  const before = lastMemKb(await server.serial(vmId));
  expect(before).toBeGreaterThan(0);

  // Shrinking memory cannot be done to a running guest.
  await page.getByTestId('field-memoryMiB').fill('256');
  await page.getByTestId('editor-save').click();
  await expect(page.getByTestId('pending-memoryMiB')).toHaveText('applies at next boot');
  await expect(page.getByTestId('hw-pending-memory')).toBeVisible();
  await snap(page, 'ui-details-pending');

  // Restart: off and on again (a new QEMU reads the stored config).
  await page.getByTestId('vm-action-poweroff').click();
  await expect(page.getByTestId('vm-state')).toHaveText('shutoff', { timeout: 30_000 });
  await page.getByTestId('vm-action-start').click();
  await expect(page.getByTestId('vm-state')).toHaveText('running', { timeout: 60_000 });
  await expect(page.getByTestId('pending-memoryMiB')).toHaveCount(0);
  await expect(page.getByTestId('hw-pending-memory')).toHaveCount(0);

  // The new boot's state line: 128 MiB less (131072 kB), less what the kernel reserves.
  await expect.poll(async () => before - lastMemKb(await server.serial(vmId)), { timeout: 120_000, intervals: [500] }).toBeGreaterThan(100_000);
});

test('Add Hardware creates a new qcow2 disk, and Remove asks first', async ({ page, server }) => {
  await page.goto(`/vm?id=${vmId}`);
  await page.getByTestId('add-hardware').click();
  const dialog = page.getByTestId('add-hardware-dialog');
  await expect(dialog).toBeVisible();
  await page.getByTestId('add-kind-disk').check({ force: true });
  await page.getByTestId('add-disk-source-new').check();
  await page.getByTestId('add-disk-size').fill('16');
  await page.getByTestId('add-disk-unit').selectOption('MiB');
  await page.getByTestId('add-hardware-submit').click();
  // testVm() has no disk: this one is disk0, its volume named after the VM and the disk id.
  await expect(page.getByTestId('editor-disk-disk0')).toBeVisible({ timeout: 30_000 });
  await expect(dialog).toBeHidden();
  const vm = await server.ok('GET', `/api/vms/${vmId}`);
  expect(vm.disks.map((d: { volume: string }) => d.volume)).toContain('default/ui-edit-disk0.qcow2');
  expect(fs.existsSync(path.join(server.dataDir, 'pools', 'default', 'ui-edit-disk0.qcow2'))).toBe(true);

  // Escape cancels the confirmation; nothing changes.
  await page.getByTestId('remove-hardware').click();
  await expect(page.getByTestId('confirm-dialog')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByTestId('confirm-dialog')).toBeHidden();
  expect((await server.ok('GET', `/api/vms/${vmId}`)).disks).toHaveLength(1);

  await page.getByTestId('remove-hardware').click();
  await page.getByTestId('confirm-ok').click();
  await expect.poll(async () => (await server.ok('GET', `/api/vms/${vmId}`)).disks.length, { timeout: 30_000 }).toBe(0);
  await expect(page.getByTestId('hw-item-disk-disk0')).toHaveCount(0);
});

test('bulk start of two VMs, then delete one with its disks', async ({ page, server }) => {
  const other = await server.ok('POST', '/api/vms', testVm('ui-bulk', { disks: [{ sizeMiB: 16 }] }));
  await server.ok('POST', `/api/vms/${vmId}/poweroff`);
  await page.goto('/');
  await expect(page.getByTestId('vm-state-ui-edit')).toHaveText('shutoff', { timeout: 30_000 });
  await page.getByTestId('vm-filter').fill('ui-');
  await page.getByTestId('vm-select-ui-edit').check();
  await page.getByTestId('vm-select-ui-bulk').check();
  await expect(page.getByTestId('bulk-start')).toHaveText(/Start \(2\)/);
  await page.getByTestId('bulk-start').click();
  await expect(page.getByTestId('vm-state-ui-edit')).toHaveText('running', { timeout: 60_000 });
  await expect(page.getByTestId('vm-state-ui-bulk')).toHaveText('running', { timeout: 60_000 });

  await page.getByTestId('vm-action-poweroff-ui-bulk').click();
  await expect(page.getByTestId('vm-state-ui-bulk')).toHaveText('shutoff', { timeout: 30_000 });
  const disk = path.join(server.dataDir, 'pools', 'default', 'ui-bulk-disk0.qcow2');
  expect(fs.existsSync(disk)).toBe(true);

  await page.getByTestId('vm-link-ui-bulk').click();
  await page.getByTestId('delete-vm').click();
  await expect(page.getByTestId('delete-confirm')).toBeDisabled();
  await page.getByTestId('delete-confirm-input').fill('ui-bulk');
  await page.getByTestId('delete-disks-checkbox').check();
  await page.getByTestId('delete-confirm').click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId('vm-row-ui-bulk')).toHaveCount(0);
  expect(fs.existsSync(disk)).toBe(false);
  expect((await server.api('GET', `/api/vms/${other.id}`)).status).toBe(404);
});

test('storage: create and delete a volume; one in use cannot be deleted', async ({ page, server }) => {
  await page.goto('/storage');
  await page.getByTestId('volume-create-name').fill('scratch');
  await page.getByTestId('volume-create-size').fill('8');
  await page.getByTestId('volume-create-unit').selectOption('MiB');
  await page.getByTestId('volume-create-submit').click();
  await expect(page.getByTestId('volume-row-scratch.qcow2')).toBeVisible();
  // The ISO is used by nobody here, the kernel by ui-edit.
  await expect(page.getByTestId('volume-delete-vmlinuz')).toBeDisabled();
  await page.getByTestId('volume-delete-scratch.qcow2').click();
  await page.getByTestId('confirm-ok').click();
  await expect(page.getByTestId('volume-row-scratch.qcow2')).toHaveCount(0);
  expect(fs.existsSync(path.join(server.dataDir, 'pools', 'default', 'scratch.qcow2'))).toBe(false);
});

test('screenshots: details page, desktop and phone, light and dark', async ({ page }) => {
  for (const [w, h, tag] of [[1280, 800, 'desktop'], [390, 844, 'phone']] as const) {
    await page.setViewportSize({ width: w, height: h });
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto(`/vm?id=${vmId}`);
      await expect(page.getByTestId('overview-argv')).toBeVisible();
      await snap(page, `ui-details-${tag}-${scheme}`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(w);
      await page.getByTestId('hw-item-serial').click();
      await expect(page.getByTestId('serial-output')).toContainText('GUEST');
      await snap(page, `ui-details-serial-${tag}-${scheme}`);
    }
  }
});
