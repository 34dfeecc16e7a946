import type { TranslateResult } from '../ir/types.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { translateIngresses } from '../translate/ingress/translate-ingress.ts';

export interface TranslateOptions {
  readonly ingressClass: string;
  readonly upstream: 'service' | 'endpoints';
  readonly httpPort: number;
  readonly httpsPort: number;
}

export const INGRESS_CONTROLLER = 'gatehouse.dev/ingress-controller';

/** Every translator over one snapshot, merged into one IR. */
export function translateAll(snapshot: Snapshot, options: TranslateOptions): TranslateResult {
  return translateIngresses(snapshot, {
    ingressClass: options.ingressClass,
    controllerName: INGRESS_CONTROLLER,
    upstream: options.upstream,
    httpPort: options.httpPort,
    httpsPort: options.httpsPort,
  });
}
