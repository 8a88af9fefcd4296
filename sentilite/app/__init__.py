"""The top floor: the ``sentilite`` command table, ``quickstart`` and ``info``, wiring the parts."""
