"""Find or build the base interpreters nogilbench measures with (``python3 -m
nogilbench.host.provision``): ``base`` (what a base interpreter is, how one is verified, the
cache), ``find`` (environment, PATH, cache, uv), ``fetch`` (uv install, CPython source),
``build`` (configure, make, install), ``plan`` (the order of the steps, ``provision()``).

Stdlib only and import-free: it runs before any virtual environment exists, and
``host.interpreters`` imports ``find`` in every benchmark cell.
"""
