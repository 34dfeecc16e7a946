// One GRPCRoute → IR routes. A gRPC call is an HTTP/2 POST to `/<service>/<method>`, so a method match becomes a
// path match (always with method POST) and everything else (headers, filters, backends, weights) is the HTTPRoute
// code in routes.ts. Every backend of a GRPCRoute is reached over HTTP/2.
import type { Diagnostic, PathMatch, RouteMatch, SourceRef } from '../../ir/types.ts';
import { grpcMethodRe, grpcServiceRe } from '../../model/decode-gatewayapi.ts';
import type { GRPCMethodMatch, GRPCRoute } from '../../model/objects.ts';
import {
  type BackendContext,
  type BuiltMatch,
  type BuiltRoute,
  finishBuilt,
  type GRPCPrecedence,
  headerMatchesOf,
  newCtx,
  problem,
  ruleAction,
  validRegex,
} from './routes.ts';

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|]/g;

/** `s` as a regular expression that matches exactly `s`. */
export function escapeRegex(s: string): string {
  return s.replace(REGEX_SPECIAL, '\\$&');
}

/** What stands for a missing service or method: one path segment. */
const ANY_SEGMENT = '[^/]+';

const MATCH_ALL: { path: PathMatch; precedence: GRPCPrecedence } = {
  path: { kind: 'Prefix', value: '/' },
  precedence: { type: 2, serviceLength: 0, methodLength: 0 },
};

/**
 * The IR path match for a method match, and its place in precedence; or why it cannot be served.
 *
 * | match | path |
 * | --- | --- |
 * | none | Prefix `/` |
 * | Exact service and method | Exact `/S/M` |
 * | Exact service | Prefix `/S` |
 * | Exact method | RegularExpression `/[^/]+/M` |
 * | RegularExpression | RegularExpression `/(?:S)/(?:M)`, `[^/]+` for a missing part |
 */
export function methodPathOf(m: GRPCMethodMatch | undefined): { path: PathMatch; precedence: GRPCPrecedence } | string {
  if (m === undefined) return MATCH_ALL;
  const service = m.service ?? '';
  const method = m.method ?? '';
  if (service === '' && method === '') return 'method match names neither a service nor a method';
  const precedence: GRPCPrecedence = {
    type: m.type === 'Exact' ? 0 : 1,
    serviceLength: service.length,
    methodLength: method.length,
  };
  if (m.type === 'Exact') {
    // Decoders check these already; typed objects built elsewhere may not have been.
    if (service !== '' && !grpcServiceRe.test(service)) return `service "${service}" is not a gRPC service name`;
    if (method !== '' && !grpcMethodRe.test(method)) return `method "${method}" is not a gRPC method name`;
    if (method === '') return { path: { kind: 'Prefix', value: `/${service}` }, precedence };
    if (service === '') {
      return { path: { kind: 'RegularExpression', value: `/${ANY_SEGMENT}/${escapeRegex(method)}` }, precedence };
    }
    return { path: { kind: 'Exact', value: `/${service}/${method}` }, precedence };
  }
  // Each part must compile on its own, so wrapping it in a group cannot change what the other part means.
  if (service !== '' && !validRegex(service)) return `service regular expression "${service}" is not valid`;
  if (method !== '' && !validRegex(method)) return `method regular expression "${method}" is not valid`;
  const value = `/${service === '' ? ANY_SEGMENT : `(?:${service})`}/${method === '' ? ANY_SEGMENT : `(?:${method})`}`;
  if (!validRegex(value)) return `regular expression "${value}" made of service and method is not valid`;
  return { path: { kind: 'RegularExpression', value }, precedence };
}

/**
 * GRPCRoute precedence between two matches, after the host: Exact method matches before regular expressions
 * before none; then the longer service, then the longer method (for regular expressions, the expression's
 * length). The caller continues with header counts and route age.
 */
export function compareGRPCPrecedence(a: GRPCPrecedence, b: GRPCPrecedence): number {
  return a.type - b.type || b.serviceLength - a.serviceLength || b.methodLength - a.methodLength;
}

export function buildGRPCRoute(
  bc: BackendContext,
  route: GRPCRoute,
  source: SourceRef,
  diagnostics: Diagnostic[],
): BuiltRoute {
  const ctx = newCtx(bc, route, source, diagnostics);
  const { namespace, name } = route.metadata;
  const matches: BuiltMatch[] = [];
  const invalidRules: string[] = [];
  route.spec.rules.forEach((rule, i) => {
    const irMatches: { match: RouteMatch; grpc: GRPCPrecedence }[] = [];
    const leaveOut = (j: number, why: string): void => {
      const message = `spec.rules[${i}].matches[${j}]: ${why}; rule ignored`;
      problem(ctx, 'error', message);
      invalidRules.push(message);
    };
    // A rule without matches matches every call.
    const written = rule.matches.length === 0 ? [{ headers: [] }] : rule.matches;
    for (const [j, m] of written.entries()) {
      const methodPath = methodPathOf(m.method);
      if (typeof methodPath === 'string') {
        leaveOut(j, methodPath);
        return;
      }
      const headers = headerMatchesOf(m.headers);
      if (typeof headers === 'string') {
        leaveOut(j, headers);
        return;
      }
      irMatches.push({
        match: { path: methodPath.path, headers, queryParams: [], method: 'POST' },
        grpc: methodPath.precedence,
      });
    }
    const { action, filters } = ruleAction(ctx, rule, i);
    irMatches.forEach(({ match, grpc }, j) => {
      matches.push({
        ruleIndex: i,
        matchIndex: j,
        grpc,
        route: {
          name: `grpcroute/${namespace}/${name}/rule/${i}/match/${j}`,
          source,
          match,
          action,
          ...(filters !== undefined ? { filters } : {}),
        },
      });
    });
  });
  return finishBuilt(ctx, matches, invalidRules, route.spec.rules.length);
}
