"""Friend/group login stubs of part 1, replaced by friend.py and group.py (part 2)."""
