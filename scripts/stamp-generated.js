// Puts a do-not-edit header on a generated file and writes the stamped text to every further
// path given: `node scripts/stamp-generated.js <generated file> [copy...]`.
import { readFileSync, writeFileSync } from 'node:fs';

const [file, ...copies] = process.argv.slice(2);
const text = readFileSync(file, 'utf8');
const header = '// Generated from openapi/gateway.yaml by `npm run generate`. Do not edit.\n';
const stamped = text.startsWith(header) ? text : header + text;
for (const target of [file, ...copies]) writeFileSync(target, stamped);
