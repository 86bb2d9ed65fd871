/**
 * Next.js configuration. The app is served by our own Node server (server/index.ts), which mounts
 * Next's request handler next to the REST API and the websocket upgrade router on one port.
 * @type {import('next').NextConfig}
 */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
};

export default nextConfig;
