"""``contacts-sandbox``: serve the sandbox until interrupted, after printing the connection to use."""

from __future__ import annotations

import json
import signal
import sys

from .options import ADMIN_TOKEN_ENV, parse_args
from .server import CONN_ENV_NAME, _url, bind, build_sandbox, connection_for, make_server


def main(argv: list[str] | None = None) -> int:
    """
    Run the command.

    :param argv: its flags; ``None`` reads ``sys.argv``.
    """
    options = parse_args(argv)
    sb = build_sandbox(options)
    sock = bind(options.host, options.port)
    base_url = _url(options.host, sock.getsockname()[1], tls=bool(options.tls_cert))
    public_key = sb.webhooks.public_key if sb.webhooks else None
    connection = connection_for(
        options, base_url, sb.auth.mint_refresh_token(), webhook_public_key=public_key
    )
    # The admin token guards /_sandbox/* (they hand out tokens); the handle reads it from this line.
    print(f"{ADMIN_TOKEN_ENV}={options.admin_token}", flush=True)
    print(f"{CONN_ENV_NAME}={json.dumps(connection)}", flush=True)
    print(
        f"# contacts sandbox on {base_url} ({sb.store.count('c.location_id = ?', [options.location_id])} contacts in {options.location_id}); Ctrl+C stops it",
        file=sys.stderr,
        flush=True,
    )
    server = make_server(sb)
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
