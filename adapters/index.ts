import type { AdapterModule } from './module.ts';
import { businessRegistry } from './business-registry/index.ts';
import { dvcqg } from './dvcqg/index.ts';
import { population } from './population/index.ts';
import { socialInsurance } from './social-insurance/index.ts';
import { tax } from './tax/index.ts';
import { vneid } from './vneid/index.ts';
import type { BusinessRegistry } from '../src/core/enterprises.ts';
import type { PopulationRegistry } from '../src/core/citizens-port.ts';
import type { Adapter } from '../src/core/ports.ts';
import type { NationalSignOn } from '../src/core/national-sign-on-port.ts';
import type { ProcedureCatalogue } from '../src/core/procedures-port.ts';
import type { DossierPortal } from '../src/core/dossiers/port.ts';
import type { SocialInsuranceRegistry } from '../src/core/social-insurance-port.ts';
import type { TaxRegistry } from '../src/core/taxpayers-port.ts';

/** Every national system the gateway connects to. Adding one is one line here. */
export const adapterModules = [businessRegistry, population, tax, socialInsurance, dvcqg, vneid] as const satisfies readonly AdapterModule<unknown>[];

/** The built adapters, by system id, as the composition root hands them to the use cases. */
export interface Adapters {
  'business-registry': Adapter<BusinessRegistry>;
  population: Adapter<PopulationRegistry>;
  tax: Adapter<TaxRegistry>;
  'social-insurance': Adapter<SocialInsuranceRegistry>;
  dvcqg: Adapter<ProcedureCatalogue & DossierPortal>;
  vneid: Adapter<NationalSignOn>;
}
