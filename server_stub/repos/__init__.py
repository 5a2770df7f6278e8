"""Typed repositories: the SQL of each table family, mixed into :class:`server_stub.storage.SqliteStorage`
(``core.storage.<method>``). See the list in :mod:`server_stub.storage`."""
