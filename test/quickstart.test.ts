// The README's quickstart: `gatehouse quickstart` (what `npm start` runs) serves examples/quickstart with its
// demo backends, and /foo/ and /bar/ reach the Services named in the Ingress; TCP ports 1234 and 1235 reach bar.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeTcpPort } from './helpers/gatehouse.ts';
import { httpRequest } from './helpers/net.ts';

const ROOT = resolve(import.meta.dirname, '..');

test('quickstart: /foo/hello reaches Service foo, /bar/hello reaches bar, Ctrl-C stops everything', async () => {
  const [http, https, admin] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
  const child = spawn(
    resolve(ROOT, 'node_modules/.bin/node'),
    [
      'src/cli/main.ts',
      'quickstart',
      '--http-port',
      String(http),
      '--https-port',
      String(https),
      '--admin-port',
      String(admin),
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const end = Date.now() + 20_000;
    while (!output.includes('gatehouse is serving')) {
      assert.ok(Date.now() < end, output);
      await sleep(50);
    }
    for (const svc of ['foo', 'bar']) {
      const res = await httpRequest({
        host: '127.0.0.1',
        port: http,
        path: `/${svc}/hello`,
        headers: { host: 'localhost' },
      });
      assert.equal(res.status, 200);
      const body = JSON.parse(res.body.toString('utf8')) as { service: string; path: string };
      assert.equal(body.service, svc);
      assert.equal(body.path, `/${svc}/hello`);
    }
    assert.equal(
      (await httpRequest({ host: '127.0.0.1', port: http, path: '/other', headers: { host: 'localhost' } })).status,
      404,
    );
    // Layer 4: TCP port 1234 (TCPRoute) and 1235 (tcp-services map) go straight to bar, whatever the path.
    for (const port of [1234, 1235]) {
      const res = await httpRequest({ host: '127.0.0.1', port, path: '/anything', headers: { host: 'localhost' } });
      assert.equal(res.status, 200, `port ${port}`);
      assert.equal((JSON.parse(res.body.toString('utf8')) as { service: string }).service, 'bar', `port ${port}`);
    }
  } finally {
    child.kill('SIGINT');
  }
  assert.equal(await exited, 0, output);
});
