from hestia.cli import main

main()
