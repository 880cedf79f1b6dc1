"""The fake OpenAI-compatible provider in its own process, quiet, for the benchmarks.

The provider runs apart from the driver so neither steals the other's interpreter; its speed
is set per run by the `#fake {"tokens": N, "delay": S}` directive in the message sent.
"""

from __future__ import annotations

import argparse

import uvicorn

from tests.fake_provider import ProviderState, make_config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.Server(make_config(ProviderState(), "127.0.0.1", args.port, quiet=True)).run()


if __name__ == "__main__":
    main()
