#!/usr/bin/env node
// Runs the interop scenario (lib/scenario.mjs) with the official js client on both sides.
// Usage: node js_client.mjs --api http://127.0.0.1:PORT --ws ws://127.0.0.1:PORT \
//          --user-a ID --user-b ID [--admin-token T | --secret openIM123] [--work-dir DIR] [--timeout MS]
import { main } from './lib/scenario.mjs';

main(process.argv.slice(2), { kind: 'js' });
