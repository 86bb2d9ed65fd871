/** Accelerator choice for every host shape: KVM only with kvm_intel/kvm_amd; kvm_pvm means TCG. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseAccel } from '../../server/qemu/host';

test('kvm_intel with a usable /dev/kvm chooses kvm', () => {
  const a = chooseAccel({ modules: ['kvm', 'kvm_intel'], kvmUsable: true }, null);
  assert.equal(a.chosen, 'kvm');
  assert.equal(a.emulated, false);
});

test('kvm_amd with a usable /dev/kvm chooses kvm', () => {
  assert.equal(chooseAccel({ modules: ['kvm', 'kvm_amd'], kvmUsable: true }, null).chosen, 'kvm');
});

test('kvm_pvm (this test machine) falls back to TCG and says why', () => {
  const a = chooseAccel({ modules: ['kvm', 'kvm_pvm'], kvmUsable: true }, null);
  assert.equal(a.chosen, 'tcg');
  assert.equal(a.emulated, true);
  assert.match(a.reason, /kvm_pvm/);
});

test('no /dev/kvm access means TCG', () => {
  const a = chooseAccel({ modules: ['kvm_intel'], kvmUsable: false }, null);
  assert.equal(a.chosen, 'tcg');
  assert.match(a.reason, /\/dev\/kvm/);
});

test('VMM_ACCEL overrides both ways', () => {
  assert.equal(chooseAccel({ modules: ['kvm_intel'], kvmUsable: true }, 'tcg').chosen, 'tcg');
  assert.equal(chooseAccel({ modules: [], kvmUsable: false }, 'kvm').chosen, 'kvm');
});
