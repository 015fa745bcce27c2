#!/usr/bin/env node
// The `mandate` executable (package.json "bin"): registers tsx, then runs cli/mandate.ts.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./mandate.ts');
await main(process.argv);
