"""Serve ClickHouse's HTTP interface from the embedded chdb engine.

Usage: chdb_server.py WORKDIR PORT

chdb runs the real ClickHouse server code in-process. `SYSTEM START LISTEN HTTP`
opens the HTTP interface configured by `config.xml` in the working directory; the
query that follows blocks on a FIFO so the process (and the listener) stays up
until it is killed or the FIFO receives a line.
"""

import os
import sys


def main() -> int:
    workdir, port = sys.argv[1], int(sys.argv[2])
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    with open("config.xml", "w", encoding="utf-8") as f:
        f.write(
            "<clickhouse>\n"
            "  <listen_host>127.0.0.1</listen_host>\n"
            f"  <http_port>{port}</http_port>\n"
            "</clickhouse>\n"
        )
    fifo = os.path.join(workdir, "stop.fifo")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    import chdb  # imported late: loading the engine takes a moment

    chdb._chdb.query(
        f"SYSTEM START LISTEN HTTP; SELECT * FROM file('{fifo}', 'LineAsString')",
        "TabSeparated",
        path=os.path.join(workdir, "data"),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
