#!/usr/bin/env node
// Group scenario (lib/group_scenario.mjs) with the official Go core on both sides.
// Usage: node native_group.mjs --api http://127.0.0.1:PORT --ws ws://127.0.0.1:PORT \
//          --user-a OWNER --user-b MEMBER [--admin-token T | --secret openIM123] [--work-dir DIR] [--timeout MS]
import { main } from './lib/group_scenario.mjs';

main(process.argv.slice(2));
