#!/usr/bin/env node
// Conversation scenario (lib/conversation_scenario.mjs) with the official Go core on both sides.
// Usage: node native_conversation.mjs --api http://127.0.0.1:PORT --ws ws://127.0.0.1:PORT \
//          --user-a USER --user-b PEER [--admin-token T | --secret openIM123] [--work-dir DIR] [--timeout MS]
import { main } from './lib/conversation_scenario.mjs';

main(process.argv.slice(2));
