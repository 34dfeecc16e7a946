// Golden cases: testdata/ingress/<case>/input.yaml → expected.ir.yaml (+ expected.diagnostics.yaml).
// UPDATE_GOLDEN=1 rewrites the expectations; reviewers read the YAML diff.

import { runGoldenCases } from '../../../test/helpers/golden.ts';
import type { TranslateResult } from '../../ir/types.ts';
import type { Snapshot } from '../../model/snapshot.ts';
import { INGRESS_CONTROLLER_NAME, type IngressTranslateOptions, translateIngresses } from './translate-ingress.ts';

/** Client keys of upstream TLS stay in the input files, as certificate keys do. */
function redactClientKeys(result: TranslateResult): TranslateResult {
  const backends = result.ir.backends.map((b) =>
    b.tls?.clientKeyPem === undefined ? b : { ...b, tls: { ...b.tls, clientKeyPem: '<redacted>' } },
  );
  return { ...result, ir: { ...result.ir, backends } };
}

runGoldenCases({
  area: 'ingress',
  baseOptions: {
    ingressClass: 'gatehouse',
    controllerName: INGRESS_CONTROLLER_NAME,
    upstream: 'service',
    httpPort: 8080,
    httpsPort: 8443,
  },
  translate: (snapshot: Snapshot, options: IngressTranslateOptions) =>
    redactClientKeys(translateIngresses(snapshot, options)),
  withStatus: false,
  flowMapMax: 4,
});
