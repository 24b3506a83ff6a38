#!/usr/bin/env python3
"""The Ignition gateway script's logic in plain Python 3 (standard library only),
so that it can be run, and tested, outside Ignition against a live collector.

    python3 sessionlens_info.py [--url http://127.0.0.1:8787] [--token T] [billy|myproject|all]

Reads SESSIONLENS_URL and SESSIONLENS_API_TOKEN from the environment too.
"""
import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request


class SessionInfo(dict):
    """A session: a dict whose keys can also be read as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)


def get_session_info(url, token=None, usernameFilter=None, projectFilter=None):
    params = {}
    if usernameFilter:
        params["usernameFilter"] = usernameFilter
    if projectFilter:
        params["projectFilter"] = projectFilter
    query = "?" + urllib.parse.urlencode(params) if params else ""
    request = urllib.request.Request(url.rstrip("/") + "/api/v1/sessions" + query)
    request.add_header("Accept", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return [SessionInfo(session) for session in json.load(response)]
    except urllib.error.HTTPError as error:
        raise IOError("SessionLens answered %d: %s" % (error.code, error.read().decode("utf-8", "replace")))


def count_billys_sessions(url, token):
    # How many sessions does the user "billy" have?
    sessions = get_session_info(url, token, "billy")
    print(len(sessions))
    return sessions


def print_myproject_sessions(url, token):
    # Who is using "MyProject", and for how long?
    sessions = get_session_info(url, token, projectFilter="MyProject")
    for session in sessions:
        print(session.username, session.uptime)
    return sessions


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("SESSIONLENS_URL", "http://127.0.0.1:8787"))
    parser.add_argument("--token", default=os.environ.get("SESSIONLENS_API_TOKEN"))
    parser.add_argument("example", nargs="?", default="all", choices=["billy", "myproject", "all"])
    args = parser.parse_args(argv)
    try:
        if args.example in ("billy", "all"):
            count_billys_sessions(args.url, args.token)
        if args.example in ("myproject", "all"):
            print_myproject_sessions(args.url, args.token)
    except (IOError, OSError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
