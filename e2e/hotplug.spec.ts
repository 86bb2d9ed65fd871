/**
 * Click-to-hotplug acceptance (issue 5), in Debian's Chromium against the real server and real
 * QEMU (TCG). One running test guest for the whole file (one disk → vda, one virtio NIC → eth0);
 * every assertion about the hardware is on what the guest itself prints on its serial line
 * (`GUEST-STATE cpus=… mem_kb=… disks=… nics=…`) or on what QEMU reports (GET …/devices):
 * - the vCPU stepper's + adds a vCPU live (1 → 2) and the guest reports cpus=2;
 * - Add Hardware → a new 64 MiB disk on the running VM: the guest lists vdb;
 * - the memory stepper adds a 128 MiB DIMM (headroom shown): the guest's mem_kb grows by it;
 * - Add Hardware → a NIC: the guest lists eth1; Remove unplugs it again; CD-ROM media inserted
 *   from its editor: QEMU has it;
 * - each new device's badge says live, and the page's live region says what happened; a change
 *   made through the API shows on the open page within a second (pushed over /ws/events);
 * - the stepper's − on this QEMU (7.2) is pending with the server's reason, and the VM keeps
 *   running with its 2 vCPUs.
 */
import type { Page } from '@playwright/test';
import { expect, snap, test } from './fixtures';
import { lastGuestState, type GuestState } from '../test/helpers/guest';
import { testVm, type TestServer } from '../test/helpers/server';

test.describe.configure({ mode: 'serial' });

let vmId = '';


/** The guest's latest state line, once it satisfies `pred`. */
async function guestReports(server: TestServer, pred: (g: GuestState) => boolean, timeout = 30_000): Promise<GuestState> {
  let g: GuestState | null = null;
  await expect
    .poll(
      async () => {
        g = lastGuestState(await server.serial(vmId));
        return g !== null && pred(g);
      },
      { timeout, intervals: [200] },
    )
    .toBe(true);
  return g!;
}

/** The page's live region reports `result` for the last change (and it shows within a second of the click's answer). */
async function expectResult(page: Page, result: string, timeout = 15_000) {
  await expect(page.getByTestId('hotplug-result')).toHaveAttribute('data-result', result, { timeout });
}

test.beforeAll(async ({ server }) => {
  test.setTimeout(120_000);
  vmId = (await server.ok('POST', '/api/vms', testVm('hp-ui', { disks: [{ sizeMiB: 32 }] }))).id;
  await server.ok('POST', `/api/vms/${vmId}/start`);
  await server.waitSerial(vmId, 'GUEST-READY', 90_000);
});

test('the vCPU stepper adds a vCPU live, and the guest reports cpus=2', async ({ page, server }) => {
  const before = await guestReports(server, (g) => g.disks.includes('vda'));
  expect(before.cpus).toBe(1);
  expect(before.nics).toEqual(['lo', 'eth0']);

  await page.goto(`/vm?id=${vmId}&tab=cpus`);
  await expect(page.getByTestId('vm-state')).toHaveText('running');
  await expect(page.getByTestId('vcpu-count')).toHaveText('1 of max 4');
  await expect(page.getByTestId('vcpu-dec')).toBeDisabled();
  await expect(page.getByTestId('device-state-cpu0')).toHaveAttribute('data-state', 'live');
  // The controls are labelled for a screen reader.
  await expect(page.getByRole('button', { name: 'Add a vCPU' })).toBeVisible();

  const t0 = Date.now();
  await page.getByRole('button', { name: 'Add a vCPU' }).click();
  await expectResult(page, 'live');
  const shownMs = Date.now() - t0;
  await expect(page.getByTestId('vcpu-count')).toHaveText('2 of max 4');
  await expect(page.getByTestId('device-state-cpu1')).toHaveAttribute('data-state', 'live');
  await expect(page.getByTestId('live-vcpus')).toContainText('2 vCPUs');
  console.log(`vCPU click → result shown: ${shownMs} ms`);

  const g = await guestReports(server, (x) => x.cpus === 2);
  expect(g.cpus).toBe(2);
  expect((await server.ok('GET', `/api/vms/${vmId}`)).vcpus).toBe(2);
});

test('the memory stepper adds a 128 MiB DIMM live, with the headroom shown; the guest sees it', async ({ page, server }) => {
  const before = await guestReports(server, () => true);
  await page.goto(`/vm?id=${vmId}&tab=memory`);
  await expect(page.getByTestId('mem-size')).toHaveText('256 MiB of max 1 GiB');
  await expect(page.getByTestId('mem-headroom')).toContainText('Headroom 768 MiB (6 × 128 MiB)');
  await page.getByRole('button', { name: 'Add 128 MiB' }).click();
  await expectResult(page, 'live');
  await expect(page.getByTestId('mem-size')).toHaveText('384 MiB of max 1 GiB');
  await expect(page.getByTestId('mem-headroom')).toContainText('Headroom 640 MiB (5 × 128 MiB)');
  await expect(page.getByTestId('device-state-dimm0')).toHaveAttribute('data-state', 'live');
  const g = await guestReports(server, (x) => x.memKb - before.memKb > 120_000);
  expect(g.memKb - before.memKb).toBeLessThanOrEqual(131_072);
  await snap(page, 'hotplug-memory-live');
});

test('Add Hardware → a new 64 MiB disk on the running VM: the guest lists vdb', async ({ page, server }) => {
  await page.goto(`/vm?id=${vmId}`);
  await page.getByTestId('add-hardware').click();
  const dialog = page.getByTestId('add-hardware-dialog');
  await expect(dialog).toBeVisible();
  await page.getByTestId('add-kind-disk').check({ force: true });
  await expect(page.getByTestId('add-hardware-live-hint')).toContainText('plugged in now');
  await page.getByTestId('add-disk-source-new').check();
  await page.getByTestId('add-disk-size').fill('64');
  await page.getByTestId('add-disk-unit').selectOption('MiB');
  await page.getByTestId('add-disk-bus').selectOption('virtio');
  await page.getByTestId('add-hardware-submit').click();

  await expect(dialog).toBeHidden({ timeout: 30_000 });
  await expect(page.getByTestId('editor-disk-disk1')).toBeVisible();
  await expectResult(page, 'live');
  await expect(page.getByTestId('hotplug-result')).toContainText('Add disk disk1');
  await expect(page.getByTestId('device-state-disk1')).toHaveAttribute('data-state', 'live');
  await expect(page.getByTestId('device-state-disk1')).toHaveText(/live/);
  await expect(page.getByTestId('hw-pending-disk-disk1')).toHaveCount(0);

  await snap(page, 'hotplug-disk-added');

  const g = await guestReports(server, (x) => x.disks.includes('vdb'));
  expect(g.disks).toEqual(['vda', 'vdb']);
});

test('Add Hardware → a NIC: the guest lists eth1, Remove unplugs it; CD-ROM media inserted from its editor is in QEMU', async ({ page, server }) => {
  await page.goto(`/vm?id=${vmId}`);
  await page.getByTestId('add-hardware').click();
  await page.getByTestId('add-kind-nic').check({ force: true });
  await expect(page.getByTestId('add-nic-model')).toHaveValue('virtio');
  await page.getByTestId('add-hardware-submit').click();
  await expect(page.getByTestId('add-hardware-dialog')).toBeHidden({ timeout: 30_000 });
  await expect(page.getByTestId('editor-nic-nic1')).toBeVisible();
  await expectResult(page, 'live');
  await expect(page.getByTestId('device-state-nic1')).toHaveAttribute('data-state', 'live');
  const g = await guestReports(server, (x) => x.nics.includes('eth1'));
  expect(g.nics).toEqual(['lo', 'eth0', 'eth1']);

  // Remove asks first, then unplugs it from the running VM.
  await page.getByTestId('remove-hardware').click();
  await page.getByTestId('confirm-ok').click();
  await expect(page.getByTestId('confirm-dialog')).toBeHidden({ timeout: 15_000 });
  await expect(page.getByTestId('hotplug-result')).toContainText('Remove network interface nic1');
  await expectResult(page, 'live');
  await expect(page.getByTestId('hw-item-nic-nic1')).toHaveCount(0);
  await guestReports(server, (x) => !x.nics.includes('eth1'));

  // CD-ROM: pick the media, the button says Insert; QEMU's own block list then has it.
  await page.getByTestId('hw-item-cdrom').click();
  await expect(page.getByTestId('hotplug-result')).toHaveAttribute('data-result', '');
  await page.getByTestId('field-cdrom').selectOption('default/guest.iso');
  await expect(page.getByTestId('editor-save')).toHaveText('Insert');
  await page.getByTestId('editor-save').click();
  await expectResult(page, 'live');
  await expect(page.getByTestId('device-state-cd0')).toHaveAttribute('data-state', 'live');
  const inv = await server.ok('GET', `/api/vms/${vmId}/devices`);
  const cd = inv.block.find((b: { qdev: string | null }) => /(^|\/)cd0(\/|$)/.test(b.qdev ?? ''));
  expect(cd?.inserted?.file).toMatch(/guest\.iso$/);

  // A change made elsewhere (here: the API) reaches the open page over /ws/events within a second.
  const t0 = Date.now();
  await server.ok('PUT', `/api/vms/${vmId}/cdrom`, { volume: null });
  await expect(page.getByTestId('hw-item-cdrom')).toContainText('empty', { timeout: 1_000 });
  await expect(page.getByTestId('editor-save')).toHaveText('Eject');
  console.log(`eject by API → page shows it: ${Date.now() - t0} ms`);
});

test('reducing vCPUs on this QEMU is pending with its reason, and the VM keeps running', async ({ page, server }) => {
  await page.goto(`/vm?id=${vmId}&tab=cpus`);
  await expect(page.getByTestId('vcpu-count')).toHaveText('2 of max 4');
  await expect(page.getByTestId('vcpu-hint')).toContainText('saved for the next boot');
  await page.getByRole('button', { name: 'Remove a vCPU' }).click();

  await expectResult(page, 'pending');
  await expect(page.getByTestId('hotplug-reason')).toContainText(/QEMU 7\.2/);
  await expect(page.getByTestId('vcpu-count')).toHaveText('1 of max 4');
  await expect(page.getByTestId('vcpu-next-boot')).toHaveText('at next boot; running now: 2');
  await expect(page.getByTestId('pending-vcpus')).toHaveText('applies at next boot');
  await expect(page.getByTestId('hw-pending-cpus')).toBeVisible();
  await expect(page.getByTestId('device-state-cpu1')).toHaveAttribute('data-state', 'pending');
  await expect(page.getByTestId('device-state-cpu1')).toContainText('removed at next boot');
  await expect(page.getByTestId('live-vcpus')).toContainText('2 vCPUs');
  await snap(page, 'hotplug-cpus-pending');

  // Still running, still 2 vCPUs as the guest sees it; the config says 1 for the next boot.
  const vm = await server.ok('GET', `/api/vms/${vmId}`);
  expect(vm.state).toBe('running');
  expect(vm.vcpus).toBe(1);
  expect(vm.live.vcpus).toBe(2);
  expect(vm.pending.find((p: { field: string }) => p.field === 'vcpus')?.reason).toMatch(/next boot/);
  const g = lastGuestState(await server.serial(vmId));
  expect(g?.cpus).toBe(2);
  await expect(page.getByTestId('vm-state')).toHaveText('running');

  // The disk editor with its live badge, for a human to look at.
  await page.getByTestId('hw-item-disk-disk1').click();
  await expect(page.getByTestId('device-state-disk1')).toHaveAttribute('data-state', 'live');
  await snap(page, 'hotplug-disk-live');

  // The steppers fit a phone.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`/vm?id=${vmId}&tab=cpus`);
  await expect(page.getByTestId('vcpu-next-boot')).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await snap(page, 'hotplug-cpus-phone');
});
