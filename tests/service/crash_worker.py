"""Fork server for the crash test: import trimtab once, then fork one service process per request.

stdin lines: `run` -> fork a child running `Runner.run_forever()` on the config; prints the child's pid.
             `reap PID` -> wait for a killed child; prints its wait status. EOF -> exit.
Each child is a real process: the test kills it with SIGKILL at random points of execution.
"""

from __future__ import annotations

import os
import signal
import sys


def child(config: str) -> None:
    from trimtab.service.bootstrap import build_services
    from trimtab.service.runner import Runner
    from trimtab.service.settings import Tokens, load_settings

    services = build_services(load_settings(config), Tokens())
    signal.signal(signal.SIGTERM, lambda *_: (services.stop.set(), services.wake.set()))
    Runner(services).run_forever()
    services.close()


def main() -> None:
    config = sys.argv[1]
    from trimtab.adapters import ccxt_venue  # noqa: F401
    from trimtab.adapters.bundled import bundled_daily
    from trimtab.service import bootstrap, runner  # noqa: F401  (import everything before forking)

    bundled_daily(["BTC"])  # warm the price cache so children start fast
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] == "run":
            pid = os.fork()
            if pid == 0:
                sys.stdin.close()
                code = 0
                try:
                    child(config)
                except BaseException:  # noqa: BLE001
                    import traceback

                    traceback.print_exc()
                    code = 1
                os._exit(code)
            print(pid, flush=True)
        elif cmd and cmd[0] == "reap":
            _, status = os.waitpid(int(cmd[1]), 0)
            print(status, flush=True)


if __name__ == "__main__":
    main()
