// Golden cases: testdata/gatewayapi/<case>/input.yaml → expected.ir.yaml + expected.status.yaml
// (+ expected.diagnostics.yaml). UPDATE_GOLDEN=1 rewrites the expectations; reviewers read the YAML diff.
import { runGoldenCases } from '../../../test/helpers/golden.ts';
import { GATEWAY_CONTROLLER_NAME, translateGatewayAPI } from './translate-gatewayapi.ts';

runGoldenCases({
  area: 'gatewayapi',
  baseOptions: { controllerName: GATEWAY_CONTROLLER_NAME, upstream: 'service' },
  translate: translateGatewayAPI,
  withStatus: true,
  flowMapMax: 5,
});
