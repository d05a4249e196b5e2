"""python3 -m fakemeta --port N [--portfile F] [--host 127.0.0.1] [--sandbox] [--verbose]"""

import argparse
import os
import signal
import sys
import threading

from .server import make_server


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="fakemeta", description="Fake Meta Graph API server "
                                 "(Facebook Login, Instagram Login, content publishing).")
    ap.add_argument("--port", type=int, default=0, help="TCP port, 0 = pick a free one")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--portfile", help="write the port number here once listening")
    ap.add_argument("--sandbox", action="store_true",
                    help="interactive defaults for `make run` (consent pages, 3 Pages)")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args(argv)

    srv = make_server(args.host, args.port, sandbox=args.sandbox, verbose=args.verbose)
    host, port = srv.server_address[:2]
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    if args.portfile:
        tmp = args.portfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.portfile)
    print("fakemeta listening on http://%s:%d%s" % (host, port,
                                                   " (sandbox)" if args.sandbox else ""),
          flush=True)
    while not stop.wait(0.1):
        pass
    srv.shutdown()
    srv.server_close()
    print("fakemeta stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
