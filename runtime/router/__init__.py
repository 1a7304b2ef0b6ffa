"""Data-parallel router: one HTTP front over several ``sglike serve`` workers (issue #16).

``sglike router --worker-urls URL...`` runs it over running workers; ``sglike serve
--dp-size N`` starts N local workers and the router in front of them. Names and behaviour
follow sglang-router (``--policy cache_aware|round_robin|shortest_queue|random``,
``--cache-threshold``, ``--balance-abs-threshold``, ``--balance-rel-threshold``,
``--max-tree-size``). This package imports no torch and no engine module: it only speaks HTTP.
"""
