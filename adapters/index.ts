import type { AdapterFactory, AdapterModule } from './module.ts';
import { businessRegistry } from './business-registry/index.ts';
import { civilStatus } from './civil-status/index.ts';
import { dvcqg } from './dvcqg/index.ts';
import { population } from './population/index.ts';
import { socialInsurance } from './social-insurance/index.ts';
import { tax } from './tax/index.ts';
import { vneid } from './vneid/index.ts';
import type { Adapter } from '../src/core/ports.ts';

/**
 * Every national system the gateway connects to. Adding one is one line here: its id, its
 * `upstreams.<id>` section, sandbox port, sample certificates, fault table, adapter and routes all
 * come from its module. The modules are light (their adapters and simulators load on demand),
 * because the configuration schema reads this list.
 */
const registry = [businessRegistry, population, tax, socialInsurance, dvcqg, vneid, civilStatus] as const;

/** A registered module, as its own index.ts declares it (each checks itself against AdapterModule). */
type Registered = (typeof registry)[number];

/** A national system's id, as its module declares it. */
export type SystemId = Registered['id'];

/** A registered module, as code that loops over the registry sees it. */
export type RegisteredModule = AdapterModule<unknown, SystemId>;

export const adapterModules: readonly RegisteredModule[] = registry;

/** Every system id, in the order of the registry. */
export const SYSTEM_IDS = adapterModules.map((module) => module.id) as [SystemId, ...SystemId[]];

/** The operations a module's adapter offers. */
type OpsOf<M> = M extends { adapter(): Promise<(...args: never[]) => Adapter<infer Ops>> } ? Ops : never;

/** The built adapters, by system id, as the composition root hands them to the use cases. */
export type Adapters = { [M in Registered as M['id']]: Adapter<OpsOf<M>> };

/**
 * Builds the adapter of every registered system in `modules` with `build`, in the registry's order
 * (the factories load first, together), and returns them by id. The map's type follows from the
 * registry: a module's entry is what its own factory returns. A module left out of `modules` (an
 * optional system not connected) has no entry; only the module's own routes may meet that.
 */
export async function createAdapters(modules: readonly RegisteredModule[], build: (module: RegisteredModule, factory: AdapterFactory<unknown>) => Adapter<unknown>): Promise<Adapters> {
  const factories = await Promise.all(modules.map((module) => module.adapter()));
  // Built one after the other: a failing one stops the rest, and what was built is undone in order.
  const entries = modules.map((module, i): [SystemId, Adapter<unknown>] => [module.id, build(module, factories[i]!)]);
  // Each entry was built by its own module's factory above, under the registry's keys.
  return Object.fromEntries(entries) as Adapters;
}
