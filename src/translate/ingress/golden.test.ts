// Golden cases: testdata/ingress/<case>/input.yaml → expected.ir.yaml (+ expected.diagnostics.yaml).
// UPDATE_GOLDEN=1 rewrites the expectations; reviewers read the YAML diff.
import { runGoldenCases } from '../../../test/helpers/golden.ts';
import { INGRESS_CONTROLLER_NAME, translateIngresses } from './translate-ingress.ts';

runGoldenCases({
  area: 'ingress',
  baseOptions: {
    ingressClass: 'gatehouse',
    controllerName: INGRESS_CONTROLLER_NAME,
    upstream: 'service',
    httpPort: 8080,
    httpsPort: 8443,
  },
  translate: translateIngresses,
  withStatus: false,
  flowMapMax: 4,
});
