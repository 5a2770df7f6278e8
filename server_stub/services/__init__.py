"""Service modules: each marks its handlers with :func:`server_stub.context.service` /
:func:`server_stub.context.raw_route`; :mod:`server_stub.registry` lists the modules and collects them."""
