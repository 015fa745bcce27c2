#!/usr/bin/env node
// The bench's no-op program: does nothing, prints an empty JSON object, exits 0.
import { stdout } from 'node:process';

stdout.write('{}\n');
