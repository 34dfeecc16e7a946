// The manifest folder of a macro run: an IngressClass, two Services on their own loopback cluster IPs (both
// served by the one backend process), and an Ingress. Files are replaced atomically (write a dot-file, rename),
// as `kubectl`-style tooling and ConfigMap volumes do, so the watcher never reads half a file.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostIngressYaml, ingressBaseManifest, type ServiceTargets } from '../micro/fixtures.ts';

export const SERVICE_ADDRESSES = ['127.0.71.1', '127.0.71.2'] as const;
/**
 * The cluster IP of `svc-changed`, the Service of paths the change scenarios add. The backend listens here too and
 * answers `/changed/...` with 200 only on this address, so a poll knows the new route serves (every host's `/`
 * Prefix would also forward the path, to another address).
 */
export const CHANGED_ADDRESS = '127.0.71.3';
/** Every address the backend listens on. */
export const BACKEND_ADDRESSES = [...SERVICE_ADDRESSES, CHANGED_ADDRESS] as const;
const SERVICE_NAMES = ['backend-a', 'backend-b'] as const;
const INGRESS_FILE = '30-ingress.yaml';

function writeAtomically(dir: string, name: string, text: string): void {
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, join(dir, name));
}

function servicesYaml(port: number): string {
  return SERVICE_NAMES.map(
    (name, i) => `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec:
  clusterIP: ${SERVICE_ADDRESSES[i]}
  ports: [{ name: http, port: ${port}, targetPort: ${port} }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-bench
  namespace: default
  labels: { kubernetes.io/service-name: ${name} }
addressType: IPv4
endpoints: [{ addresses: ["${SERVICE_ADDRESSES[i]}"], conditions: { ready: true } }]
ports: [{ name: http, port: ${port}, protocol: TCP }]
`,
  ).join('---\n');
}

/**
 * Version `v` of the Ingress: `/` (Prefix) goes to backend-a on even versions and backend-b on odd ones, so every
 * change also retires one upstream pool; `/v/<v>` (Exact) exists only in this version.
 */
export function ingressYaml(version: number): string {
  const service = SERVICE_NAMES[version % 2];
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: bench, namespace: default }
spec:
  ingressClassName: gatehouse
  rules:
    - http:
        paths:
          - { path: /, pathType: Prefix, backend: { service: { name: ${service}, port: { name: http } } } }
          - { path: /v/${version}, pathType: Exact, backend: { service: { name: ${service}, port: { name: http } } } }
`;
}

export function writeManifests(dir: string, backendPort: number): void {
  writeAtomically(
    dir,
    '00-ingressclass.yaml',
    `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: { name: gatehouse }
spec: { controller: gatehouse.dev/ingress-controller }
`,
  );
  writeAtomically(dir, '10-services.yaml', servicesYaml(backendPort));
  writeAtomically(dir, INGRESS_FILE, ingressYaml(0));
}

export function rewriteIngress(dir: string, version: number): void {
  writeAtomically(dir, INGRESS_FILE, ingressYaml(version));
}

/**
 * The Services of the scale fixtures sent to the benchmark backend: they alternate between its two addresses, so a
 * run at 10,000 routes uses the same two upstream pools as one at 10 and only the route table differs.
 */
export function backendTargets(port: number): ServiceTargets {
  return {
    address: (s) => SERVICE_ADDRESSES[s % SERVICE_ADDRESSES.length] as string,
    servicePort: port,
    targetPort: port,
  };
}

/** A folder of `hosts` × 10 Ingress paths, in `files` files: one `routes.yaml` with everything, or a base + parts. */
export class ScaleFolder {
  readonly dir: string;
  readonly hosts: number;
  readonly files: number;
  readonly #targets: ServiceTargets;
  /** Paths added to a host's Ingress so far, by host. */
  readonly #extra = new Map<number, string[]>();

  constructor(dir: string, hosts: number, files: number, targets: ServiceTargets) {
    this.dir = dir;
    this.hosts = hosts;
    this.files = Math.max(1, Math.min(files, hosts));
    this.#targets = targets;
  }

  write(): void {
    if (this.files === 1) {
      writeAtomically(this.dir, 'routes.yaml', this.#part(0));
      return;
    }
    writeAtomically(this.dir, '00-base.yaml', this.#base());
    for (let f = 0; f < this.files; f++) writeAtomically(this.dir, this.#fileName(f), this.#part(f));
  }

  /** Adds an Exact path to host `h`'s Ingress and rewrites (atomically) the one file that holds it. */
  addPath(h: number, path: string): void {
    const list = this.#extra.get(h);
    if (list === undefined) this.#extra.set(h, [path]);
    else list.push(path);
    const f = this.#fileOf(h);
    writeAtomically(this.dir, this.files === 1 ? 'routes.yaml' : this.#fileName(f), this.#part(f));
  }

  #base(): string {
    const port = this.#targets.servicePort;
    return `${ingressBaseManifest(this.#targets)}---
apiVersion: v1
kind: Service
metadata: { name: svc-changed, namespace: bench }
spec:
  clusterIP: ${CHANGED_ADDRESS}
  ports: [{ name: http, port: ${port}, targetPort: ${port} }]
`;
  }

  #fileName(f: number): string {
    return `ingress-${String(f).padStart(4, '0')}.yaml`;
  }

  #fileOf(h: number): number {
    return Math.floor((h * this.files) / this.hosts);
  }

  #part(f: number): string {
    const docs: string[] = this.files === 1 ? [this.#base()] : [];
    for (let h = 0; h < this.hosts; h++) {
      if (this.#fileOf(h) === f)
        docs.push(hostIngressYaml(h, undefined, this.#extra.get(h), this.#targets.servicePort));
    }
    return docs.join('---\n');
  }
}
