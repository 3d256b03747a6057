// Puts a do-not-edit header on a generated file.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2];
const text = readFileSync(file, 'utf8');
const header = '// Generated from openapi/gateway.yaml by `npm run generate`. Do not edit.\n';
writeFileSync(file, text.startsWith(header) ? text : header + text);
