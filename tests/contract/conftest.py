"""Fixtures of the contract tests: the simulator driven through the real dataikuapi.

``sim`` (tests/conftest.py) is shared by a module; tests that change state use
``fresh_sim`` for an instance of their own.
"""

import pytest


@pytest.fixture
def connect():
    """connect(sim, login="admin") -> a DSSClient authenticated with the user's personal API key."""
    from dataikuapi import DSSClient

    def make(simulator, login="admin"):
        return DSSClient(simulator.url, simulator.api_key(login))

    return make


@pytest.fixture
def fresh_sim(new_instance, start_sim):
    """fresh_sim(spec=None) -> a started simulator over its own new instance (for tests that change state)."""

    def make(spec=None):
        dip_home, model = new_instance(spec)
        return start_sim(dip_home, model)

    return make


@pytest.fixture
def requires(client_version):
    """requires(obj, "method"): skip the test when this dataiku-api-client has no such method."""

    def check(obj, name):
        if not hasattr(obj, name):
            owner = obj.__name__ if isinstance(obj, type) else type(obj).__name__
            pytest.skip("%s.%s does not exist in dataiku-api-client %s" % (owner, name, client_version))

    return check


@pytest.fixture
def shape():
    """shape(obj, {"field": type or (types)}, where=""): each field is present with one of the given types.

    ``bool`` is not accepted where ``int`` is asked for (JSON true is not a timestamp).
    """

    def check(obj, fields, where=""):
        assert isinstance(obj, dict), "%s: expected a JSON object, got %r" % (where or "value", obj)
        for name, types in fields.items():
            assert name in obj, "%s: field %r missing in %s" % (where or "object", name, sorted(obj))
            value = obj[name]
            types = types if isinstance(types, tuple) else (types,)
            ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
            assert ok, "%s: field %r is %r (%s), expected %s" % (
                where or "object", name, value, type(value).__name__, "/".join(t.__name__ for t in types))

    return check
