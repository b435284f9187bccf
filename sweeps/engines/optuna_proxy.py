"""Optuna's gRPC storage proxy in front of a study database.

``sweeps server --optuna-proxy`` runs ``python -m sweeps.engines.optuna_proxy --storage URL
--host HOST --port PORT``. Workers then use ``--storage grpc://HOST:PORT`` and talk to this one
process, which keeps its own small pool of database connections, instead of each worker holding
connections of its own (a few hundred workers would exhaust PostgreSQL's).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import optuna

from sweeps.defaults import PROXY_POOL, PROXY_PORT, UI_HOST
from sweeps.engines.optuna_study import quiet


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the storage until stopped (SIGTERM, or SIGINT)."""
    parser = argparse.ArgumentParser(prog="python -m sweeps.engines.optuna_proxy", description=__doc__.splitlines()[0])
    parser.add_argument("--storage", required=True, help="the study database's URL")
    parser.add_argument("--host", default=UI_HOST)
    parser.add_argument("--port", type=int, default=PROXY_PORT)
    args = parser.parse_args(argv)
    quiet()
    # The database itself, without Optuna's cache in front: that cache can miss a trial whose
    # insert committed late, and the workers decide which grid point runs from what it says.
    # A fixed pool: the database sees this many connections however many workers there are.
    pool = {"pool_size": PROXY_POOL, "max_overflow": 0} if not args.storage.startswith("sqlite") else {}
    storage = optuna.storages.RDBStorage(args.storage, engine_kwargs=pool)
    try:
        optuna.storages.run_grpc_proxy_server(storage, host=args.host, port=args.port)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
