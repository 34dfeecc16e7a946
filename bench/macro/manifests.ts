// The manifest folder of a macro run: an IngressClass, two Services on their own loopback cluster IPs (both
// served by the one backend process), and an Ingress. Files are replaced atomically (write a dot-file, rename),
// as `kubectl`-style tooling and ConfigMap volumes do, so the watcher never reads half a file.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SERVICE_ADDRESSES = ['127.0.71.1', '127.0.71.2'] as const;
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
