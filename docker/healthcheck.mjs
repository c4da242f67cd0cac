// Container health probe: GET /healthz on the local HTTPS listener, exit 0 when it answers 200.
// The server certificate names the public host, not the loopback address, and the probe sends
// nothing secret, so it alone does not verify the certificate.
import https from 'node:https';

const port = Number(process.env.PORT || 8443);
const req = https.get({ host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, timeout: 4_000 }, (res) => {
  res.resume();
  process.exitCode = res.statusCode === 200 ? 0 : 1;
});
req.on('timeout', () => req.destroy(new Error('timed out')));
req.on('error', () => { process.exitCode = 1; });
