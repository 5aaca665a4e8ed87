"""The simulated government web: portals generated from (registry, seed), a truth table, and a proxy.

Modules: ``content`` (word pools, formats), ``model`` (site data model), ``templates``
(TRS / Hanweb / UCAP families), ``features`` (one unit per indicator leaf),
``generate`` (assembly, truth table), ``server`` (asyncio HTTP/HTTPS proxy,
``serve_forever``, ``SimWebProcess``), ``check`` (offline link-depth check),
``bench`` (throughput measurement).
"""
