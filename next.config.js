/**
 * Next.js configuration. The pages are a static export (`out/`): every page is prerendered HTML plus
 * client JavaScript that fetches its data from the REST API. Our own Node server (server/index.ts)
 * serves `out/` next to the API and the websockets on one port (server/http/pages.ts), so no
 * Next.js runtime lives in the server process (it would cost ~120 MiB of RSS). `--dev` still runs
 * `next dev` in-process for hot reload.
 * `next build` type-checks only the pages' side (tsconfig.next.json: app/, components/, lib/);
 * the server and tests are type-checked by the typecheck stage of `npm test`.
 * @type {import('next').NextConfig}
 */
const nextConfig = {
  output: 'export',
  reactStrictMode: true,
  poweredByHeader: false,
  typescript: { tsconfigPath: 'tsconfig.next.json' },
};

export default nextConfig;
