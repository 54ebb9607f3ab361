"""Routing and request plumbing shared by the route modules (werkzeug routing)."""

import json

from werkzeug.routing import BaseConverter, Map, Rule

from . import guesses


class HTTPError(Exception):
    def __init__(self, status, message, error_type=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or guesses.ERROR_TYPES.get(status, guesses.ERROR_TYPES[500])


class Raw:
    """A non-JSON response body (text logs, macro results)."""

    def __init__(self, body, content_type="text/plain; charset=utf-8"):
        self.body = body if isinstance(body, bytes) else body.encode("utf-8")
        self.content_type = content_type


class Call:
    """One authenticated request, as handlers see it."""

    def __init__(self, sim, request, login):
        self.sim = sim
        self.state = sim.state
        self.request = request
        self.login = login
        self.is_admin = sim.state.is_admin(login)
        self._body = None

    @property
    def args(self):
        return self.request.args

    def arg_bool(self, name, default=False):
        value = self.request.args.get(name)
        if value is None:
            return default
        return value.lower() == "true"  # Java's Boolean.parseBoolean

    def arg_int(self, name, default):
        value = self.request.args.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise HTTPError(400, "Invalid value for %s: %r" % (name, value))

    @property
    def json(self):
        # The client sends json.dumps output without a Content-Type: parse whatever comes.
        if self._body is None:
            data = self.request.get_data()
            if not data:
                return None
            try:
                self._body = json.loads(data)
            except ValueError:
                raise HTTPError(400, "Request body is not valid JSON")
        return self._body

    def require_admin(self):
        if not self.is_admin:
            raise HTTPError(403, "Action forbidden, you are not admin")

    def require_project(self, key):
        self.state.project(key)  # 404 when missing
        if not self.state.can_read_project(self.login, key):
            raise HTTPError(403, "You may not read project %s" % key)


class Router:
    def __init__(self):
        self.rules = []
        self.handlers = {}

    def route(self, method, path, admin=False, since=None, locked=True):
        """Register ``fn(call, **url_args)`` for METHOD on /dip/publicapi + path, exactly.

        ``admin``: 403 for non-administrators. ``since``: a key of
        guesses.ENDPOINT_SINCE (404 on an older simulated DSS). ``locked``:
        run under the state lock (off for handlers that call back into the
        simulator, such as macro runs).
        """

        def deco(fn):
            endpoint = "%s %s" % (method, path)
            if endpoint in self.handlers:
                raise ValueError("route registered twice: " + endpoint)
            self.rules.append(Rule(path, endpoint=endpoint, methods=[method]))
            self.handlers[endpoint] = (fn, admin, since, locked)
            return fn

        return deco

    def build(self):
        # Unbound copies: a werkzeug Rule binds to one Map, and every simulator builds its own.
        return Map([r.empty() for r in self.rules], strict_slashes=True, merge_slashes=False,
                   converters={"filepath": FilePathConverter})


class FilePathConverter(BaseConverter):
    """A path inside a managed folder, leading slash included: the client sends
    ``.../contents//file.csv`` for the documented ``put_file("/file.csv", ...)``."""

    regex = ".+"
    part_isolating = False


router = Router()
route = router.route
