// Configuration changes while traffic flows: routes added, changed and removed with zero failed requests; a
// broken manifest written over a good one leaves the last good configuration serving.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEcho } from '../src/cli/echo.ts';
import { type GatehouseProcess, startGatehouse } from './helpers/gatehouse.ts';
import { ingress, ingressClass, service, toYaml } from './helpers/manifests.ts';
import { httpRequest } from './helpers/net.ts';

const A = { name: 'svc-a', clusterIP: '127.0.40.1', port: 8080, targetPort: 8080, endpoints: [{ ip: '127.0.40.1' }] };
const B = { name: 'svc-b', clusterIP: '127.0.40.2', port: 8080, targetPort: 8080, endpoints: [{ ip: '127.0.40.2' }] };

let dir = '';
let gh: GatehouseProcess;
const echoes: { close(): Promise<void> }[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-reload-'));
  echoes.push(await startEcho({ name: 'a', listen: '127.0.40.1:8080' }));
  echoes.push(await startEcho({ name: 'b', listen: '127.0.40.2:8080' }));
  writeFileSync(join(dir, 'base.yaml'), toYaml([ingressClass(), ...service(A), ...service(B)]));
  writeFileSync(
    join(dir, 'one.yaml'),
    toYaml([ingress({ name: 'one', rules: [{ paths: [{ path: '/a', service: 'svc-a', port: 8080 }] }] })]),
  );
  gh = await startGatehouse({ manifests: dir, args: ['--access-log', 'off'] });
});

after(async () => {
  assert.equal(await gh.stop(), 0);
  await Promise.all(echoes.map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function who(path: string): Promise<string> {
  const res = await httpRequest({ host: '127.0.0.1', port: gh.httpPort, path, headers: { host: 'reload.test' } });
  if (res.status !== 200) return String(res.status);
  return (JSON.parse(res.body.toString('utf8')) as { service: string }).service;
}

async function eventually(path: string, expected: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    last = await who(path);
    if (last === expected) return;
    await sleep(20);
  }
  assert.fail(`${path}: expected ${expected}, still ${last}`);
}

test('routes added, changed and removed under load: zero failed requests', async () => {
  let stop = false;
  const outcomes = new Map<string, number>();
  const loop = async (): Promise<void> => {
    while (!stop) {
      let r: string;
      try {
        r = await who('/a/x');
      } catch (err) {
        r = `error ${(err as Error).message}`;
      }
      outcomes.set(r, (outcomes.get(r) ?? 0) + 1);
    }
  };
  const loops = [loop(), loop(), loop(), loop()];
  await sleep(200);

  writeFileSync(
    join(dir, 'two.yaml'),
    toYaml([ingress({ name: 'two', rules: [{ paths: [{ path: '/b', service: 'svc-b', port: 8080 }] }] })]),
  );
  await eventually('/b', 'b');
  await sleep(200);

  writeFileSync(
    join(dir, 'one.yaml'),
    toYaml([ingress({ name: 'one', rules: [{ paths: [{ path: '/a', service: 'svc-b', port: 8080 }] }] })]),
  );
  await eventually('/a', 'b');
  await sleep(200);

  unlinkSync(join(dir, 'two.yaml'));
  await eventually('/b', '404');
  await sleep(200);

  stop = true;
  await Promise.all(loops);
  const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
  const failed = [...outcomes.entries()].filter(([k]) => k !== 'a' && k !== 'b');
  assert.deepEqual(failed, [], `outcomes: ${JSON.stringify([...outcomes])}`);
  assert.ok(total > 100, `only ${total} requests were sent`);
  assert.ok((outcomes.get('a') ?? 0) > 0 && (outcomes.get('b') ?? 0) > 0);
});

test('a broken manifest leaves the last good configuration serving, and says where the problem is', async () => {
  writeFileSync(
    join(dir, 'one.yaml'),
    toYaml([ingress({ name: 'one', rules: [{ paths: [{ path: '/c', service: 'svc-a', port: 8080 }] }] })]),
  );
  await eventually('/c', 'a');

  writeFileSync(
    join(dir, 'one.yaml'),
    'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: one\n  spec: [\n',
  );
  const parseError = await gh.waitForLog((l) => l['level'] === 50 && JSON.stringify(l).includes('one.yaml'));
  assert.match(JSON.stringify(parseError), /one\.yaml/);
  await sleep(300);
  assert.equal(await who('/c'), 'a');

  const invalid = ingress({ name: 'one', rules: [{ paths: [{ path: '/d', service: 'svc-a', port: 8080 }] }] });
  (
    (invalid['spec'] as { rules: { http: { paths: { pathType: string }[] } }[] }).rules[0]?.http.paths[0] as {
      pathType: string;
    }
  ).pathType = 'Bogus';
  writeFileSync(join(dir, 'one.yaml'), toYaml([invalid]));
  const invalidError = await gh.waitForLog((l) => l['level'] === 50 && JSON.stringify(l).includes('pathType'));
  const text = JSON.stringify(invalidError);
  assert.match(text, /one\.yaml/);
  assert.match(text, /Ingress/);
  assert.match(text, /default\/one/);
  await sleep(300);
  assert.equal(await who('/c'), 'a');
  assert.equal(await who('/d'), '404');

  writeFileSync(
    join(dir, 'one.yaml'),
    toYaml([ingress({ name: 'one', rules: [{ paths: [{ path: '/d', service: 'svc-b', port: 8080 }] }] })]),
  );
  await eventually('/d', 'b');
  assert.equal(await who('/c'), '404');
  const metrics = await gh.admin('/metrics');
  assert.match(metrics.body, /gatehouse_config_reloads_total\{result="success"\} [1-9]/);
});
