#!/usr/bin/env node
// The bench's no-op program: does nothing, prints an empty JSON object, exits 0.
process.stdout.write('{}\n');
