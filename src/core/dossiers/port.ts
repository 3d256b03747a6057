import type { components } from '../../generated/gateway.ts';
import type { CallContext } from '../ports.ts';
import type { DossierStatus } from './lifecycle.ts';

export type Dossier = components['schemas']['Dossier'];
export type DossierStatusEvent = components['schemas']['DossierStatusEvent'];
export type DossierProgressEvent = components['schemas']['DossierProgressEvent'];
export type DossierEvent = DossierStatusEvent | DossierProgressEvent;

/** The national portal's dossier services, in the order public integrations call them. */
export const PORTAL_SERVICES = {
  lookup: 'TraCuuHoSo',
  sync: 'DongBoHoSoMC',
  progress: 'CapNhatTienDoHoSoMC',
} as const;
export type PortalService = (typeof PORTAL_SERVICES)[keyof typeof PORTAL_SERVICES];

/**
 * Which change a delivery carries: the gateway's id for it and its place among the dossier's
 * changes (the dossier itself is 1). Sent with every delivery, so that a delivery repeated after
 * a crash is recognisable at the receiving end as the one it already holds.
 */
export interface DeliveryMark {
  id: string;
  sequence: number;
}

/** The dossier as the portal should hold it once a change is applied. */
export interface DossierSnapshot {
  dossier: Dossier;
  status: DossierStatus;
  /** When processing ended (finished, refused, stopped, withdrawn), and when the result was returned. */
  processingEndedAt: string | null;
  returnedAt: string | null;
}

/**
 * What the portal said to a delivery: `duplicate` when it already held this change, null when
 * its answer does not say (the national portal answers a code and a message only).
 */
export interface DeliveryAnswer {
  duplicate: boolean | null;
}

/**
 * Port: the national portal's dossier synchronisation.
 * - `lookup` is TraCuuHoSo: does the portal hold this dossier?
 * - `sync` is DongBoHoSoMC: create (`isUpdating` false) or update the dossier.
 * - `progress` is CapNhatTienDoHoSoMC: one processing step.
 */
export interface DossierPortal {
  lookup(ctx: CallContext, code: string): Promise<boolean>;
  sync(ctx: CallContext, snapshot: DossierSnapshot, options: { isUpdating: boolean; mark: DeliveryMark }): Promise<DeliveryAnswer>;
  progress(ctx: CallContext, step: { code: string; status: DossierStatus; event: DossierProgressEvent }, mark: DeliveryMark): Promise<DeliveryAnswer>;
}
