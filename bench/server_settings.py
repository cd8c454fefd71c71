"""The production settings, plus the benchmark's query counter (bench/querycount.py)."""

from helpdesk.settings import *  # noqa: F403
from helpdesk.settings import MIDDLEWARE

MIDDLEWARE = ["bench.querycount.QueryCountMiddleware", *MIDDLEWARE]
