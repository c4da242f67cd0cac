import type { Server } from 'node:https';

/**
 * Starts a baseline server on a free loopback port, tells the bench which port on stdout (one
 * JSON line), and closes it on SIGTERM after its in-flight requests.
 */
export function listenAndAnnounce(server: Server): void {
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no TCP address');
    process.stdout.write(`${JSON.stringify({ listening: address.port })}\n`);
  });
  process.once('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  });
}
