import type { AdapterModule } from './module.ts';
import { businessRegistry } from './business-registry/index.ts';
import type { BusinessRegistry } from '../src/core/enterprises.ts';
import type { Adapter } from '../src/core/ports.ts';

/** Every national system the gateway connects to. Adding one is one line here. */
export const adapterModules = [businessRegistry] as const satisfies readonly AdapterModule<unknown>[];

/** The built adapters, by system id, as the composition root hands them to the use cases. */
export interface Adapters {
  'business-registry': Adapter<BusinessRegistry>;
}
