'use client';
/**
 * PLACEHOLDER until the console engineer lands the real one (noVNC + xterm.js).
 * The console engineer owns components/console/ and will overwrite this file; it only exists so
 * that the VM page's Console tab (loaded with next/dynamic, ssr: false) builds in the meantime.
 */
import type { VmView } from '@/lib/schemas';

export default function ConsolePanel({ vm }: { vm: VmView }) {
  return (
    <div className="card p-6 text-sm" data-testid="console-placeholder">
      <p className="font-medium">Console for “{vm.name}”</p>
      <p className="muted mt-1">The graphical and serial console are not available in this build yet.</p>
    </div>
  );
}
