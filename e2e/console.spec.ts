/**
 * Console acceptance (issue 4) in Debian's Chromium against the real server, real QEMU and the test
 * guest, which runs a root shell on tty1 (the VGA console) and another on ttyS0.
 *
 * - the noVNC canvas shows the guest screen: its pixels match a QMP screendump taken right after, and
 *   are not blank;
 * - keys typed into the canvas reach the guest's tty1 shell, proven by what the guest writes to its own
 *   serial port (`echo … > /dev/ttyS0`); the same through "paste as keystrokes";
 * - toolbar: view-only blocks input, Ctrl+Alt+F2/F1 switch the guest's VT, screenshot, pop-out;
 * - the serial console (xterm.js) runs a command and shows the answer; after a reload the history is
 *   still there;
 * - reboot (ACPI shutdown + a new QEMU) and reset: the console comes back by itself and still types;
 * - a reused, an expired, another VM's ticket, and a foreign Origin are refused.
 * One guest boot for the file (TCG is slow); the tests run in order.
 */
import WebSocket from 'ws';
import type { Page } from '@playwright/test';
import { expect, snap, test } from './fixtures';
import { testVm } from '../test/helpers/server';
import { strokeForChar } from '../components/console/keys';

test.describe.configure({ mode: 'serial' });

let vmId = '';
let otherVmId = '';

test.beforeAll(async ({ server }) => {
  const vm = await server.ok('POST', '/api/vms', testVm('console-e2e'));
  vmId = vm.id;
  otherVmId = (await server.ok('POST', '/api/vms', testVm('console-other'))).id;
  await server.ok('POST', `/api/vms/${vmId}/start`);
  await server.waitSerial(vmId, 'GUEST-READY', 120_000);
});

test.afterEach(async ({ server }, testInfo) => {
  // A failing console test is often explained by the server's side of the story.
  if (testInfo.status !== testInfo.expectedStatus) await testInfo.attach('server-output', { body: server.output.slice(-8000), contentType: 'text/plain' });
});

async function openConsole(page: Page) {
  await page.goto(`/vm?id=${vmId}&tab=console`);
  await expect(page.getByTestId('vnc-status')).toHaveText('connected', { timeout: 30_000 });
}

/** Canvas pixels vs a screendump, compared in the page: fraction of differing pixels, and whether it is blank. */
async function compareWithScreendump(page: Page, png: Buffer) {
  return page.evaluate(async (b64) => {
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="vnc-screen"] canvas')!;
    const live = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const bmp = await createImageBitmap(new Blob([bytes], { type: 'image/png' }));
    const off = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = off.getContext('2d')!;
    ctx.drawImage(bmp, 0, 0);
    const ref = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
    if (bmp.width !== canvas.width || bmp.height !== canvas.height) {
      return { sameSize: false, size: `${canvas.width}x${canvas.height} vs ${bmp.width}x${bmp.height}`, diff: 1, litPixels: 0 };
    }
    let diff = 0;
    let lit = 0;
    for (let i = 0; i < ref.length; i += 4) {
      const d = Math.abs(ref[i] - live[i]) + Math.abs(ref[i + 1] - live[i + 1]) + Math.abs(ref[i + 2] - live[i + 2]);
      if (d > 24) diff++;
      if (live[i] + live[i + 1] + live[i + 2] > 120) lit++;
    }
    return { sameSize: true, size: `${bmp.width}x${bmp.height}`, diff: diff / (ref.length / 4), litPixels: lit };
  }, png.toString('base64'));
}

async function screendump(server: { url: string; cookie: string }): Promise<Buffer> {
  const res = await fetch(`${server.url}/api/vms/${vmId}/screenshot`, { headers: { cookie: server.cookie } });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/**
 * Type like a person on a US keyboard: physical keys, holding Shift for capitals and symbols.
 * (keyboard.type('V') would send KeyV without Shift, and with QEMU's scancode-based extended key
 * events the guest would rightly see 'v'.) Paced, because a TCG guest's PS/2 queue drops bursts.
 */
async function typeIntoCanvas(page: Page, text: string) {
  await page.getByTestId('vnc-screen').locator('canvas').click(); // noVNC takes keyboard focus on click
  for (const ch of text) {
    const k = strokeForChar(ch);
    if (!k.code) throw new Error(`no US key for ${ch}`);
    if (k.shift) await page.keyboard.down('Shift');
    await page.keyboard.press(k.code, { delay: 10 });
    if (k.shift) await page.keyboard.up('Shift');
    await page.waitForTimeout(25);
  }
  await page.keyboard.press('Enter');
}

test('the canvas shows the guest screen: pixels match a QMP screendump and are not blank', async ({ page, server }) => {
  await openConsole(page);
  // A still screen with known text: the comparison must not race scrolling boot messages.
  await typeIntoCanvas(page, 'clear; echo ==== CONSOLE PIXEL CHECK ====');
  let last: Awaited<ReturnType<typeof compareWithScreendump>> | null = null;
  for (let i = 0; i < 20; i++) {
    await page.waitForTimeout(500);
    last = await compareWithScreendump(page, await screendump(server));
    if (last.sameSize && last.diff < 0.01 && last.litPixels > 500) break;
  }
  await snap(page, 'console-vnc');
  expect(last!.sameSize, last!.size).toBe(true);
  expect(last!.diff, `differing pixels (${last!.size})`).toBeLessThan(0.01); // a blinking cursor is allowed
  expect(last!.litPixels, 'the screen is not blank').toBeGreaterThan(500); // the echoed line at least
});

test('keys typed into noVNC reach the guest shell on tty1', async ({ page, server }) => {
  await openConsole(page);
  await typeIntoCanvas(page, 'echo VNC-KEYS-OK-typed > /dev/ttyS0');
  await server.waitSerial(vmId, 'VNC-KEYS-OK-typed', 30_000);
});

test('paste as keystrokes types the text into the guest', async ({ page, server }) => {
  await openConsole(page);
  await page.getByTestId('vnc-paste').click();
  await page.getByTestId('vnc-paste-text').fill('echo VNC-KEYS-OK-pasted > /dev/ttyS0\n');
  await page.getByTestId('vnc-paste-send').click();
  await expect(page.getByTestId('vnc-paste-dialog')).not.toBeVisible({ timeout: 30_000 });
  await server.waitSerial(vmId, 'VNC-KEYS-OK-pasted', 30_000);
});

test('toolbar: view-only blocks input, send-keys switches VTs, screenshot downloads, pop-out connects', async ({ page, server }) => {
  await openConsole(page);
  // View-only: nothing typed reaches the guest.
  await page.getByTestId('vnc-viewonly').check();
  await typeIntoCanvas(page, 'echo VIEWONLY-LEAK > /dev/ttyS0');
  await page.getByTestId('vnc-viewonly').uncheck();
  // Ctrl+Alt+F2 moves the guest to tty2 (no shell there): typing does nothing; Ctrl+Alt+F1 comes back.
  // Linux refuses to switch to a VT nobody has opened yet, so open tty2 once from the tty1 shell.
  await typeIntoCanvas(page, 'echo THIS IS TTY2 > /dev/tty2');
  await page.getByTestId('vnc-sendkeys').locator('summary').click();
  await page.getByTestId('vnc-sendkey-ctrl-alt-f2').click();
  await page.waitForTimeout(500);
  await typeIntoCanvas(page, 'echo ON-TTY2 > /dev/ttyS0');
  await page.getByTestId('vnc-sendkeys').locator('summary').click();
  await page.getByTestId('vnc-sendkey-ctrl-alt-f1').click();
  await page.waitForTimeout(500);
  await typeIntoCanvas(page, 'echo BACK-ON-TTY1 > /dev/ttyS0');
  const out = await server.waitSerial(vmId, 'BACK-ON-TTY1', 30_000);
  expect(out).not.toContain('VIEWONLY-LEAK');
  expect(out).not.toContain('ON-TTY2');

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('vnc-screenshot').click()]);
  expect(download.suggestedFilename()).toMatch(/^console-e2e-\d{8}-\d{6}\.png$/);

  const [popup] = await Promise.all([page.waitForEvent('popup'), page.getByTestId('vnc-popout').click()]);
  await expect(popup.getByTestId('vnc-status')).toHaveText('connected', { timeout: 30_000 });
  await expect(popup.getByTestId('vnc-screen').locator('canvas')).toBeVisible();
  await snap(popup, 'console-popout');
  await popup.close();
});

test('serial console: a command and its answer, and the history survives a reload', async ({ page }) => {
  const openSerial = async () => {
    await page.goto(`/vm?id=${vmId}&tab=console`);
    await page.getByTestId('console-tab-serial').click();
    await expect(page.getByTestId('serial-status')).toHaveText('connected', { timeout: 30_000 });
  };
  await openSerial();
  const term = page.getByTestId('serial-terminal');
  await term.click();
  await page.keyboard.type('echo SERIAL-ANSWER-$((6*7))', { delay: 20 });
  await page.keyboard.press('Enter');
  await expect(term.locator('.xterm-rows')).toContainText('SERIAL-ANSWER-42', { timeout: 20_000 });
  await snap(page, 'console-serial');
  await page.reload();
  await openSerial();
  await expect(term.locator('.xterm-rows')).toContainText('SERIAL-ANSWER-42', { timeout: 20_000 });
});

test('reboot and reset: the console reconnects by itself and still types', async ({ page, server }) => {
  await openConsole(page);
  const readyCount = async () => ((await server.serial(vmId, 256 * 1024)).match(/GUEST-READY/g) ?? []).length;
  const before = await readyCount();

  // Reboot here is an ACPI shutdown followed by a new QEMU process: the VNC socket goes away.
  await server.ok('POST', `/api/vms/${vmId}/reboot`);
  await expect(page.getByTestId('vnc-status')).not.toHaveText('connected', { timeout: 60_000 });
  await expect.poll(readyCount, { timeout: 120_000 }).toBeGreaterThan(before);
  await expect(page.getByTestId('vnc-status')).toHaveText('connected', { timeout: 30_000 });
  await typeIntoCanvas(page, 'echo VNC-AFTER-REBOOT > /dev/ttyS0');
  await server.waitSerial(vmId, 'VNC-AFTER-REBOOT', 30_000);

  // Reset keeps QEMU (and the VNC connection); the guest boots again under the same console.
  const beforeReset = await readyCount();
  await server.ok('POST', `/api/vms/${vmId}/reset`);
  await expect.poll(readyCount, { timeout: 120_000 }).toBeGreaterThan(beforeReset);
  await expect(page.getByTestId('vnc-status')).toHaveText('connected', { timeout: 30_000 });
  await typeIntoCanvas(page, 'echo VNC-AFTER-RESET > /dev/ttyS0');
  await server.waitSerial(vmId, 'VNC-AFTER-RESET', 30_000);
});

/** Try a websocket upgrade from Node; resolves with the HTTP status (101 when it opened). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'], { headers });
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', (e) => (e.message.includes('Unexpected server response') ? undefined : reject(e)));
  });
}

test('reused, expired and other-VM tickets and a foreign Origin are refused', async ({ server }) => {
  test.setTimeout(120_000);
  const ws = server.url.replace(/^http/, 'ws');
  const headers = { cookie: server.cookie, origin: server.origin };
  const ticket = async () => (await server.ok('POST', `/api/vms/${vmId}/console`, { kind: 'vnc' })) as { url: string; ticket: string };

  const t1 = await ticket();
  expect(await upgradeStatus(`${ws}${t1.url}`, headers)).toBe(101);
  expect(await upgradeStatus(`${ws}${t1.url}`, headers), 'reused').toBe(403);

  const t2 = await ticket();
  expect(await upgradeStatus(`${ws}/ws/vnc/${otherVmId}?ticket=${t2.ticket}`, headers), 'another VM').toBe(403);
  expect(await upgradeStatus(`${ws}${t2.url}`, headers), 'a ticket shown for the wrong VM is burnt').toBe(403);

  const t3 = await ticket();
  expect(await upgradeStatus(`${ws}${t3.url}`, { ...headers, origin: 'http://evil.example' }), 'foreign Origin').toBe(403);

  const serialTicket = (await server.ok('POST', `/api/vms/${vmId}/console`, { kind: 'serial' })) as { ticket: string };
  expect(await upgradeStatus(`${ws}/ws/vnc/${vmId}?ticket=${serialTicket.ticket}`, headers), 'serial ticket on VNC').toBe(403);

  const t4 = await ticket();
  await new Promise((r) => setTimeout(r, 31_000));
  expect(await upgradeStatus(`${ws}${t4.url}`, headers), 'expired').toBe(403);
});

test('a VM that is not running shows a placeholder with a Start button', async ({ page }) => {
  await page.goto(`/vm?id=${otherVmId}&tab=console`);
  await expect(page.getByTestId('console-not-running')).toBeVisible();
  await expect(page.getByTestId('console-start')).toBeEnabled();
  await expect(page.getByTestId('vnc-screen')).toHaveCount(0);
});
