#!/usr/bin/env node
// Friend scenario (lib/friend_scenario.mjs) with the official Go core on both sides.
// Usage: node native_friend.mjs --api http://127.0.0.1:PORT --ws ws://127.0.0.1:PORT \
//          --user-a A --user-b B [--admin-token T | --secret openIM123] [--work-dir DIR] [--timeout MS]
import { main } from './lib/friend_scenario.mjs';

main(process.argv.slice(2));
