/** Types for scripts/build-server.mjs (imported by the TypeScript test harness). */
export const SERVER_BUNDLE: string;
export const SERVER_ENV: Record<string, string>;
export function serverBundleStale(): boolean;
export function buildServer(): void;
export function ensureServerBundle(opts?: { quiet?: boolean }): boolean;
