"""`python -m hestia` and the `hestia` command."""

import gc


def run() -> None:
    """Load the CLI with the garbage collector off, then run it.

    Loading Hestia creates some hundred thousand objects that live as long as the process;
    the collector would walk them over and over while they are made (about a sixth of the
    start-up), and none of them is garbage.
    """
    gc.disable()
    try:
        from hestia.cli import main
    finally:
        gc.enable()
    main()


if __name__ == "__main__":
    run()
