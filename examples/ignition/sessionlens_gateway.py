# SessionLens for Ignition: a gateway script (Jython 2.7) that asks a SessionLens
# collector which sessions of your web apps are running, the way
# system.perspective.getSessionInfo answers for Perspective sessions.
#
# Put it in a project library script (e.g. `sessionlens`) and call
# sessionlens.getSessionInfo(...) from any gateway-scoped script.
#
# Each session is a dictionary with the same keys Perspective uses:
# userAgent, id, username, authorized, project, uptime (ms), clientAddress,
# lastComm (ms), sessionScope, activePages, recentBytesSent, totalBytesSent,
# pageIds. Keys can also be read as attributes (session.username).

COLLECTOR_URL = "http://127.0.0.1:8787"
# The collector's --api-token, if it has one. Keep it out of source control:
# read it from a gateway tag or a file in a real installation.
API_TOKEN = None

_client = None


class SessionInfo(dict):
    """A session: a dict whose keys can also be read as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)


def getSessionInfo(usernameFilter=None, projectFilter=None):
    """Returns the running sessions, filtered like system.perspective.getSessionInfo:
    exact, case-sensitive matches where * matches any run of characters."""
    global _client
    if _client is None:
        _client = system.net.httpClient(timeout=5000)
    params = {}
    if usernameFilter:
        params["usernameFilter"] = usernameFilter
    if projectFilter:
        params["projectFilter"] = projectFilter
    headers = {"Accept": "application/json"}
    if API_TOKEN:
        headers["Authorization"] = "Bearer " + API_TOKEN
    response = _client.get(COLLECTOR_URL + "/api/v1/sessions", params=params, headers=headers)
    if not response.good:
        raise IOError("SessionLens answered %d: %s" % (response.statusCode, response.text))
    return [SessionInfo(session) for session in response.json]


# The two examples of system.perspective.getSessionInfo, against SessionLens.

def countBillysSessions():
    # How many sessions does the user "billy" have?
    sessions = getSessionInfo("billy")
    print len(sessions)
    return len(sessions)


def printMyProjectSessions():
    # Who is using "MyProject", and for how long?
    sessions = getSessionInfo(projectFilter="MyProject")
    for session in sessions:
        print session.username, session.uptime
    return sessions
