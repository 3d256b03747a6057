/** Table types for Kysely. One interface per table; migrations in migrations.ts create them. */
export interface GatewayMetaTable {
  key: string;
  value: string;
  updated_at: string;
}

export interface Database {
  gateway_meta: GatewayMetaTable;
}
