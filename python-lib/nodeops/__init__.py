"""node-ops: production operations for a Dataiku DSS node.

Everything the plugin does lives in this package and is importable without the
``dataiku`` runtime package; only :mod:`nodeops.dss` imports ``dataiku``.
"""

__version__ = "0.1.0"
