#!/usr/bin/env node
// Cross-encoding scenario: A uses the pure JS SDK (JSON envelopes), B the Go core (gob + gzip);
// the fresh A2 that fetches history is the Go core too (on A's platform, so it kicks the JS client).
// Same arguments as js_client.mjs; --kind-a/--kind-b/--kind-a2 override the kinds.
import { main } from './lib/scenario.mjs';

main(process.argv.slice(2), { kindA: 'js', kindB: 'native', kindA2: 'native', platformA: '5', platformB: '3' });
