"""Pure protocol layer (no I/O): messages, codecs, constants, route table."""
