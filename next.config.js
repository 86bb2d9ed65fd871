/**
 * Next.js configuration. The app is served by our own Node server (server/index.ts), which mounts
 * Next's request handler next to the REST API and the websocket upgrade router on one port.
 * `next build` type-checks only the pages' side (tsconfig.next.json: app/, components/, lib/);
 * the server and tests are type-checked by the typecheck stage of `npm test`.
 * @type {import('next').NextConfig}
 */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  typescript: { tsconfigPath: 'tsconfig.next.json' },
};

export default nextConfig;
