/*
 * Type-level checks of the client's types (checked by `npm run typecheck` at the repository
 * root, which maps the package to its source; nothing here runs). A line marked
 * `@ts-expect-error` must not compile: if it starts compiling, tsc reports the marker unused.
 */
import { expectTypeOf } from 'vitest';
import {
  accountabilityHeaders,
  createGatewayClient,
  type components,
  type ErrorCode,
  type GatewayClient,
  type paths,
  type Problem,
} from '@lienthong/client';

type DossierState = components['schemas']['DossierState'];
type CitizenVerification = components['schemas']['CitizenVerification'];
const base = { baseUrl: 'http://127.0.0.1:8080', apiKey: 'sandbox-agency-key' } as const;
const dossierCode = 'H52.101.114-261127-0001';

export async function accountableClient(): Promise<void> {
  const gateway = createGatewayClient({ ...base, userId: 'officer-17', purpose: 'XAC_MINH_DANH_TINH' });
  expectTypeOf(gateway).toEqualTypeOf<GatewayClient<'X-User-Id' | 'X-Purpose'>>();

  // Personal-data operations need no per-call headers: the client sends them.
  const dossier = await gateway.GET('/v1/dossiers/{dossierCode}', { params: { path: { dossierCode } } });
  expectTypeOf(dossier.data).not.toBeAny();
  expectTypeOf(dossier.data).toExtend<DossierState | undefined>();
  expectTypeOf(dossier.error).exclude<undefined>().toHaveProperty('code').toEqualTypeOf<ErrorCode>();
  expectTypeOf(dossier.error).toExtend<Problem | undefined>();

  const verified = await gateway.POST('/v1/citizens/verify', {
    body: { idNumber: '014089001234', fullName: 'LÒ VĂN THẮNG', dateOfBirth: '1989-04-17' },
  });
  expectTypeOf(verified.data).toExtend<CitizenVerification | undefined>();
  expectTypeOf(verified.data).exclude<undefined>().toHaveProperty('result').not.toBeAny();
  await gateway.GET('/v1/accounts/links', { params: { query: { portalAccountId: 'portal-acc-1' } } });

  // A call may override either header, typed as the contract types it.
  await gateway.GET('/v1/dossiers/{dossierCode}', {
    params: { path: { dossierCode }, header: { 'X-Purpose': '1.004616.000.00.00.H52' } },
  });
  await gateway.GET('/v1/dossiers/{dossierCode}', {
    params: { path: { dossierCode }, header: accountabilityHeaders({ userId: 'officer-18', purpose: 'XAC_MINH_DANH_TINH' }) },
  });
  await gateway.POST('/v1/accounts/links', {
    params: { header: { 'X-Purpose': 'LIEN_KET_TAI_KHOAN' } },
    body: { portalAccountId: 'portal-acc-1', subject: { type: 'person', idNumber: '014089001234' }, evidence: { fullName: 'Lò Văn Thắng', dateOfBirth: '1989-04-17' } },
  });
  await gateway.GET('/v1/dossiers/{dossierCode}', {
    // @ts-expect-error X-Purpose is a string
    params: { path: { dossierCode }, header: { 'X-Purpose': 42 } },
  });

  // Everything else the contract requires is still required.
  // @ts-expect-error the path parameter is missing
  await gateway.GET('/v1/dossiers/{dossierCode}');
  // @ts-expect-error the body is missing
  await gateway.POST('/v1/citizens/verify', {});
  // @ts-expect-error no such path
  await gateway.GET('/v1/citizens/{idNumber}', { params: { path: { idNumber: '014089001234' } } });
}

export async function clientWithoutAccountability(): Promise<void> {
  const gateway = createGatewayClient(base);
  expectTypeOf(gateway).toEqualTypeOf<GatewayClient>();

  // @ts-expect-error X-User-Id and X-Purpose are required per call
  await gateway.GET('/v1/dossiers/{dossierCode}', { params: { path: { dossierCode } } });
  await gateway.GET('/v1/dossiers/{dossierCode}', {
    params: { path: { dossierCode }, header: accountabilityHeaders({ userId: 'officer-17', purpose: 'XAC_MINH_DANH_TINH' }) },
  });
  // Operations without personal data never needed them.
  await gateway.GET('/v1/enterprises/{enterpriseCode}', { params: { path: { enterpriseCode: '5500123457' } } });
}

export async function partialAccountability(maybeUser: string | undefined): Promise<void> {
  const onlyUser = createGatewayClient({ ...base, userId: 'officer-17' });
  expectTypeOf(onlyUser).toEqualTypeOf<GatewayClient<'X-User-Id'>>();
  // @ts-expect-error X-Purpose is still required per call
  await onlyUser.GET('/v1/dossiers/{dossierCode}', { params: { path: { dossierCode } } });
  await onlyUser.GET('/v1/dossiers/{dossierCode}', { params: { path: { dossierCode }, header: { 'X-Purpose': 'XAC_MINH_DANH_TINH' } } });

  // A user that may be absent supplies nothing as far as the types know.
  const unsure = createGatewayClient({ ...base, userId: maybeUser, purpose: 'XAC_MINH_DANH_TINH' });
  expectTypeOf(unsure).toEqualTypeOf<GatewayClient<'X-Purpose'>>();
  // @ts-expect-error X-User-Id is still required per call
  await unsure.GET('/v1/dossiers/{dossierCode}', { params: { path: { dossierCode } } });
}

// The contract's own types are exported unchanged.
expectTypeOf<paths['/v1/dossiers/{dossierCode}']['get']['parameters']['header']['X-User-Id']>().toEqualTypeOf<string>();
